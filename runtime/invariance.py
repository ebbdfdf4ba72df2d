"""Does a model give each text the same answer alone, inside mixed-length batches, and under
different thread counts? Measured, not assumed (needs only onnxruntime)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classifier import OnnxBackend
from .tokenizer import pad_batch

__all__ = ["INVARIANCE_TOLERANCE", "Invariance", "batch_invariance"]

INVARIANCE_TOLERANCE = 1e-6  # largest |alone - batched| probability allowed, as fp32 gives


@dataclass(frozen=True)
class Invariance:
    texts: int
    largest_difference: dict[str, float]  # condition -> max |p - p_alone at 1 thread|
    label_flips: dict[str, int]

    @property
    def worst(self) -> float:
        return max(self.largest_difference.values())

    def holds(self, tolerance: float = INVARIANCE_TOLERANCE) -> bool:
        return self.worst <= tolerance


def _alone(backend: OnnxBackend, sequences: Sequence[Sequence[int]]) -> np.ndarray:
    return np.concatenate([backend.run(*pad_batch([s])) for s in sequences])


def _mixed_batches(backend: OnnxBackend, sequences: Sequence[Sequence[int]], batch_size: int,
                   seed: int) -> np.ndarray:
    """Batches of random neighbours (mixed lengths, so most rows are padded)."""
    order = np.random.default_rng(seed).permutation(len(sequences))
    result = np.zeros((len(sequences), len(backend.config.labels)), np.float32)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        result[rows] = backend.run(*pad_batch([sequences[i] for i in rows]))
    return result


def batch_invariance(path: Path, sequences: Sequence[Sequence[int]], batch_size: int = 64,
                     seed: int = 0) -> Invariance:
    """Compare each text alone on 1 thread with: alone on 2 threads, and mixed-length batches
    (two different shuffles) on 1 and 2 threads."""
    one, two = OnnxBackend(Path(path), threads=1), OnnxBackend(Path(path), threads=2)
    reference = _alone(one, sequences)
    runs = {
        "alone, 2 threads": _alone(two, sequences),
        f"batch {batch_size}, 1 thread": _mixed_batches(one, sequences, batch_size, seed),
        f"batch {batch_size}, 2 threads": _mixed_batches(two, sequences, batch_size, seed + 1),
    }
    labels = reference.argmax(axis=1)
    return Invariance(
        texts=len(sequences),
        largest_difference={k: float(np.abs(v - reference).max()) for k, v in runs.items()},
        label_flips={k: int((v.argmax(axis=1) != labels).sum()) for k, v in runs.items()},
    )
