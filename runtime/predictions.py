"""One answer of a classifier, its one JSON form, and how answers are counted as right
(the labels' check is ``edgelstm.data.label_targets``).

Shared by ``Classifier``, streaming, the CLI, the benchmark and the int8 check, so that a
prediction is printed, served and counted the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Prediction", "accuracy", "most_probable", "to_prediction"]


@dataclass(frozen=True)
class Prediction:
    label: str
    probability: float  # of ``label``
    probabilities: dict[str, float]  # every label's

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``predict --format jsonl``, the server's ``/predict``)."""
        return {"label": self.label, "probability": self.probability, "probabilities": self.probabilities}


def most_probable(probabilities: np.ndarray) -> tuple[list[int], list[float]]:
    """Each row's chosen column (the first of equals) and its probability, for (n, labels)
    ``probabilities`` at once: the label and probability of each row's ``to_prediction``."""
    best = np.asarray(probabilities).argmax(axis=1)  # (n,)
    chosen: list[float] = probabilities[np.arange(len(best)), best].tolist()
    return best.tolist(), chosen


def to_prediction(labels: Sequence[str], row: np.ndarray) -> Prediction:
    """The ``Prediction`` of one row of probabilities, columns in the order of ``labels``."""
    best = int(np.argmax(row))  # as most_probable
    return Prediction(
        label=labels[best],
        probability=float(row[best]),
        probabilities={label: float(p) for label, p in zip(labels, row)},
    )


def accuracy(probabilities: np.ndarray, targets: np.ndarray) -> float:
    """The share of rows of (N, labels) ``probabilities`` whose most probable column is the target."""
    return float((np.asarray(probabilities).argmax(axis=1) == targets).mean())
