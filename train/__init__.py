"""Training (needs the ``train`` extra: PyTorch).

Imports nothing at import time: its names load on first use (PEP 562), so torch-free submodules
(``presets``, ``pretrain``, ``vectors``, ``groups``, ``distill``) work with their own extra only,
e.g. ``edgelstm pretrain`` with ``pip install 'edgelstm[pretrain]'`` and no torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "DEFAULT_DROPOUT",
    "TextClassifier",
    "TrainOptions",
    "load_checkpoint",
    "load_model",
    "save_checkpoint",
    "train",
    "train_files",
]

# name -> the module that defines it (relative to this package, or absolute)
_LAZY = {"DEFAULT_DROPOUT": "edgelstm.config", "TextClassifier": ".model", "TrainOptions": ".trainer",
         "load_checkpoint": ".checkpoint", "load_model": ".checkpoint", "save_checkpoint": ".checkpoint",
         "train": ".trainer", "train_files": ".run"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
