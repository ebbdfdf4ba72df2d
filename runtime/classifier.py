"""``Classifier``: texts in, labels and probabilities out, on onnxruntime (or a .pt checkpoint)."""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .config import INPUTS, METADATA_KEY, OUTPUTS, STATE_INPUTS, STATE_OUTPUTS, ModelConfig
from .errors import ModelError
from .files import file_sha256
from .metrics import classification_report
from .predictions import Prediction, accuracy, to_prediction
from .tokenizer import OOV_ID, EncodedTexts, Tokenizer

if TYPE_CHECKING:
    from concurrent.futures import Future

    from .stream import Stream, StreamBatch

__all__ = [
    "Backend", "Classifier", "MODEL_ENV", "MODEL_SUFFIXES", "OnnxBackend", "Prediction", "SHIPPED_DIR", "SHIPPED_MODEL",
    "default_model_path", "is_onnx_model", "shipped_checksum_ok", "shipped_manifest", "to_prediction",
]

log = logging.getLogger(__name__)

# Batches per block of a long input (``predict_proba_blocks``): a block is tokenized at once (mostly
# holding the GIL) while the previous block's batches run (onnxruntime, GIL released), so the
# tokenizing overlaps the inference. Batches are sorted by length within a block.
BATCHES_PER_BLOCK = 8

BACKEND_GROUP = "edgelstm.backends"
MODEL_ENV = "EDGELSTM_MODEL"  # a model path that replaces the shipped default
MODEL_SUFFIXES = (".onnx", ".pt")  # what Classifier.load reads (onnxruntime, or a PyTorch checkpoint)
SHIPPED_DIR = Path(__file__).parent / "shipped"
SHIPPED_MODEL = "sentiment-en.int8.onnx"  # English movie-review sentiment, see its .json


class Backend(Protocol):
    """Runs one padded batch. Implemented on onnxruntime here, on torch in edgelstm.train."""

    config: ModelConfig

    def run(self, input_ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """(B, T) int64 ids and (B,) int64 lengths -> (B, labels) float32 probabilities."""
        ...


class OnnxBackend:
    def __init__(self, path: Path, threads: int | None = None, *, data: bytes | None = None) -> None:
        """The model in file ``path``, or in ``data`` (its bytes) with ``path`` naming it in errors."""
        import onnxruntime as ort  # imported here: ``import edgelstm`` stays light

        # onnxruntime's own (coloured, C++) log lines are not for our users: its errors also
        # come back as exceptions, which become one line of ours. Only fatal ones are logged.
        # The default logger speaks before the session's options apply.
        ort.set_default_logger_severity(4)
        options = ort.SessionOptions()
        options.log_severity_level = 4
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(path) if data is None else data, options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises several unrelated types here
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{path}: not a loadable ONNX model ({reason[:200]})") from exc
        metadata = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in metadata:
            raise ModelError(f"{path}: an ONNX model, but not an edgelstm model (no metadata)")
        try:
            self.config = ModelConfig.from_json(metadata[METADATA_KEY])
        except ModelError as exc:
            raise ModelError(f"{path}: {exc}") from exc
        names = [i.name for i in self.session.get_inputs()]
        expected = [spec.name for spec in INPUTS]
        self.has_state = self.config.has_state
        if self.has_state:
            expected += [spec.name for spec in STATE_INPUTS]
        if names != expected:
            raise ModelError(f"{path}: unexpected model inputs {names}")
        self._check_graph(path)

    def _check_graph(self, path: Path) -> None:
        """What the metadata says, checked against the graph itself with one tiny run: the
        highest id must have an embedding row, and there must be one probability per label."""
        config = self.config
        probe = np.array([[config.vocab_size - 1]], np.int64)  # (1, 1)
        try:
            width = self.run(probe, np.array([1], np.int64)).shape[-1]
        except Exception as exc:  # onnxruntime's errors for out-of-range ids and bad shapes vary
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"{path}: metadata does not match the graph (vocab_size {config.vocab_size}: "
                f"{reason[:160]})"
            ) from exc
        if width != len(config.labels):
            raise ModelError(
                f"{path}: metadata does not match the graph ({len(config.labels)} labels, "
                f"{width} probabilities)"
            )

    def run(self, input_ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        feed = {INPUTS[0].name: input_ids, INPUTS[1].name: lengths}
        if self.has_state:  # a whole text starts from zero state
            zeros = np.zeros((input_ids.shape[0], self.config.hidden), np.float32)
            feed.update({spec.name: zeros for spec in STATE_INPUTS})
        probabilities: np.ndarray = self.session.run([OUTPUTS[0].name], feed)[0]  # (B, labels)
        return probabilities

    def run_with_state(
        self, input_ids: np.ndarray, lengths: np.ndarray, h: np.ndarray, c: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(B, T) ids, (B,) lengths, (B, H) state -> probabilities (B, labels), final h, c (B, H).

        The final state is the one after the last step of T: exact only for unpadded rows."""
        if not self.has_state:
            raise ModelError("this model has no state inputs (not an lstm model of format 2)")
        feed = {INPUTS[0].name: input_ids, INPUTS[1].name: lengths,
                STATE_INPUTS[0].name: h, STATE_INPUTS[1].name: c}
        names = [OUTPUTS[0].name] + [spec.name for spec in STATE_OUTPUTS]
        probabilities, final_h, final_c = self.session.run(names, feed)
        return probabilities, final_h, final_c


def _check_model_file(path: Path) -> None:
    if not path.exists():
        raise ModelError(f"{path}: model file not found")
    if path.is_dir():
        raise ModelError(f"{path}: is a directory, not a model file")
    if not os.access(path, os.R_OK):
        raise ModelError(f"{path}: permission denied")
    if path.stat().st_size == 0:
        raise ModelError(f"{path}: model file is empty")


def is_onnx_model(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an edgelstm ``.onnx`` model (fp32 or int8), which an export or
    ``quantize -o`` may replace; any other file there is the user's and is never overwritten."""
    try:
        _check_model_file(Path(path))
        OnnxBackend(Path(path), threads=1)
    except ModelError:
        return False
    return True


def _check_threads(threads: int | None) -> None:
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer))
                                or threads < 1):
        raise ValueError(f"threads must be a positive integer or None (all cores), not {threads!r}")


