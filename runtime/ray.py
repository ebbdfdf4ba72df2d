"""Scoring a Ray Dataset on a cluster: ``edgelstm.ray.predict(dataset)`` (the ``ray`` extra).

Each actor of a Ray Data actor pool holds one ``Classifier``, built from the model's bytes,
which travel with the job (``ray.put``): a model path valid on the driver need not exist on
the workers. Answers are ``Classifier.predict``'s, row for row. Importing this module loads
no Ray; ``predict`` and ``score`` do. The pitfalls each default avoids:

- an actor pool that takes every CPU leaves none for the read and write tasks, and the job
  hangs (ray#44687): actors get at most the CPUs less one in ``READ_WRITE_SHARE`` (at least one);
- onnxruntime starts about one thread per core in every session: N actors on N cores would
  oversubscribe them, so each actor runs one thread (``threads``) and reserves that many CPUs;
- Ray Data restarts a dead actor forever by default, which can hang a job (ray#62746): actors
  are restarted and their tasks retried ``MAX_RESTARTS`` times, then the job fails;
- an actor pool the cluster cannot place waits forever by default: ``start_timeout_s``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .classifier import SHIPPED_DIR, SHIPPED_MODEL, Classifier, default_model_path, shipped_manifest
from .documents import split_lines
from .errors import ClusterError, DataError, EdgelstmError, InputError, MissingExtraError, ModelError

if TYPE_CHECKING:
    import pyarrow as pa
    import ray.data

__all__ = [
    "DEFAULT_BATCH_SIZE", "FORMATS", "MAX_RESTARTS", "READ_WRITE_SHARE", "START_TIMEOUT_S", "ModelBytes",
    "ScoreResult", "model_bytes", "output_columns", "plan_actors", "predict", "read_inputs", "require_extra", "score",
]

log = logging.getLogger(__name__)

EXTRA_HINT = "scoring on Ray needs the ray extra: pip install 'edgelstm[ray]'"
DEFAULT_BATCH_SIZE = 1024  # rows per actor call: long enough to amortize Ray's per-batch cost
READ_WRITE_SHARE = 8  # one CPU in 8 (at least 1) is never given to actors: reads and writes run there
MAX_RESTARTS = 3  # per actor, and retries per task; then the job fails instead of hanging (ray#62746)
START_TIMEOUT_S = 300  # the actor pool must be up by then, else ClusterError (Ray's default: wait forever)
FORMATS = ("text", "jsonl", "csv", "parquet")  # what score() reads; it writes parquet or jsonl
_SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
_TEXT_TYPES = ("string", "large_string", "string_view")


def require_extra() -> None:
    """MissingExtraError (exit 8) unless Ray Data can be imported."""
    try:
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(f"{exc.name or 'ray'} is not installed; {EXTRA_HINT}") from exc


@dataclass(frozen=True)
class ModelBytes:
    """A model as it travels to the workers: its bytes, their sha256, and a name for errors."""

    data: bytes
    sha256: str
    source: str


def model_bytes(model: str | os.PathLike[str] | bytes | None = None) -> ModelBytes:
    """The bytes of ``model`` (a .onnx path or its bytes; None: ``Classifier.default()``'s model,
    its checksum checked), loaded once here so that a bad model fails before any worker starts."""
    if model is None:
        path = default_model_path()
        data = _read_model(path)
        sha256 = hashlib.sha256(data).hexdigest()
        if path == SHIPPED_DIR / SHIPPED_MODEL and sha256 != shipped_manifest()["sha256"]:
            raise ModelError(f"{path}: checksum differs from the recorded one; reinstall edgelstm")
        source = str(path)
    elif isinstance(model, (bytes, bytearray, memoryview)):
        data, source = bytes(model), "<bytes>"
        sha256 = hashlib.sha256(data).hexdigest()
    else:
        path = Path(model)
        if path.suffix == ".pt":
            raise ModelError(f"{path}: Ray scoring runs .onnx models; export the checkpoint first (edgelstm export)")
        data, source = _read_model(path), str(path)
        sha256 = hashlib.sha256(data).hexdigest()
    Classifier.from_bytes(data, source=source)  # ModelError now, on the driver
    return ModelBytes(data, sha256, source)


def _read_model(path: Path) -> bytes:
    from .classifier import _check_model_file

    _check_model_file(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def output_columns(labels: Sequence[str], prefix: str = "") -> list[str]:
    """The columns ``predict`` appends: label, probability (of that label), one per label."""
    return [f"{prefix}label", f"{prefix}probability", *(f"{prefix}probability_{label}" for label in labels)]


def _check_columns(names: Sequence[str], types: Sequence[str] | None, text_column: str, added: Sequence[str],
                   where: str) -> None:
    if text_column not in names:
        raise DataError(f"{where}: no column {text_column!r} (columns: {', '.join(names) or 'none'}); "
                        "name the text column (--text-column)")
    if types is not None:
        kind = types[list(names).index(text_column)]
        if kind not in _TEXT_TYPES:
            raise DataError(f"{where}: column {text_column!r} holds {kind} values, not text")
    taken = sorted(set(added) & set(names))
    if taken:
        raise DataError(f"{where}: the input already has column(s) {', '.join(taken)}, which scoring adds; "
                        "choose a prefix for the result columns (--prefix)")


class _Scorer:
    """One actor's classifier: built once from the model's bytes (checked against their sha256),
    then called with one pyarrow batch at a time."""

    def __init__(self, model: Any, sha256: str, source: str, text_column: str, prefix: str, threads: int) -> None:
        import ray

        data = ray.get(model) if isinstance(model, ray.ObjectRef) else model
        got = hashlib.sha256(data).hexdigest()
        if got != sha256:
            raise ModelError(f"{source}: the model reached this worker damaged (sha256 {got[:12]}, not {sha256[:12]})")
        self.classifier = Classifier.from_bytes(data, threads=threads, source=source)
        self.text_column = text_column
        self.columns = output_columns(self.classifier.labels, prefix)

    def __call__(self, batch: pa.Table) -> pa.Table:
        import pyarrow as pa

        _check_columns(batch.column_names, [str(t) for t in batch.schema.types], self.text_column,
                       self.columns, "input")
        column = batch.column(self.text_column)
        if column.null_count:
            first = column.is_null().to_pylist().index(True)
            row = {k: v for k, v in batch.slice(first, 1).to_pylist()[0].items() if k != self.text_column}
            raise DataError(f"input: {column.null_count} row(s) have no {self.text_column!r} (null), "
                            f"the first with {str(row)[:200]}")
        texts = column.to_pylist()
        probabilities = self.classifier.predict_proba(texts) if texts else \
            np.zeros((0, len(self.classifier.labels)), np.float32)
        best = probabilities.argmax(axis=1)  # as Classifier.predict picks each row's label
        labels = np.asarray(self.classifier.labels, dtype=object)[best]
        values = [pa.array(labels.tolist(), pa.string()),
                  pa.array(probabilities[np.arange(len(best)), best], pa.float32()),
                  *(pa.array(probabilities[:, i], pa.float32()) for i in range(probabilities.shape[1]))]
        for name, value in zip(self.columns, values):
            batch = batch.append_column(name, value)
        return batch


def plan_actors(cluster_cpus: float, threads: int = 1, actors: int | None = None) -> int:
    """How many actors of ``threads`` CPUs a cluster of ``cluster_cpus`` CPUs runs, leaving one
    CPU in ``READ_WRITE_SHARE`` (at least one) to the reads and writes; ClusterError if ``actors``
    does not fit or none does."""
    reserved = max(1, int(cluster_cpus) // READ_WRITE_SHARE)
    most = int((cluster_cpus - reserved) // threads)
    if most < 1:
        raise ClusterError(
            f"the Ray cluster has {cluster_cpus:g} CPU(s): an actor of {threads} thread(s) plus {reserved} CPU "
            "for reading and writing does not fit (fewer --threads, or a larger cluster)")
    if actors is not None and actors > most:
        raise ClusterError(
            f"{actors} actors of {threads} CPU(s) leave no CPU for reading and writing on this cluster of "
            f"{cluster_cpus:g} CPUs (the job would hang, ray#44687); at most {most}")
    return actors if actors is not None else most


def _cluster_cpus() -> float:
    import ray

    cpus: float = ray.cluster_resources().get("CPU", 0.0)  # type: ignore[no-untyped-call]
    return cpus


def predict(
    dataset: ray.data.Dataset,
    *,
    model: str | os.PathLike[str] | bytes | ModelBytes | None = None,
    text_column: str = "text",
    prefix: str = "",
    actors: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    threads: int = 1,
    start_timeout_s: int = START_TIMEOUT_S,
) -> ray.data.Dataset:
    """``dataset`` with the model's answer appended to every row: ``label``, ``probability`` (of
    that label) and ``probability_<label>`` for each label (float32, as the model computes them;
    names after ``prefix``); every other column is kept. Lazy, as Ray Datasets are.

    ``model``: a .onnx path (read here: the workers get its bytes), its bytes, or None for
    ``Classifier.default()``'s. ``actors``: a fixed pool, by default as many as ``plan_actors``
    allows on the connected cluster (``ray.init()`` first, or a local one is started).
    """
    require_extra()
    import ray
    from ray.data import ActorPoolStrategy

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, not {threads!r}")
    if actors is not None and (isinstance(actors, bool) or not isinstance(actors, int) or actors < 1):
        raise ValueError(f"actors must be a positive integer, not {actors!r}")
    payload = model if isinstance(model, ModelBytes) else model_bytes(model)
    labels = Classifier.from_bytes(payload.data, source=payload.source).labels
    added = output_columns(labels, prefix)
    schema = dataset.schema(fetch_if_missing=False)
    if schema is not None:
        _check_columns(schema.names, [str(t) for t in schema.types], text_column, added, "input")
    if not ray.is_initialized():
        ray.init()
    size = plan_actors(_cluster_cpus(), threads, actors)
    log.info("scoring with %d actor(s) of %d thread(s), batches of %d rows", size, threads, batch_size)
    with warnings.catch_warnings():
        # Ray 2.60 deprecates passing actor options as keyword arguments but has no named
        # parameter for max_restarts / max_task_retries yet; its own default (-1: forever) can hang.
        warnings.filterwarnings("ignore", "`ray_remote_args` is deprecated", DeprecationWarning)
        scored = _map(dataset, payload, ray.put(payload.data), text_column, prefix, threads, batch_size,
                      ActorPoolStrategy(size=size))
    # the pool must be up in time, or the job fails (Ray's default waits forever)
    scored.context.wait_for_min_actors_s = start_timeout_s
    return scored


def _map(dataset: ray.data.Dataset, payload: ModelBytes, model: Any, text_column: str, prefix: str, threads: int,
         batch_size: int, compute: Any) -> ray.data.Dataset:
    return dataset.map_batches(
        _Scorer,
        fn_constructor_kwargs={"model": model, "sha256": payload.sha256, "source": payload.source,
                               "text_column": text_column, "prefix": prefix, "threads": threads},
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=compute,
        num_cpus=threads,  # the CPUs its onnxruntime threads use: Ray places no more actors than fit
        max_restarts=MAX_RESTARTS,
        max_task_retries=MAX_RESTARTS,
    )


def _split_file(batch: pa.Table) -> pa.Table:
    """Files (``bytes``, ``path``) -> their lines: ``source``, ``line`` (1-based), ``text``."""
    import pyarrow as pa

    sources: list[str] = []
    lines: list[int] = []
    texts: list[str] = []
    for data, path in zip(batch.column("bytes").to_pylist(), batch.column("path").to_pylist()):
        for document in split_lines(path, data):
            sources.append(document.source)
            lines.append(document.line)
            texts.append(document.text)
    return pa.table({"source": pa.array(sources, pa.string()), "line": pa.array(lines, pa.int64()),
                     "text": pa.array(texts, pa.string())})


def _input_format(paths: Sequence[str], input_format: str | None) -> str:
    if input_format is not None:
        if input_format not in FORMATS:
            raise ValueError(f"input_format must be one of {', '.join(FORMATS)}, not {input_format!r}")
        return input_format
    kinds = {_SUFFIXES.get(Path(p).suffix.lower(), "text") for p in paths}
    if len(kinds) > 1:
        raise InputError(f"inputs of different formats ({', '.join(sorted(kinds))}): score one format at a time")
    return kinds.pop()


def _local_files(inputs: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Each input as Ray will read it: local folders become their files (sorted, hidden ones
    left out), local files must exist; URIs (s3://, gs://, ...) are Ray's to resolve."""
    files: list[str] = []
    for name in map(str, inputs):
        if "://" in name:
            files.append(name)
            continue
        path = Path(name)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
            if not found:
                raise InputError(f"{name}: an empty folder")
            files += found
        elif path.is_file():
            files.append(str(path.resolve()))
        else:
            raise InputError(f"{name}: no such file")
    if not files:
        raise InputError("no input files")
    return files


