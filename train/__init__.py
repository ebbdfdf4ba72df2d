"""Training (needs the ``train`` extra: PyTorch)."""

from .checkpoint import load_checkpoint, load_model, save_checkpoint
from .model import DEFAULT_DROPOUT, TextClassifier
from .trainer import TrainOptions, train

__all__ = [
    "DEFAULT_DROPOUT",
    "TextClassifier",
    "TrainOptions",
    "load_checkpoint",
    "load_model",
    "save_checkpoint",
    "train",
]