def _plugin_backend(path: Path, threads: int | None) -> Backend:
    """A backend registered under ``edgelstm.backends`` for this file's suffix (.pt)."""
    from importlib.metadata import entry_points  # here: importing it costs every command's start

    found = [ep for ep in entry_points(group=BACKEND_GROUP) if ep.name == path.suffix]
    if not found:
        raise ModelError(f"{path}: no backend for {path.suffix!r} files")
    try:
        backend_cls = found[0].load()
    except ImportError as exc:
        raise ModelError(
            f"{path}: loading a {path.suffix} checkpoint needs PyTorch "
            f"({exc.name or exc} is missing): pip install 'edgelstm[train]'"
        ) from exc
    backend: Backend = backend_cls(path, threads=threads)
    return backend


def default_model_path() -> Path:
    """Where ``Classifier.default()`` and a CLI command without ``--model`` load from."""
    return Path(os.environ.get(MODEL_ENV) or SHIPPED_DIR / SHIPPED_MODEL)


def shipped_manifest() -> dict[str, Any]:
    """The shipped model's record: file, sha256, the command that made it, its metrics."""
    import json

    record = (SHIPPED_DIR / SHIPPED_MODEL).with_suffix(".json")
    manifest: dict[str, Any] = json.loads(record.read_text(encoding="utf-8"))
    return manifest


def _is_shipped(path: Path) -> bool:
    shipped = SHIPPED_DIR / SHIPPED_MODEL
    return path.exists() and shipped.exists() and path.resolve() == shipped.resolve()


def shipped_checksum_ok(path: Path) -> bool:
    """False only for the installed shipped model whose bytes differ from its record (modified or
    damaged): the one checksum rule, which ``Classifier.default()`` enforces and ``describe()`` reports."""
    return not _is_shipped(path) or file_sha256(path) == shipped_manifest()["sha256"]


