"""``edgelstm train`` as one call: files in, a checkpoint out.

What the command decides beyond its options lives here, where a library user reaches it too:
which files count as the run's inputs (never overwritten), the preset's values for every unset
setting (``presets.resolve``), validation from a file or by groups, unlabeled texts and their
teachers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgelstm.data import load_dataset, load_labeled

from .presets import ADAPTIVE_PRESET, DEFAULT_PRESET, adapt, describe_recipe, resolve

if TYPE_CHECKING:
    from .model import TextClassifier

__all__ = ["train_files"]

log = logging.getLogger(__name__)


def train_files(
    data: str | Path,
    output: str | Path,
    *,
    preset: str = DEFAULT_PRESET,
    settings: Mapping[str, Any] | None = None,
    test: str | Path | None = None,
    val: str | Path | None = None,
    val_groups: str | Path | None = None,
    unlabeled: Sequence[str | Path] = (),
    teachers: Sequence[str] = (),
    resume: bool = False,
    show_progress: bool = True,
    text_column: str = "text",
    label_column: str = "label",
    skip_bad_rows: bool = False,
) -> TextClassifier:
    """Train on the labeled texts of ``data`` and write the checkpoint ``output``; returns the model.

    ``settings`` are the model and training settings (``presets.resolve``: None or absent takes
    the preset's). ``val`` is a labeled validation file, ``val_groups`` keeps related texts on one
    side of the split (not both); ``unlabeled`` texts are labeled by ``teachers`` ("ngram" or
    model files; default "ngram"). ``output`` may only replace an earlier checkpoint (InputError
    otherwise, before the data is read).
    """
    from .checkpoint import check_train_outputs
    from .distill import NGRAM_TEACHER
    from .trainer import train

    if val is not None and val_groups is not None:
        raise ValueError("give val or val_groups, not both")
    if teachers and not unlabeled:
        raise ValueError("a teacher labels unlabeled texts; give those too")
    settings = dict(settings or {})
    if settings.get("wide_fit"):  # it fits the wide term, so asking for it asks for the term
        if settings.get("wide") is False:
            raise ValueError("wide_fit fits the wide term: not with wide off (--no-wide)")
        settings["wide"] = True
    if settings.get("blend_without_wide") is None and (settings.get("wide") is False or settings.get("blend") is False):
        settings["blend_without_wide"] = False  # no term (--no-wide) or no blend (--no-blend) asked for: none added
    if settings.get("ensemble_teachers") is None and settings.get("distill_weight"):
        settings["ensemble_teachers"] = 0  # the user's own --distill-weight: no teachers set it instead
    inputs = [data, test, val, val_groups, *unlabeled, settings.get("vectors"),
              *(Path(t) for t in teachers if t != NGRAM_TEACHER)]
    check_train_outputs(Path(output), inputs, resume)  # refused before the data is read; train() checks again
    if unlabeled and teachers:
        settings["teachers"] = tuple(teachers)
    columns: dict[str, Any] = {"text_column": text_column, "label_column": label_column,
                               "skip_bad_rows": skip_bad_rows}
    dataset = load_dataset(data, test, **columns)
    if preset == ADAPTIVE_PRESET:  # the data chooses what the user left unset; a set value wins
        recipe = adapt(dataset.train.texts, dataset.train.labels, preset, settings.get("arch"))
        recipe["overridden"] = sorted(name for name in recipe["chosen"] if settings.get(name) is not None)
        for name in recipe["overridden"]:
            recipe["chosen"].pop(name)
            recipe["why"].pop(name)
        settings.update(recipe["chosen"])
        settings["recipe"] = recipe
        log.info("%s", describe_recipe(recipe))
    config, options = resolve(preset, **settings)
    validation = load_labeled(val, **columns).evaluation_split if val is not None else None
    groups = None
    if val_groups is not None:
        from .groups import read_groups

        groups = read_groups(val_groups, data)
    unlabeled_texts = None
    if unlabeled:
        from .pretrain import read_unlabeled

        unlabeled_texts = list(read_unlabeled(unlabeled))
    model, _ = train(dataset, config, options, Path(output), resume=resume, show_progress=show_progress,
                     validation=validation, groups=groups, unlabeled=unlabeled_texts, inputs=inputs)
    return model
