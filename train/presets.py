"""Named training recipes: what ``edgelstm train`` does for each option left unset.

``default``: the recipe for users' own data (README, "Training"): a BiLSTM with max+mean pooling
over a vocabulary chosen from the data (words seen at least twice, at most 25,000), dropout 0.3,
AdamW with a cosine learning rate, early stopping after 3 epochs without progress. Some of its
values adapt to the data (``adapt``): the values below are those it keeps on long-review data
such as IMDB, where they were tuned.
``keras-imdb``: the classic Keras IMDB example exactly (3,800 words, 32/32, Adam, 20 epochs,
patience 5, constant learning rate), the configuration of edgelstm's first shipped model.

Torch-free: the CLI reads the names here (its choices) at import, and ``resolve`` turns a preset
plus the options a user set into the run's ``ModelConfig`` and ``TrainOptions``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgelstm.config import DEFAULT_DROPOUT, ModelConfig
from edgelstm.tokenizer import words

if TYPE_CHECKING:
    from .trainer import TrainOptions

__all__ = [
    "ADAPTIVE_PRESET", "DEFAULT_PRESET", "KEEP_EPOCHS", "LONG_TEXT_BLEND_ARCHS", "LR_SCHEDULES", "PRESETS",
    "SHORT_TEXT_ENSEMBLE_TEACHERS", "SMALL_DATA_BATCH", "SMALL_DATA_BATCH_ARCHS", "SMALL_DATA_MIN_COUNT",
    "SMALL_DATA_TOKENS",
    "WIDE_MEDIAN_TOKENS", "adapt", "describe_recipe", "resolve",
]

DEFAULT_PRESET = "default"
ADAPTIVE_PRESET = "default"  # the preset whose values adapt to the data
LR_SCHEDULES = ("constant", "cosine")
# Which epoch's weights training keeps: the best validation accuracy (early stopping), or the
# last (every epoch runs: the end of a cosine schedule, where validation is too small to tell
# the last epochs apart)
KEEP_EPOCHS = ("best", "last")  # the first is the default

PRESETS: dict[str, dict[str, Any]] = {
    "default": {
        # model
        "arch": "bilstm", "vocab_size": 25000, "max_len": 500, "embed_dim": 100, "hidden": 64, "dense": 256,
        "wide": False, "wide_bigrams": 0,
        # training
        "epochs": 10, "batch_size": 64, "val_split": 0.1, "patience": 3, "lr": 1e-3, "min_count": 2,
        "dropout": 0.3, "word_dropout": 0.25, "weight_decay": 0.01, "lr_schedule": "cosine",
        # wide_fit: an option, not the default: on the six sets' validation splits it won on CR and
        # Pros/Cons, lost on AG News and MPQA and on the SMS and SUBJ BiLSTMs (docs/recipe-rounds.md, the third round)
        "class_weight": "none", "distill_weight": 0.0, "wide_fit": False,
        # with the wide term (trained jointly): blended after early stopping with the linear model
        # fitted alone, a by validation log-loss (blend.py; docs/recipe-rounds.md: the
        # sixth round measured it against the spread between training seeds)
        "blend": True,
        # refit: an option, not the default: after the blend's choices, both models trained again on
        # all the training texts scored higher on 8 of 12 rows but lower on one by more than a text
        # (docs/recipe-rounds.md: the ninth round)
        "refit": False,
        # with the blend and no wide term (long texts): blend anyway, the fold adding the linear
        # model's term; the adaptive recipe turns it on for a BiLSTM on long texts (adapt)
        "blend_without_wide": False,
        # teachers trained first, the model then their student (TrainOptions.ensemble_teachers);
        # the adaptive recipe trains SHORT_TEXT_ENSEMBLE_TEACHERS of them on short texts (adapt)
        "ensemble_teachers": 0,
    },
    "keras-imdb": {
        "arch": "lstm", "vocab_size": 3800, "max_len": 380, "embed_dim": 32, "hidden": 32, "dense": 256,
        "wide": False, "wide_bigrams": 0,
        "epochs": 20, "batch_size": 64, "val_split": 0.1, "patience": 5, "lr": 1e-3, "min_count": 1,
        "dropout": None,  # the example's per architecture: DEFAULT_DROPOUT
        "word_dropout": 0.0, "weight_decay": 0.0, "lr_schedule": "constant",
        "class_weight": "none", "distill_weight": 0.0, "wide_fit": False, "blend": False,
        "refit": False, "blend_without_wide": False, "ensemble_teachers": 0,
    },
}

# max_len: the token count that this share of the training texts fits in (longer ones keep their
# last max_len tokens), rounded up to a multiple of MAX_LEN_STEP, never above the preset's
MAX_LEN_QUANTILE = 0.99
MAX_LEN_STEP = 10


# Short texts get the wide bag-of-words term (ModelConfig.wide) beside the LSTM: on the validation
# splits of CR, MPQA and AG News (median 16, 3 and 38 tokens) it scored higher with both
# architectures (docs/recipe-rounds.md, the second round). Long reviews (IMDB, median 174) keep the
# recipe tuned there: the term was not measured on them.
WIDE_MEDIAN_TOKENS = 100
# Little training text (fewer tokens in all): smaller batches, so the schedule takes more steps.
# On validation, batches of 16 against 64 (with the wide term): CR (60,000 tokens) and MPQA
# (26,000) rose, AG News (239,000) fell.
SMALL_DATA_TOKENS = 100_000
SMALL_DATA_BATCH = 16
# the architectures that get them: the LSTM's validation accuracy fell on CR (-1.8 points), rose on
# MPQA (+1.1) and SMS spam (+0.5): no gain across sets
SMALL_DATA_BATCH_ARCHS = ("bilstm",)
# Short texts and little of them: every word of the training split in the vocabulary (the linear
# model's words too), as TF-IDF keeps them: on held-out validation of CR, MPQA and SMS spam the
# student's blend scored higher on 5 of 6 rows, +1.12 points, none more than 0.3 texts under; on
# all six sets it lost up to 3.3 texts on SUBJ's LSTM and Pros/Cons (docs/recipe-rounds.md, the
# seventeenth round). The int8 file grows with the vocabulary.
SMALL_DATA_MIN_COUNT = 1
# Long texts (no wide term) whose model is still blended with the linear model after training, the
# fold adding its term: on IMDB's held-out validation reviews the BiLSTM's blend scored higher
# with both training seeds (docs/recipe-rounds.md, the thirteenth round). Not the LSTM: it was not
# measured, and a term over the whole text would take away its state inputs (streaming).
LONG_TEXT_BLEND_ARCHS = ("bilstm",)
# Short texts (the wide term's median) train this many teacher models first (seeds seed, seed + 1,
# ...), the model then their student: on held-out validation of the six sets it scored higher on
# 9 of 12 set and architecture rows, +0.56 points, no row more than a text under
# (docs/recipe-rounds.md, the sixteenth round). The model is the same size; training takes this
# many runs more. Long reviews: not measured (IMDB's runs are long already).
SHORT_TEXT_ENSEMBLE_TEACHERS = 3


def _quantile(sorted_values: Sequence[int], share: float) -> int:
    return sorted_values[min(len(sorted_values) - 1, int(share * len(sorted_values)))]


def adapt(texts: Sequence[str], labels: Sequence[str], preset: str = ADAPTIVE_PRESET,
          arch: str | None = None) -> dict[str, Any]:
    """The preset's values with those that depend on the data chosen from ``texts`` and
    ``labels`` (all of the training data) for ``arch`` (None: the preset's), plus what was seen
    and why each value was chosen: ``{"preset", "data": {...}, "chosen": {name: value},
    "why": {name: reason}}``. Deterministic: the same data gives the same recipe."""
    base = PRESETS[preset]
    lengths = sorted(len(words(text)) for text in texts)
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    data = {
        "texts": len(lengths), "labels": len(counts), "tokens": sum(lengths),
        "median_tokens": _quantile(lengths, 0.5) if lengths else 0,
        "p99_tokens": _quantile(lengths, MAX_LEN_QUANTILE) if lengths else 0,
        "smallest_label_share": round(min(counts.values()) / max(len(lengths), 1), 4) if counts else 0.0,
    }
    chosen: dict[str, Any] = {}
    why: dict[str, str] = {}
    fit = MAX_LEN_STEP * math.ceil(max(data["p99_tokens"], 1) / MAX_LEN_STEP)
    chosen["max_len"] = min(base["max_len"], fit)
    why["max_len"] = (f"{MAX_LEN_QUANTILE:.0%} of the texts have at most {data['p99_tokens']} tokens"
                      + (f"; at most {base['max_len']}" if fit > base["max_len"] else ""))
    short = data["median_tokens"] <= WIDE_MEDIAN_TOKENS
    chosen["wide"] = short or base["wide"]
    why["wide"] = (f"median {data['median_tokens']} tokens: short texts, where a bag-of-words term helps" if short
                   else f"median {data['median_tokens']} tokens: long texts keep the recipe tuned on reviews")
    small = data["tokens"] < SMALL_DATA_TOKENS
    arch = arch or base["arch"]
    chosen["batch_size"] = SMALL_DATA_BATCH if small and arch in SMALL_DATA_BATCH_ARCHS else base["batch_size"]
    why["batch_size"] = (f"{data['tokens']:,} training tokens, fewer than {SMALL_DATA_TOKENS:,}: more, smaller steps"
                         if small and arch in SMALL_DATA_BATCH_ARCHS else
                         f"{data['tokens']:,} training tokens" if not small else
                         f"{arch}: smaller batches were not better on validation")
    chosen["min_count"] = SMALL_DATA_MIN_COUNT if short and small else base["min_count"]
    why["min_count"] = (f"short texts, {data['tokens']:,} training tokens, fewer than {SMALL_DATA_TOKENS:,}: every "
                        "word, as TF-IDF keeps them" if short and small else
                        f"{data['tokens']:,} training tokens: words seen once left out (keeping them was not "
                        "better on more text)" if short else "long texts: words seen once left out (the recipe "
                        "tuned on reviews)")
    chosen["blend_without_wide"] = not chosen["wide"] and arch in LONG_TEXT_BLEND_ARCHS
    why["blend_without_wide"] = ("short texts: the blend folds into the wide term" if chosen["wide"] else
                                 f"long texts, a {arch}: the linear model is blended in after training, the fold "
                                 "adding its term" if chosen["blend_without_wide"] else
                                 f"long texts, an {arch}: no term over the whole text (it keeps its state inputs)")
    chosen["ensemble_teachers"] = SHORT_TEXT_ENSEMBLE_TEACHERS if short else base["ensemble_teachers"]
    why["ensemble_teachers"] = (f"short texts: the model learns from {SHORT_TEXT_ENSEMBLE_TEACHERS} teacher models "
                                f"of other seeds first; training takes {SHORT_TEXT_ENSEMBLE_TEACHERS + 1} runs"
                                if short else "long texts: one run (teachers were not measured there)")
    return {"preset": preset, "data": data, "chosen": chosen, "why": why}


def describe_recipe(recipe: dict[str, Any]) -> str:
    """One line: the data seen, each adapted value and why, the values flags set instead."""
    data = recipe["data"]
    chosen = ", ".join(f"{name} {value} ({recipe['why'][name]})" for name, value in recipe["chosen"].items())
    line = (f"recipe {recipe['preset']} adapted to {data['texts']} texts, {data['labels']} labels, "
            f"median {data['median_tokens']} tokens: {chosen or 'nothing left to adapt'}")
    if recipe.get("overridden"):
        line += f"; set by flags: {', '.join(recipe['overridden'])}"
    return line


_MODEL_SETTINGS = ("arch", "vocab_size", "max_len", "embed_dim", "hidden", "dense", "dropout", "wide", "wide_bigrams")
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