def read_inputs(
    inputs: Sequence[str | os.PathLike[str]], *, input_format: str | None = None
) -> tuple[ray.data.Dataset, str]:
    """A Dataset of the inputs and their format. Text files give one row per line (``source``,
    ``line``, ``text``: the lines ``edgelstm predict`` reads); JSONL, CSV and Parquet files their
    rows, every column kept (and ``path``)."""
    require_extra()
    import ray.data

    files = _local_files(inputs)
    kind = _input_format(files, input_format)
    if kind == "text":
        raw = ray.data.read_binary_files(files, include_paths=True)
        return raw.map_batches(_split_file, batch_size=1, batch_format="pyarrow"), kind
    reader = {"jsonl": ray.data.read_json, "csv": ray.data.read_csv, "parquet": ray.data.read_parquet}[kind]
    return reader(files, include_paths=True), kind


@dataclass(frozen=True)
class ScoreResult:
    output: str
    files: list[str]
    actors: int


def _fresh_output(output: str) -> Path | None:
    """The local output folder, checked to be new (or empty): nothing is overwritten."""
    if "://" in output:
        return None
    path = Path(output)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InputError(f"{output}: already exists; give a new (or empty) output folder")
    return path


def _cause(exc: BaseException) -> EdgelstmError | None:
    """The edgelstm error raised on a worker behind Ray's error, if any. Ray 2.60 hands the
    driver a UserCodeException (or an actor's death) that carries the worker's error only as
    text, its traceback: the last ``edgelstm.errors.<Class>: <message>`` line names it."""
    from . import errors

    found = re.findall(r"^edgelstm\.errors\.(\w+): (.*)$", str(exc), re.M)
    if not found:
        return None
    name, message = found[-1]
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, EdgelstmError):
        return cls(message)
    return None


