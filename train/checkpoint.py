"""``model.pt``: weights, config (vocabulary and labels included), history, resume state."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from edgelstm.config import ModelConfig
from edgelstm.data import HELD_OUT_CAP, LabeledTexts
from edgelstm.errors import ModelError
from edgelstm.files import atomic_write

from .model import TextClassifier

__all__ = ["save_checkpoint", "load_checkpoint", "load_held_out", "load_model"]

CHECKPOINT_FORMAT = "edgelstm-checkpoint"


def save_checkpoint(
    path: Path,
    model: TextClassifier,
    history: list[dict[str, Any]],
    resume: dict[str, Any] | None = None,
    held_out: LabeledTexts | None = None,
) -> None:
    state = {
        "format": CHECKPOINT_FORMAT,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": history,
        "resume": resume,  # None once training has finished
        # the validation split (capped), only where asked for (TrainOptions.keep_validation_texts):
        # int8 recipes can then be judged on unseen texts later without --data
        "held_out": None if held_out is None else {
            "texts": held_out.texts[:HELD_OUT_CAP], "labels": held_out.labels[:HELD_OUT_CAP]
        },
    }
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path) -> dict[str, Any]:

    try:
        with warnings.catch_warnings():  # torch warns about odd bytes, then raises: the error says it
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ModelError(f"{path}: not an edgelstm checkpoint")
    return state


def load_held_out(path: Path) -> LabeledTexts | None:
    """The checkpoint's validation split, if it was saved with one (``train --keep-validation-texts``)."""
    held_out = load_checkpoint(path).get("held_out")
    return LabeledTexts(held_out["texts"], held_out["labels"]) if held_out else None


def load_model(path: Path) -> TextClassifier:
    """The model of a checkpoint, in eval mode on the CPU."""
    state = load_checkpoint(path)
    config = ModelConfig.from_dict(state["config"])
    model = TextClassifier(config)
    model.load_state_dict(state["state_dict"])
    return model.eval()
