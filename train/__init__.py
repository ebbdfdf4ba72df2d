"""Training (needs the ``train`` extra: PyTorch).

Imports nothing at import time: its names load on first use (PEP 562), so torch-free submodules
(``presets``, ``pretrain``, ``vectors``, ``groups``, ``distill``) work with their own extra only,
e.g. ``edgelstm pretrain`` with ``pip install 'edgelstm[pretrain]'`` and no torch.
"""

from __future__ import annotations

from edgelstm._lazy import lazy_names

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

__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