def _checked_texts(texts: Iterable[str], argument: str = "texts") -> Iterator[str]:
    """The items of ``texts``, refusing a lone string (which would be read as its characters)
    and any item that is not a string, by its index."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"{argument} must be a list of strings, not a single {type(texts).__name__}")
    try:
        items = iter(texts)
    except TypeError:
        raise TypeError(f"{argument} must be a list of strings, not {type(texts).__name__}") from None
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"{argument}[{i}] is {type(text).__name__}, not a string")
        yield text


def _batch_rows(encoded: EncodedTexts, batch_size: int) -> list[np.ndarray]:
    """The rows of each batch: texts sorted by length (stable), so padding stays small."""
    order = np.argsort(encoded.lengths, kind="stable")
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def _check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")


class Classifier:
    """A text classifier: ``Classifier.load("model.onnx").predict(["a text"])``."""

    def __init__(self, backend: Backend, source: str = "", workers: int = 1) -> None:
        self.backend = backend
        self.config = backend.config
        self.source = source
        self.tokenizer = Tokenizer(self.config.vocabulary, self.config.max_len)
        self.workers = max(1, workers)  # batches run at once by predict (each on one thread)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, threads: int | None = None) -> Classifier:
        """Load a ``.onnx`` export (onnxruntime) or a ``.pt`` checkpoint (PyTorch).

        ``threads``: the cores one call may use (default: all). An .onnx model runs each batch
        on one thread and up to ``threads`` batches at once (measured faster than onnxruntime's
        threads inside one small-matrix batch; README "Speed and size"); answers are the same
        for any value. Inside a host of many processes (serve workers, Ray actors) give 1.
        """
        path = Path(path)
        _check_threads(threads)
        _check_model_file(path)
        if path.suffix == ".pt":  # MODEL_SUFFIXES
            return cls(_plugin_backend(path, threads), source=str(path))
        backend = OnnxBackend(path, threads=1)
        log.debug("loaded %s (%s, %d labels)", path, backend.config.arch, len(backend.config.labels))
        return cls(backend, source=str(path), workers=threads or os.cpu_count() or 1)

    @classmethod
    def from_bytes(cls, data: bytes, *, threads: int | None = None, source: str = "<bytes>") -> Classifier:
        """Load a ``.onnx`` model from its bytes (e.g. shipped to a cluster's workers with the job);
        ``source`` names it in errors. Answers are those of ``Classifier.load`` on the same file."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be the model's bytes, not {type(data).__name__}")
        _check_threads(threads)
        if not data:
            raise ModelError(f"{source}: model is empty (0 bytes)")
        backend = OnnxBackend(Path(source), threads=1, data=bytes(data))
        return cls(backend, source=source, workers=threads or os.cpu_count() or 1)

    @classmethod
    def default(cls, *, threads: int | None = None) -> Classifier:
        """``$EDGELSTM_MODEL`` if set, else the shipped English sentiment model (checksum-verified)."""
        path = default_model_path()
        _check_model_file(path)
        if not shipped_checksum_ok(path):
            raise ModelError(f"{path}: checksum differs from the recorded one; reinstall edgelstm")
        return cls.load(path, threads=threads)

    @property
    def labels(self) -> list[str]:
        return list(self.config.labels)

    def encode(self, texts: Iterable[str]) -> list[list[int]]:
        return self.tokenizer.encode_many(list(_checked_texts(texts))).tolist()

    def predict_ids(self, sequences: Sequence[Sequence[int]], batch_size: int = 64) -> np.ndarray:
        """Probabilities (N, labels) of encoded texts, in their order.

        Texts are batched by similar length so padding stays small; the model is given the
        real lengths, so padding never changes an answer. An empty sequence is read as one
        unknown word, as ``encode`` reads a text without words (a model needs one token).
        Up to ``workers`` batches run at once.
        """
        _check_batch_size(batch_size)
        sequences = [sequence if len(sequence) else [OOV_ID] for sequence in sequences]
        return self._predict_encoded(EncodedTexts.from_sequences(sequences), batch_size, self.workers)

    def _predict_encoded(self, encoded: EncodedTexts, batch_size: int, workers: int) -> np.ndarray:
        """Probabilities (N, labels) of ``encoded``, batches by length, up to ``workers`` at once."""
        chunks = _batch_rows(encoded, batch_size)
        if workers == 1 or len(chunks) <= 1:
            return self._gather(encoded, chunks, [self._run(encoded, chunk) for chunk in chunks])
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(workers, len(chunks))) as pool:
            return self._gather(encoded, chunks, list(pool.map(self._run, [encoded] * len(chunks), chunks)))

    def _gather(self, encoded: EncodedTexts, chunks: list[np.ndarray], rows: Iterable[np.ndarray]) -> np.ndarray:
        """The batches' probabilities back in the texts' order: (N, labels)."""
        probabilities = np.zeros((len(encoded), len(self.config.labels)), np.float32)
        for chunk, batch in zip(chunks, rows):
            probabilities[chunk] = batch
        return probabilities

    def predict_proba_blocks(self, texts: Iterable[str], batch_size: int = 64) -> Iterator[np.ndarray]:
        """Probabilities of ``texts``, read lazily (a file's lines, a generator), as consecutive
        (n, labels) arrays in input order: one per block of ``batch_size * BATCHES_PER_BLOCK``
        texts, yielded as soon as it is done, so memory stays bounded by a few blocks.

        With several ``workers`` it is a pipeline: while the blocks' batches run (onnxruntime
        releases the GIL), this thread reads and tokenizes the next block and the caller formats
        and writes the previous one. Every thread count runs the very same batches, so answers
        are the same to the bit (``predict_proba`` of a list is these blocks concatenated).
        """
        _check_batch_size(batch_size)
        if isinstance(texts, (str, bytes)):  # here, not at the first block: the caller's mistake
            next(_checked_texts(texts))
        return self._blocks(_checked_texts(texts), batch_size)

    def _blocks(self, items: Iterator[str], batch_size: int) -> Iterator[np.ndarray]:
        block = batch_size * BATCHES_PER_BLOCK
        blocks = iter(lambda: list(islice(items, block)), [])
        if self.workers == 1:
            for block_texts in blocks:
                yield self._predict_encoded(self.tokenizer.encode_many(block_texts), batch_size, 1)
            return
        from concurrent.futures import ThreadPoolExecutor

        pool: ThreadPoolExecutor | None = None
        # The block being run and the one queued behind it: the workers never wait for this thread.
        running: deque[tuple[EncodedTexts, list[np.ndarray], list[Future[np.ndarray]]]] = deque()
        try:
            for block_texts in blocks:
                encoded = self.tokenizer.encode_many(block_texts)
                chunks = _batch_rows(encoded, batch_size)
                if pool is None and len(chunks) == 1:  # one batch, and no block before: no threads
                    yield self._predict_encoded(encoded, batch_size, 1)
                    return
                if pool is None:
                    pool = ThreadPoolExecutor(self.workers)
                running.append((encoded, chunks, [pool.submit(self._run, encoded, c) for c in chunks]))
                if len(running) > 1:
                    yield self._collect(running.popleft())
            while running:
                yield self._collect(running.popleft())
        finally:
            if pool is not None:  # on an early stop too (the caller's reader has gone): the queued
                pool.shutdown(wait=True, cancel_futures=True)  # batches are dropped, running ones end

    def _run(self, encoded: EncodedTexts, rows: np.ndarray) -> np.ndarray:
        return self.backend.run(*encoded.padded(rows))

    def _collect(self, block: tuple[EncodedTexts, list[np.ndarray], list[Future[np.ndarray]]]) -> np.ndarray:
        encoded, chunks, futures = block
        return self._gather(encoded, chunks, (future.result() for future in futures))

    def predict_proba(self, texts: Iterable[str], batch_size: int = 64) -> np.ndarray:
        """Probabilities (N, labels), columns in the order of ``labels``."""
        blocks = list(self.predict_proba_blocks(texts, batch_size))
        return np.concatenate(blocks) if blocks else np.zeros((0, len(self.config.labels)), np.float32)

    def predict(self, texts: Iterable[str], batch_size: int = 64) -> list[Prediction]:
        """One ``Prediction`` per text, in input order."""
        return [to_prediction(self.config.labels, row) for row in self.predict_proba(texts, batch_size)]

    def stream(self) -> Stream:
        """A text fed in pieces as it arrives: ``s.feed(piece)`` returns the prediction of all
        the text fed so far, at the cost of the new tokens (lstm .onnx models; edgelstm.stream)."""
        from .stream import Stream

        return Stream(self)

    def streams(self, n: int) -> StreamBatch:
        """``n`` independent streams advanced together: ``feed([piece, ...])`` (one per stream)."""
        from .stream import StreamBatch

        return StreamBatch(self, n)

    def evaluate(self, texts: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
        """Accuracy, mean cross-entropy (binary cross-entropy for two labels), macro-F1, each
        label's precision, recall and F1 (``per_label``) and the confusion matrix (``confusion``,
        rows: true label in the model's label order) on labeled texts (``edgelstm.metrics``)."""
        texts, labels = list(_checked_texts(texts)), list(_checked_texts(labels, "labels"))
        if len(texts) != len(labels):
            raise ValueError(f"evaluate() got {len(texts)} texts but {len(labels)} labels")
        if not texts:
            raise ValueError("evaluate() needs at least one labeled text")
        from .data import label_targets

        targets = label_targets(labels, self.config.labels, self.source or "the model")  # (N,)
        probabilities = self.predict_proba(texts)  # (N, labels)
        chosen = probabilities[np.arange(len(targets)), targets]
        loss = -np.log(np.clip(chosen.astype(np.float64), 1e-7, 1.0)).mean()
        report = classification_report(self.config.labels, targets, probabilities.argmax(axis=1))
        del report["accuracy"]  # the same number, counted the one way (edgelstm.predictions.accuracy)
        return {"accuracy": accuracy(probabilities, targets), "loss": float(loss), "examples": len(targets), **report}

    def describe(self) -> dict[str, str]:
        """What the model is, row by row (``edgelstm info``): file, checksum, architecture, sizes,
        labels, vocabulary, int8 recipe, metrics. The shipped model with a checksum that differs
        from its record is described too, with a warning logged."""
        path, config, quantization = Path(self.source), self.config, self.config.quantization
        sha256 = file_sha256(path)
        if not shipped_checksum_ok(path):
            log.warning("warning: %s: checksum differs from the recorded one (modified or damaged); "
                        "reinstall edgelstm", path)
        rows = {
            "file": str(path),
            "sha256": sha256,
            "size": f"{path.stat().st_size / 1024:.0f} KiB",
            "architecture": f"{config.arch}: embedding {config.vocab_size}x{config.embed_dim}, {config.hidden} units"
                            + (" per direction" if config.arch == "bilstm" else f", dense {config.dense}")
                            + (f"; wide bag-of-words term, {config.wide_bigrams} bigram rows" if config.wide else ""),
            "labels": ", ".join(config.labels),
            "vocabulary": f"{config.vocab_size} ids ({len(config.vocabulary)} words), tokenizer {config.tokenizer}",
            "max length": f"{config.max_len} tokens (the last ones are kept)",
            "int8 recipe": quantization.recipe_name if quantization is not None else "none (fp32)",
            **({"batch-invariant int8": "yes" if quantization.batch_invariant else
                "NO: answers depend on the batch"} if quantization is not None else {}),
            "format version": str(config.format_version),
        }
        # Training's metrics are the fp32 model's (an int8 file inherits them); int8's own are the
        # chosen recipe's measurement on the held-out texts, next to fp32's on the same texts.
        trained = "fp32 model" if quantization is not None else "this model"
        metrics = dict(config.metrics)
        recipe = metrics.pop("recipe", None)
        if isinstance(recipe, dict):  # what the adaptive recipe saw and chose (edgelstm.train.presets.adapt)
            data = recipe.get("data", {})
            flags = recipe.get("overridden")
            rows["recipe"] = (f"{recipe.get('preset')}, adapted to {data.get('texts')} texts, {data.get('labels')} "
                              f"labels, median {data.get('median_tokens')} tokens"
                              + (f"; set by flags: {', '.join(flags)}" if flags else ""))
            for name, value in recipe.get("chosen", {}).items():
                rows[f"recipe: {name}"] = f"{value} ({recipe.get('why', {}).get(name, '')})"
        for key, value in sorted(metrics.items()):
            shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)  # e.g. teachers
            rows[f"{key} ({trained})"] = f"{value:.4f}" if isinstance(value, float) else shown
        if quantization is not None:  # int8's check on held-out texts, next to fp32's
            texts = quantization.validation_texts if quantization.validation_texts is not None else "?"
            for measured, label in ((quantization.fp32_accuracy, "fp32 model"),
                                    (quantization.accuracy, "this int8 model")):
                if isinstance(measured, float):
                    rows[f"held-out accuracy ({label}, {texts} texts)"] = f"{measured:.4f}"
        if _is_shipped(path):  # its manifest records the int8 file's own test-split accuracy
            int8_test = shipped_manifest().get("int8_test") or {}
            if "accuracy" in int8_test:
                rows[f"test_accuracy (this int8 model, {int8_test.get('examples', '?')} texts)"] = \
                    f"{int8_test['accuracy']:.4f}"
        return rows