def score(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    model: str | os.PathLike[str] | bytes | None = None,
    output_format: str = "parquet",
    input_format: str | None = None,
    address: str | None = None,
    text_column: str = "text",
    prefix: str = "",
    actors: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    threads: int = 1,
    start_timeout_s: int = START_TIMEOUT_S,
) -> ScoreResult:
    """Read ``inputs`` (``read_inputs``), score them (``predict``) and write every row to the
    folder ``output`` as Parquet (default) or JSONL shards; a local folder appears whole or not
    at all. ``address``: the Ray cluster to join ("auto": the one this machine is part of); by
    default a local one is started, and stopped again."""
    require_extra()
    import ray

    if output_format not in ("parquet", "jsonl"):
        raise ValueError(f"output_format must be parquet or jsonl, not {output_format!r}")
    target = _fresh_output(str(output))
    payload = model_bytes(model)  # a bad model fails before Ray starts
    added = output_columns(Classifier.from_bytes(payload.data, source=payload.source).labels, prefix)
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, logging_level=logging.WARNING)
    staging: Path | None = None
    try:
        dataset, _ = read_inputs(inputs, input_format=input_format)
        first = dataset.take(1)  # empty input, a missing column: a clear error before any actor starts
        if not first:
            raise InputError(f"{', '.join(map(str, inputs))}: no rows to score")
        _check_columns(list(first[0]), None, text_column, added, "input")
        value = first[0][text_column]
        if value is not None and not isinstance(value, str):
            raise DataError(f"input: column {text_column!r} holds {type(value).__name__} values, not text")
        size = plan_actors(_cluster_cpus(), threads, actors)
        scored = predict(dataset, model=payload, text_column=text_column, prefix=prefix, actors=size,
                         batch_size=batch_size, threads=threads, start_timeout_s=start_timeout_s)
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        where = str(staging or output)
        try:
            if output_format == "parquet":
                scored.write_parquet(where)
            else:  # 15 decimals (pandas' most; its default of 10 would round the probabilities)
                scored.write_json(where, double_precision=15, force_ascii=False)
        except ray.exceptions.GetTimeoutError as exc:
            raise ClusterError(f"the actors did not start within {start_timeout_s} s: the cluster lacks "
                               "the CPUs or memory they need (--start-timeout)") from exc
        except Exception as exc:
            cause = _cause(exc)
            if cause is None:
                raise
            raise cause from exc
        if target is not None and staging is not None:
            if target.exists():  # an empty folder (checked above)
                target.rmdir()
            staging.rename(target)
            staging = None
        files = sorted(str(p) for p in target.iterdir()) if target else []
        return ScoreResult(str(output), files, size)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if started:
            ray.shutdown()
