"""Learning curves from a training history (only where matplotlib is installed)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from edgelstm.files import atomic_write

log = logging.getLogger(__name__)

__all__ = ["plot_history"]


def plot_history(history: list[dict[str, Any]], path: Path, title: str = "") -> bool:
    """Write loss and accuracy per epoch (train and validation) as a PNG; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.debug("matplotlib is not installed; no learning-curve plot")
        return False
    epochs = [h["epoch"] for h in history]
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(9, 3.5))
    for axis, metric in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
        axis.plot(epochs, [h[f"train_{metric}"] for h in history], "o-", label="train")
        axis.plot(epochs, [h[f"val_{metric}"] for h in history], "o-", label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    atomic_write(Path(path), lambda tmp: figure.savefig(tmp, format="png", dpi=100))
    plt.close(figure)
    return True
