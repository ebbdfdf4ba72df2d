"""Export checks itself, twice, against PyTorch on every output of every validation case.

1. The graph: evaluated exactly by onnx's reference evaluator (NumPy's float32 arithmetic, its
   sigmoid and tanh within about an ulp, no approximations), it must match PyTorch within
   ``ATOL``. This is the check that catches export bugs.
2. onnxruntime, what users run: its LSTM kernel computes the gates with MLAS approximations
   that drift over long inputs, so it must match PyTorch within ``ONNXRUNTIME_ATOL``, and
   predict the same label for every text.

Either failing raises ``ExportValidationError`` naming the check, the output and the difference."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun

from edgelstm.config import INPUTS, OUTPUTS, STATE_INPUTS, STATE_OUTPUTS
from edgelstm.errors import ExportValidationError
from edgelstm.tokenizer import OOV_ID, RESERVED_IDS, pad_batch
from edgelstm.train.model import TextClassifier

__all__ = [
    "ATOL", "ONNXRUNTIME_ATOL", "ExportValidationError", "Validation", "reference_evaluator", "sample_sequences",
    "validate_onnx", "validation_cases",
]

# The graph, evaluated exactly, against PyTorch, on every output. Measured on trained models:
# 6e-7 to 1.4e-6 (tests' fixture BiLSTM, the SUBJ and CR LSTMs; the shipped BiLSTM 9.5e-7, at
# length 525); one weight of a graph changed by 5e-5 is caught (tests/test_validate.py).
ATOL = 1e-5
# onnxruntime against PyTorch. Its LSTM computes the gates with MLAS's approximations (tanh up to
# 3.3e-7 off, sigmoid 1.6e-7; benchmarks/lstm_drift.py), whose errors add up over long inputs.
# The worst measured on trained models: 1.84e-5 (an earlier CR LSTM), 1.65e-5 (the tests'
# fixture BiLSTM trained with the similar-text split) and 1.13e-5 (the SUBJ LSTM of the default
# recipe), at batch 17 x 120; the graphs of the last two, evaluated exactly, were within 1.4e-6.
# 1e-4 is the worst times 5.4; an error in the graph is the first check's to catch, at ATOL.
ONNXRUNTIME_ATOL = 1e-4
_STATE_NAMES = {s.name for s in STATE_OUTPUTS}  # defined on unpadded rows only

# What onnx's reference LSTM computes: the ONNX spec's default equations (f = sigmoid, g = h =
# tanh) for these attributes; it ignores `activations`, `clip`, `input_forget` and
# `sequence_lens`, so a graph using them cannot be checked exactly and is refused.
_REFERENCE_LSTM_ATTRIBUTES = {"hidden_size", "direction", "layout"}


@dataclass(frozen=True)
class Validation:
    """The largest differences from PyTorch over every output and validation case."""

    graph: float  # the graph evaluated exactly (onnx's reference evaluator), within ATOL
    onnxruntime: float  # onnxruntime, within ONNXRUNTIME_ATOL, no label changed
    atol: float = ATOL
    onnxruntime_atol: float = ONNXRUNTIME_ATOL

    def __str__(self) -> str:
        return (f"graph max difference {self.graph:.2e} (ATOL {self.atol:g}), "
                f"onnxruntime {self.onnxruntime:.2e} (bound {self.onnxruntime_atol:g})")


def validation_cases(max_len: int) -> list[tuple[int, int]]:
    """(batch, longest length) pairs, unlike anything used while building the graph."""
    return [(1, 1), (1, 2), (3, 37), (5, 2), (2, max_len), (4, max_len + 25), (17, 120)]


def sample_sequences(vocab_size: int, batch: int, longest: int, rng: np.random.Generator) -> list[list[int]]:
    """Real-looking id sequences: ids drawn ~ 1/rank (the vocabulary is frequency-ranked),
    a few out-of-vocabulary, lengths mixed with one of exactly ``longest``."""
    ranks = np.arange(1, vocab_size + 1, dtype=np.float64)
    weights = 1.0 / ranks
    weights /= weights.sum()
    lengths = rng.integers(1, longest + 1, size=batch)
    lengths[rng.integers(batch)] = longest
    sequences = []
    for n in lengths:
        ids = rng.choice(vocab_size, size=int(n), p=weights)
        ids[ids < RESERVED_IDS] = OOV_ID  # no padding inside a text
        sequences.append(ids.tolist())
    return sequences


class _Check:
    """One of the two checks: who computed the outputs, its bound and its worst difference."""

    def __init__(self, what: str, bound_name: str, atol: float) -> None:
        self.what, self.bound_name, self.atol, self.worst = what, bound_name, atol, 0.0

    def __call__(self, name: str, actual: np.ndarray, expected: np.ndarray, case: str) -> None:
        if actual.shape != expected.shape:
            raise ExportValidationError(f"{self.what}: {name} has shape {actual.shape}, PyTorch's is "
                                        f"{expected.shape} ({case})")
        difference = float(np.abs(actual - expected).max()) if actual.size else 0.0
        if not np.isfinite(difference) or difference > self.atol:
            verb = "differ" if name.endswith("s") else "differs"  # probabilities, logits; final_h
            raise ExportValidationError(f"{self.what}: {name} {verb} from PyTorch by {difference:.3g} > "
                                        f"{self.bound_name} {self.atol:g} ({case})")
        self.worst = max(self.worst, difference)


class _GatherElements(OpRun):
    """ONNX GatherElements for onnx's reference evaluator, which gets it wrong for an axis longer
    than 64 (onnx 1.23: ``np.choose`` takes at most 64 choices; its fallback for 2-D inputs reads
    the wrong elements or fails) and wraps out-of-range indices instead of refusing them. Pure
    indexing, so exact: ``np.take_along_axis`` on the spec's index range [-s, s - 1]."""

    op_domain = ""

    def _run(self, data: np.ndarray, indices: np.ndarray, axis: int = 0) -> tuple[np.ndarray]:
        axis %= data.ndim  # OpRun passes the node's attribute (its schema default if unset)
        size = data.shape[axis]
        if indices.ndim != data.ndim:
            raise ValueError(f"GatherElements: indices of rank {indices.ndim} for data of rank {data.ndim}")
        if indices.size and (indices.min() < -size or indices.max() >= size):
            raise ValueError(f"GatherElements: an index outside [-{size}, {size - 1}] on axis {axis}")
        # indices may be shorter than data on the other axes: the output has their shape
        data = data[tuple(slice(None) if i == axis else slice(0, n) for i, n in enumerate(indices.shape))]
        return (np.take_along_axis(data, np.where(indices < 0, indices + size, indices), axis=axis),)


