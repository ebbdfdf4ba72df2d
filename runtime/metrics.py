"""Classification metrics: per-label precision, recall and F1, macro-F1 and the confusion matrix.

One home for what ``edgelstm evaluate``, ``edgelstm train`` and ``Classifier.evaluate`` report.
Accuracy alone hides a model that never predicts the rare label (SMS spam: 87% ham), so the
reports carry macro-F1 too: the unweighted mean of the labels' F1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["classification_report", "format_report", "report_from_confusion"]


def classification_report(labels: Sequence[str], targets: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Metrics of ``predicted`` against ``targets`` (label ids into ``labels``, both (N,)).

    ``confusion[i][j]`` counts texts of label i predicted as label j. A label never predicted has
    precision 0 (and never seen: recall 0), as scikit-learn's ``zero_division=0``.
    """
    targets, predicted = np.asarray(targets, np.int64), np.asarray(predicted, np.int64)
    confusion = np.zeros((len(labels), len(labels)), np.int64)
    np.add.at(confusion, (targets, predicted), 1)
    return report_from_confusion(labels, confusion)


def report_from_confusion(labels: Sequence[str], confusion: np.ndarray | list[list[int]]) -> dict[str, Any]:
    """The report of a confusion matrix (``confusion[i][j]``: texts of label i predicted as j):
    everything in it follows from the matrix, so a model's metadata keeps only the matrix."""
    confusion = np.asarray(confusion, np.int64)
    n = len(labels)
    correct = np.diag(confusion).astype(np.float64)
    support, chosen = confusion.sum(axis=1), confusion.sum(axis=0)
    precision = np.divide(correct, chosen, out=np.zeros(n), where=chosen > 0)
    recall = np.divide(correct, support, out=np.zeros(n), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros(n), where=total > 0)
    return {
        "accuracy": float(correct.sum() / max(int(confusion.sum()), 1)),
        "macro_f1": float(f1.mean()) if n else 0.0,
        "per_label": {
            label: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                    "support": int(support[i])}
            for i, label in enumerate(labels)
        },
        "confusion": confusion.tolist(),
    }


def format_report(report: dict[str, Any]) -> str:
    """The per-label table and the confusion matrix (rows: true label, columns: predicted) as
    plain text."""
    labels = list(report["per_label"])
    width = max([len("label"), *map(len, labels)])
    lines = [f"{'label':<{width}}  precision  recall      f1  support"]
    for label, row in report["per_label"].items():
        lines.append(f"{label:<{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:6.4f}"
                     f"  {row['support']:7d}")
    lines.append(f"{'macro':<{width}}  {'':9}  {'':6}  {report['macro_f1']:6.4f}")
    cells = [[str(c) for c in row] for row in report["confusion"]]
    cell = max([len(label) for label in labels] + [len(c) for row in cells for c in row])
    corner = "true \\ predicted"
    first = max(width, len(corner))
    lines += ["", f"{corner:<{first}}  " + "  ".join(f"{label:>{cell}}" for label in labels)]
    for label, row in zip(labels, cells):
        lines.append(f"{label:<{first}}  " + "  ".join(f"{c:>{cell}}" for c in row))
    return "\n".join(lines)
