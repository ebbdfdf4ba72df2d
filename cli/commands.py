"""The commands. Each parses its options and calls the library."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import _friendly_errors, app, log

PREDICT_CHUNK = 2048  # documents read, classified and printed at a time: bounds memory


class Arch(str, Enum):
    lstm = "lstm"
    bilstm = "bilstm"


class OutputFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"


DataOptions = {
    "text_column": typer.Option(help="CSV/TSV/JSONL field holding the text."),
    "label_column": typer.Option(help="CSV/TSV/JSONL field holding the label."),
}


@app.command()
@_friendly_errors
def train(
    data: Annotated[Path, typer.Argument(help="aclImdb folder or .tar.gz, CSV/TSV, JSONL, or fastText lines.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Checkpoint to write.")] = Path("model.pt"),
    arch: Annotated[Arch, typer.Option(help="lstm (Keras 4.1) or bilstm (4.2).")] = Arch.lstm,
    vocab_size: Annotated[int, typer.Option(min=3, help="Embedding rows: padding, unknown, and words.")] = 3800,
    max_len: Annotated[int, typer.Option(min=1, help="Tokens kept per text (its last ones).")] = 380,
    embed_dim: Annotated[int, typer.Option(min=1)] = 32,
    hidden: Annotated[int, typer.Option(min=1, help="LSTM units per direction.")] = 32,
    dense: Annotated[int, typer.Option(min=0, help="lstm head's hidden Dense width (0: none).")] = 256,
    dropout: Annotated[Optional[float], typer.Option(min=0.0, max=0.95, help="Default: 0.2 lstm, 0.5 bilstm.")] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 20,
    batch_size: Annotated[int, typer.Option(min=1)] = 64,
    val_split: Annotated[float, typer.Option(min=0.0, max=0.9)] = 0.1,
    patience: Annotated[int, typer.Option(min=1, help="Early stopping on validation accuracy.")] = 5,
    lr: Annotated[float, typer.Option(min=0.0, help="Adam learning rate.")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Same seed, same data, same CPU: same model.")] = 0,
    device: Annotated[str, typer.Option(help="cpu, or cuda where available.")] = "cpu",
    threads: Annotated[int, typer.Option(min=1, help="CPU threads for PyTorch.")] = 1,
    limit: Annotated[Optional[int], typer.Option(min=10, help="Use a random subset of this many train (and test) texts.")] = None,
    test: Annotated[Optional[Path], typer.Option(help="Labeled test data, if DATA has no test split.")] = None,
    text_column: Annotated[str, DataOptions["text_column"]] = "text",
    label_column: Annotated[str, DataOptions["label_column"]] = "label",
    skip_bad_rows: Annotated[bool, typer.Option(help="Skip malformed rows (and say how many) instead of failing.")] = False,
    resume: Annotated[bool, typer.Option(help="Continue the interrupted run that wrote --output.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar per epoch.")] = True,
) -> None:
    """Train a classifier on labeled texts and print its test loss and accuracy."""
    from edgelstm.config import ModelConfig
    from edgelstm.data import load_dataset
    from edgelstm.train import DEFAULT_DROPOUT, TrainOptions
    from edgelstm.train import train as run_training

    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise typer.BadParameter("CUDA is not available on this machine", param_hint="--device")
    dataset = load_dataset(data, test, text_column=text_column, label_column=label_column,
                           skip_bad_rows=skip_bad_rows)
    config = ModelConfig(
        arch=arch.value, vocab_size=vocab_size, max_len=max_len, embed_dim=embed_dim, hidden=hidden,
        dense=dense, dropout=DEFAULT_DROPOUT[arch.value] if dropout is None else dropout,
    )
    options = TrainOptions(epochs=epochs, batch_size=batch_size, val_split=val_split, patience=patience,
                           learning_rate=lr, seed=seed, device=device, limit=limit,
                           threads=threads)
    model, _ = run_training(dataset, config, options, output, resume=resume, show_progress=progress)
    metrics = model.config.metrics
    if "test_accuracy" in metrics:
        typer.echo(f"test loss {metrics['test_loss']:.4f}  test accuracy {metrics['test_accuracy']:.4f}")
    log.info("wrote %s (best epoch %d of %d)", output, metrics["best_epoch"], metrics["epochs_run"])


@app.command()
@_friendly_errors
def export(
    checkpoint: Annotated[Path, typer.Argument(help="A model.pt written by edgelstm train.")],
    outdir: Annotated[Path, typer.Option("--output", "-o", help="Folder for model.onnx.")] = Path("."),
) -> None:
    """Export a checkpoint to OUTDIR/model.onnx, validated against PyTorch before it is written."""
    from edgelstm.export import export_checkpoint

    typer.echo(export_checkpoint(checkpoint, outdir))


@app.command()
@_friendly_errors
def evaluate(
    model: Annotated[Path, typer.Argument(help="A .onnx export or a .pt checkpoint.")],
    data: Annotated[Path, typer.Argument(help="Labeled data (for aclImdb: its test split).")],
    text_column: Annotated[str, DataOptions["text_column"]] = "text",
    label_column: Annotated[str, DataOptions["label_column"]] = "label",
    skip_bad_rows: Annotated[bool, typer.Option(help="Skip malformed rows instead of failing.")] = False,
) -> None:
    """Print the accuracy and loss of a model on labeled data."""
    from edgelstm import Classifier
    from edgelstm.data import load_labeled

    classifier = Classifier.load(model)
    dataset = load_labeled(data, text_column=text_column, label_column=label_column, skip_bad_rows=skip_bad_rows)
    split = dataset.test if dataset.test is not None else dataset.train
    result = classifier.evaluate(split.texts, split.labels)
    typer.echo(f"accuracy {result['accuracy']:.4f}  loss {result['loss']:.4f}  examples {result['examples']}")


def _format(prediction, output_format: OutputFormat) -> str:
    if output_format is OutputFormat.jsonl:
        return json.dumps({"label": prediction.label, "probability": prediction.probability,
                           "probabilities": prediction.probabilities}, ensure_ascii=False)
    return f"{prediction.label}\t{prediction.probability:.6f}"


@app.command()
@_friendly_errors
def predict(
    files: Annotated[list[str], typer.Argument(help="Input files ('-' for standard input).")],
    model: Annotated[Path, typer.Option("--model", "-m", help="A .onnx export or a .pt checkpoint.")],
    output_format: Annotated[OutputFormat, typer.Option("--format", help="text: label TAB probability.")] = OutputFormat.text,
    per_file: Annotated[bool, typer.Option(help="One document per file instead of one per line.")] = False,
    force: Annotated[bool, typer.Option(help="Read files that look binary.")] = False,
    threads: Annotated[Optional[int], typer.Option(min=1, help="Inference threads (default: all cores).")] = None,
) -> None:
    """Classify documents: one result per document, in input order, on stdout."""
    from edgelstm import Classifier
    from edgelstm.documents import read_documents

    classifier = Classifier.load(model, threads=threads)
    failures = 0
    pending = []

    def flush() -> None:
        for prediction in classifier.predict([d.text for d in pending]):
            sys.stdout.write(_format(prediction, output_format) + "\n")
        sys.stdout.flush()
        pending.clear()

    for item in read_documents(files, per_file=per_file, force=force):
        if isinstance(item, Exception):
            flush()  # what came before keeps its place
            failures += 1
            typer.echo(f"edgelstm: error: {item}", err=True)
            continue
        pending.append(item)
        if len(pending) >= PREDICT_CHUNK:
            flush()
    flush()
    if failures:
        raise typer.Exit(4)