_GatherElements.__name__ = "GatherElements"  # the evaluator replaces the op of its class's name


def reference_evaluator(proto: onnx.ModelProto) -> ReferenceEvaluator:
    """onnx's reference evaluator of the graph (with an exact GatherElements), after refusing
    what it would not compute as written: ExportValidationError."""
    for node in proto.graph.node:
        if node.op_type != "LSTM":
            continue
        unsupported = sorted({a.name for a in node.attribute} - _REFERENCE_LSTM_ATTRIBUTES)
        if len(node.input) > 4 and node.input[4]:
            unsupported.append("sequence_lens")
        if unsupported:
            raise ExportValidationError(f"graph: LSTM node {node.name} uses {', '.join(unsupported)}, which onnx's "
                                        "reference evaluator ignores; the graph cannot be checked exactly")
    try:
        return ReferenceEvaluator(proto, new_ops=[_GatherElements])
    except Exception as exc:  # an op it does not know, a malformed node: the graph is not checkable
        raise ExportValidationError(f"graph: onnx's reference evaluator cannot load it: {exc}") from exc


def _evaluate(evaluator: ReferenceEvaluator, names: list[str], feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    try:
        # Its sigmoids compute exp of large |x| (inf) on the branch they then discard (inf / inf):
        # not errors here; a non-finite output still fails the check.
        with np.errstate(over="ignore", invalid="ignore"):
            return dict(zip(names, evaluator.run(None, feed)))
    except Exception as exc:
        raise ExportValidationError(f"graph: onnx's reference evaluator cannot run it: {exc}") from exc


@torch.inference_mode()
def validate_onnx(
    model: TextClassifier,
    onnx_path: Path,
    atol: float = ATOL,
    seed: int = 0,
    onnxruntime_atol: float = ONNXRUNTIME_ATOL,
) -> Validation:
    """The graph (exactly evaluated) within ``atol`` of PyTorch and onnxruntime within
    ``onnxruntime_atol``, with the same predicted labels, on every output of the validation
    cases; ExportValidationError otherwise, naming the check that failed.

    lstm models are also run from a random non-zero initial state, and their ``final_h`` /
    ``final_c`` compared on the unpadded rows (where they are defined). The caller's model
    keeps its train/eval mode.
    """
    import onnxruntime as ort

    was_training = model.training
    model.eval()
    try:
        evaluator = reference_evaluator(onnx.load(str(onnx_path)))
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        has_state = model.config.has_state
        expected_names = [s.name for s in OUTPUTS] + ([s.name for s in STATE_OUTPUTS] if has_state else [])
        if names != expected_names:
            raise ExportValidationError(f"outputs {names} != {expected_names}")
        graph = _Check("graph (evaluated exactly)", "ATOL", atol)
        runtime = _Check("onnxruntime (approximate LSTM gates)", "ONNXRUNTIME_ATOL", onnxruntime_atol)
        rng = np.random.default_rng(seed)
        for batch, longest in validation_cases(model.config.max_len):
            input_ids, lengths = pad_batch(sample_sequences(model.config.vocab_size, batch, longest, rng))
            states = [None] + ([rng.normal(0, 0.5, (2, batch, model.config.hidden)).astype(np.float32)]
                               if has_state else [])
            for state in states:
                case = f"batch {batch}, length {longest}, {'non-zero' if state is not None else 'zero'} state"
                feed = {INPUTS[0].name: input_ids, INPUTS[1].name: lengths}
                torch_state = None
                if has_state:
                    h0, c0 = state if state is not None else np.zeros((2, batch, model.config.hidden), np.float32)
                    feed.update({STATE_INPUTS[0].name: h0, STATE_INPUTS[1].name: c0})
                    torch_state = (torch.from_numpy(h0), torch.from_numpy(c0))
                logits, (h_n, c_n) = model.forward_with_state(
                    torch.from_numpy(input_ids), torch.from_numpy(lengths), torch_state)
                expected = {"probabilities": model.probabilities(logits).numpy(), "logits": logits.numpy()}
                rows = slice(None)
                if has_state:
                    rows = lengths == input_ids.shape[1]  # final_* is the state after the whole axis
                    expected.update(final_h=h_n.numpy()[rows], final_c=c_n.numpy()[rows])
                # the graph first: a wrong graph is reported as such, whatever onnxruntime makes of it
                exact = _evaluate(evaluator, names, feed)
                run = dict(zip(names, session.run(None, feed)))
                for check, actual in ((graph, exact), (runtime, run)):
                    for name in names:
                        check(name, actual[name][rows] if name in _STATE_NAMES else actual[name], expected[name], case)
                _same_labels(run["probabilities"], expected["probabilities"], case)
        return Validation(graph.worst, runtime.worst, atol, onnxruntime_atol)
    finally:
        model.train(was_training)


def _same_labels(actual: np.ndarray, expected: np.ndarray, case: str) -> None:
    """onnxruntime predicts PyTorch's label for every text (each row's largest probability, as
    ``Classifier.predict`` picks it)."""
    changed = np.flatnonzero(actual.argmax(axis=1) != expected.argmax(axis=1))
    if changed.size:
        row = int(changed[0])
        raise ExportValidationError(
            f"onnxruntime: predicted label differs from PyTorch's for {changed.size} of {len(actual)} texts "
            f"(row {row}: probabilities {np.array2string(actual[row], precision=7)} against "
            f"{np.array2string(expected[row], precision=7)}; {case})")
