"""Export checks itself: onnxruntime must match PyTorch within ``ATOL`` on every output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from edgelstm.config import INPUTS, OUTPUTS, STATE_INPUTS, STATE_OUTPUTS
from edgelstm.errors import ExportValidationError
from edgelstm.tokenizer import OOV_ID, RESERVED_IDS, pad_batch
from edgelstm.train.model import TextClassifier

__all__ = ["ATOL", "ExportValidationError", "sample_sequences", "validate_onnx", "validation_cases"]

ATOL = 1e-5  # on every output; float32 LSTMs agree to ~1e-7 when the graph is right


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


def _check(name: str, actual: np.ndarray, expected: np.ndarray, atol: float, case: str) -> float:
    if actual.shape != expected.shape:
        raise ExportValidationError(f"{name}: shape {actual.shape} != PyTorch's {expected.shape} ({case})")
    difference = float(np.abs(actual - expected).max()) if actual.size else 0.0
    if not np.isfinite(difference) or difference > atol:
        raise ExportValidationError(
            f"{name}: onnxruntime differs from PyTorch by {difference:.3g} > ATOL {atol:g} ({case})"
        )
    return difference


@torch.inference_mode()
def validate_onnx(model: TextClassifier, onnx_path: Path, atol: float = ATOL, seed: int = 0) -> float:
    """Max |onnxruntime - PyTorch| over every output and the validation cases; raises past ``atol``.

    lstm models are also run from a random non-zero initial state, and their ``final_h`` /
    ``final_c`` compared on the unpadded rows (where they are defined). The caller's model
    keeps its train/eval mode.
    """
    import onnxruntime as ort

    was_training = model.training
    model.eval()
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        has_state = model.config.has_state
        expected_names = [s.name for s in OUTPUTS] + ([s.name for s in STATE_OUTPUTS] if has_state else [])
        if names != expected_names:
            raise ExportValidationError(f"outputs {names} != {expected_names}")
        rng = np.random.default_rng(seed)
        worst = 0.0
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
                actual = dict(zip(names, session.run(None, feed)))
                worst = max(worst, _check("probabilities", actual["probabilities"],
                                          model.probabilities(logits).numpy(), atol, case))
                worst = max(worst, _check("logits", actual["logits"], logits.numpy(), atol, case))
                if has_state:
                    unpadded = lengths == input_ids.shape[1]  # final_* is the state after the whole axis
                    for name, expected_state in (("final_h", h_n), ("final_c", c_n)):
                        worst = max(worst, _check(name, actual[name][unpadded],
                                                  expected_state.numpy()[unpadded], atol, case))
        return worst
    finally:
        model.train(was_training)
