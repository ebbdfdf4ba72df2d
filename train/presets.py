"""Named training recipes: what ``edgelstm train`` does for each option left unset.

``default``: the recipe for users' own data (README, "Training"): a BiLSTM with max+mean pooling
over a vocabulary chosen from the data (words seen at least twice, at most 25,000), dropout 0.3 and word
dropout 0.25, AdamW with a cosine learning rate, early stopping after 3 epochs without progress.
``keras-imdb``: the classic Keras IMDB example exactly (3,800 words, 32/32, Adam, 20 epochs,
patience 5, constant learning rate), the configuration of edgelstm's first shipped model.

Torch-free: the CLI reads the names here (its choices) at import, and ``resolve`` turns a preset
plus the options a user set into the run's ``ModelConfig`` and ``TrainOptions``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgelstm.config import DEFAULT_DROPOUT, ModelConfig

if TYPE_CHECKING:
    from .trainer import TrainOptions

__all__ = ["DEFAULT_PRESET", "KEEP_EPOCHS", "LR_SCHEDULES", "PRESETS", "resolve"]

DEFAULT_PRESET = "default"
LR_SCHEDULES = ("constant", "cosine")
# Which epoch's weights training keeps: the best validation accuracy (early stopping), or the
# last (every epoch runs: the end of a cosine schedule, where validation is too small to tell
# the last epochs apart)
KEEP_EPOCHS = ("best", "last")  # the first is the default

PRESETS: dict[str, dict[str, Any]] = {
    "default": {
        # model
        "arch": "bilstm", "vocab_size": 25000, "max_len": 500, "embed_dim": 100, "hidden": 64, "dense": 256,
        # training
        "epochs": 10, "batch_size": 64, "val_split": 0.1, "patience": 3, "lr": 1e-3, "min_count": 2,
        "dropout": 0.3, "word_dropout": 0.25, "weight_decay": 0.01, "lr_schedule": "cosine",
    },
    "keras-imdb": {
        "arch": "lstm", "vocab_size": 3800, "max_len": 380, "embed_dim": 32, "hidden": 32, "dense": 256,
        "epochs": 20, "batch_size": 64, "val_split": 0.1, "patience": 5, "lr": 1e-3, "min_count": 1,
        "dropout": None,  # the example's per architecture: DEFAULT_DROPOUT
        "word_dropout": 0.0, "weight_decay": 0.0, "lr_schedule": "constant",
    },
}

_MODEL_SETTINGS = ("arch", "vocab_size", "max_len", "embed_dim", "hidden", "dense", "dropout")
# preset names whose TrainOptions field is named otherwise
_OPTION_NAMES = {"lr": "learning_rate"}


def resolve(preset: str = DEFAULT_PRESET, **given: Any) -> tuple[ModelConfig, TrainOptions]:
    """The model and training settings of a run: each setting ``given`` (None: unset) over the
    preset's; an unset ``embed_dim`` is the ``vectors``' dimension when they are given; the
    preset's ``dropout`` of None is the architecture's (``DEFAULT_DROPOUT``). ``given`` may also
    hold any other ``TrainOptions`` field (seed, device, keep, teachers, ...; None: its default)."""
    from .trainer import TrainOptions  # torch: only a run that trains needs it

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if given.get("embed_dim") is None and given.get("vectors") is not None:
        from .vectors import vector_dim

        given["embed_dim"] = vector_dim(Path(given["vectors"]))
    settings = dict(PRESETS[preset])
    settings.update({name: value for name, value in given.items() if value is not None and name in settings})
    if settings["dropout"] is None:
        settings["dropout"] = DEFAULT_DROPOUT[settings["arch"]]
    config = ModelConfig(**{name: settings[name] for name in _MODEL_SETTINGS})
    options = {_OPTION_NAMES.get(name, name): value for name, value in settings.items() if name not in _MODEL_SETTINGS}
    options.update({name: value for name, value in given.items() if value is not None and name not in settings})
    if options.get("vectors") is not None:
        options["vectors"] = str(options["vectors"])
    return config, TrainOptions(**options)
