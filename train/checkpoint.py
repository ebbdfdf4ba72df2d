"""``model.pt``: weights, config (vocabulary and labels included), history, resume state."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from edgelstm.config import ModelConfig
from edgelstm.data import HELD_OUT_CAP, LabeledTexts
from edgelstm.errors import ModelError
from edgelstm.files import atomic_write, check_output

from .model import TextClassifier

__all__ = ["check_train_outputs", "history_paths", "save_checkpoint", "load_checkpoint", "load_held_out", "load_model"]

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


def _is_checkpoint(path: Path) -> bool:
    try:
        load_checkpoint(path)
    except ModelError:
        return False
    return True


def _is_history(path: Path) -> bool:
    """A history.json as training writes it: a JSON list of per-epoch objects."""
    try:
        history = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(history, list) and all(isinstance(h, dict) and "epoch" in h for h in history)


def _is_png(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def history_paths(output: Path) -> tuple[Path, Path]:
    """The learning curves written beside a checkpoint: ``X.history.json`` and ``X.history.png``."""
    return output.with_suffix(".history.json"), output.with_suffix(".history.png")


def check_train_outputs(output: Path, inputs: Sequence[str | Path | None] = (), resume: bool = False) -> list[Path]:
    """What training writes (the checkpoint, its history.json and PNG) may replace earlier
    artifacts of their kind, never an input (data, vectors, a teacher) or another file: an
    InputError (exit 4) before any work (edgelstm.files.check_output). ``resume`` continues the
    checkpoint there (resuming checks it). Returns the earlier artifacts that will be replaced."""
    output = Path(output)
    resuming = resume and output.is_file()
    replaced = []
    if check_output(output, inputs=inputs, replaceable=lambda p: resuming or _is_checkpoint(p),
                    what="an edgelstm checkpoint") and not resuming:
        replaced.append(output)
    history_json, history_png = history_paths(output)
    for path, replaceable, what in ((history_json, _is_history, "a training history"),
                                    (history_png, _is_png, "a PNG plot")):
        if check_output(path, inputs=inputs, replaceable=replaceable, what=what):
            replaced.append(path)
    return replaced
