"""Export checks itself: onnxruntime must match PyTorch within ``ATOL`` on every probability."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from edgelstm.classifier import OnnxBackend
from edgelstm.errors import EdgelstmError
from edgelstm.tokenizer import RESERVED_IDS, pad_batch
from edgelstm.train.model import TextClassifier

__all__ = ["ATOL", "ExportValidationError", "validate_onnx", "sample_sequences"]

ATOL = 1e-5  # on probabilities; float32 LSTMs agree to ~1e-7 when the graph is right


class ExportValidationError(EdgelstmError):
    """The exported model's outputs differ from PyTorch's by more than the tolerance."""

    exit_code = 6


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
        ids[ids < RESERVED_IDS] = 1  # no padding inside a text; id 1 stands for unknown words
        sequences.append(ids.tolist())
    return sequences


@torch.inference_mode()
def validate_onnx(model: TextClassifier, onnx_path: Path, atol: float = ATOL, seed: int = 0) -> float:
    """Max |onnxruntime - PyTorch| over the validation cases; raises past ``atol``."""
    model = model.eval()
    session = OnnxBackend(Path(onnx_path))
    rng = np.random.default_rng(seed)
    worst = 0.0
    for batch, longest in validation_cases(model.config.max_len):
        input_ids, lengths = pad_batch(sample_sequences(model.config.vocab_size, batch, longest, rng))
        expected = model.probabilities(model(torch.from_numpy(input_ids), torch.from_numpy(lengths))).numpy()
        actual = session.run(input_ids, lengths)
        if actual.shape != expected.shape:
            raise ExportValidationError(
                f"output shape {actual.shape} != PyTorch's {expected.shape} (batch {batch}, length {longest})"
            )
        difference = float(np.abs(actual - expected).max())
        worst = max(worst, difference)
        if not np.isfinite(difference) or difference > atol:
            raise ExportValidationError(
                f"onnxruntime differs from PyTorch by {difference:.3g} > ATOL {atol:g} "
                f"(batch {batch}, length {longest})"
            )
    return worst
