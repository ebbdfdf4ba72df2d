"""``edgelstm score``: a dataset scored on a Ray cluster (the ``ray`` extra); one library call.

Kept apart from ``commands.py``: only this command imports ``edgelstm.ray``, and that module
loads Ray only when it runs.
"""

# No ``from __future__ import annotations`` here: typer reads each command's annotations at every
# start, and strings it would compile and evaluate twice (inspect.signature, get_type_hints).

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgelstm.ray import DEFAULT_BATCH_SIZE, START_TIMEOUT_S  # plain constants: loads no Ray

from . import _friendly_errors, app

__all__ = ["InputFormat", "ScoreFormat", "score"]


class ScoreFormat(str, Enum):
    parquet = "parquet"
    jsonl = "jsonl"


class InputFormat(str, Enum):
    auto = "auto"
    text = "text"
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


@app.command()
@_friendly_errors
def score(
    inputs: Annotated[list[str], typer.Argument(metavar="INPUT...", help="Files or folders (local, or URIs Ray reads such as s3://): text (one document per line), .jsonl, .csv or .parquet with a text column.")],
    output: Annotated[str, typer.Option("--output", "-o", help="A new folder for the result shards: every input row (its columns kept; text lines as source, line, text) with label, probability and probability_<label>.")],
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="A .onnx model; its bytes travel to the workers [default: $EDGELSTM_MODEL, else the shipped model].")] = None,
    output_format: Annotated[ScoreFormat, typer.Option("--format", help="Shards to write.")] = ScoreFormat.parquet,
    input_format: Annotated[InputFormat, typer.Option(help="auto: by file suffix (.jsonl/.json/.ndjson, .csv, .parquet; anything else is text).")] = InputFormat.auto,
    text_column: Annotated[str, typer.Option(help="The column holding the text (JSONL, CSV, Parquet).")] = "text",
    prefix: Annotated[str, typer.Option(help="Put before the result columns' names (when the input has a 'label' column already).")] = "",
    address: Annotated[Optional[str], typer.Option("--ray", metavar="ADDRESS", help="The Ray cluster to join ('auto': the one this machine is part of) [default: start a local one].")] = None,
    actors: Annotated[Optional[int], typer.Option(min=1, help="Actors, each holding the model [default: the cluster's CPUs / threads, less one CPU in 8 left to reading and writing].")] = None,
    threads: Annotated[int, typer.Option(min=1, help="onnxruntime threads (and CPUs) per actor.")] = 1,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per actor call.")] = DEFAULT_BATCH_SIZE,
    start_timeout: Annotated[int, typer.Option(min=1, help="Seconds the actors may take to start before the job fails.")] = START_TIMEOUT_S,
) -> None:
    """Score a dataset on a Ray cluster and write Parquet (or JSONL) shards; prints their paths."""
    from edgelstm.ray import score as run_score

    result = run_score(inputs, output, output_format=output_format.value,
                       input_format=None if input_format is InputFormat.auto else input_format.value,
                       address=address, model=model, text_column=text_column, prefix=prefix, actors=actors,
                       threads=threads, batch_size=batch_size, start_timeout_s=start_timeout)
    for path in result.files:
        typer.echo(path)
