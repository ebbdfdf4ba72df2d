"""Issue 17, a fourth round: the default model blended in logit space with the fitted linear model.

    pip install ".[train,bench]"
    python benchmarks/blend.py                                   # the six sets, bilstm and lstm
    python benchmarks/blend.py --sets cr mpqa --archs bilstm
    python benchmarks/blend.py --holdout                         # validation cut in two (run_holdout)
    python benchmarks/blend.py --holdout --refit --sets cr mpqa  # plus refits on train + A (refit)
    python benchmarks/blend.py --holdout --refit --seeds 0 1 2    # each model trained with 3 seeds (seeds_table)
    python benchmarks/blend.py --holdout --plain-too --seeds 0 1 2 # idf against plain features (idf_table)
    python benchmarks/blend.py --holdout --vectors-too imdb.vec --seeds 0 1 2  # with word vectors too (variant_table)
    python benchmarks/blend.py --holdout --ema-too 0.99 --seeds 0 1 2        # with a weight average too (variant_table)
    python benchmarks/blend.py --holdout --l2-too --seeds 0 1 2  # linear model L2-normed too (l2norm_table)
    python benchmarks/blend.py --holdout --ensemble-too --seeds 0 1 2        # the seeds as one model (ensemble_table)
    python benchmarks/blend.py --holdout --distill-ensemble 0.5 --seeds 0 1 2  # students of the seeds (variant_table)
    python benchmarks/blend.py --holdout --distill-ensemble 0.5 --seeds 0 1 2 --min-count 1 \
        --against default.jsonl    # every model with another recipe value, against a run's --out (against_table)
    python benchmarks/blend.py --holdout --distill-ensemble 0.5 --seeds 0 1 2 --teachers-of-both \
        --against default.jsonl    # students of both architectures' seed models, against a run's --out
    python benchmarks/blend.py --holdout --distill-ensemble 0.5 --seeds 0 1 2 --blended-teachers \
        --against default.jsonl    # students of the seed models' blends, against a run's --out
    python benchmarks/blend.py --holdout --distill-ensemble 0.5 --seeds 0 1 2 --augment-too 1 \
        --against default.jsonl    # students also taught on perturbed copies, against a run's --out
    python benchmarks/blend.py --holdout --distill-ensemble 0.5 --seeds 0 1 2 --extra-teachers 2 \
        --against default.jsonl    # students of five seed models each, against a run's --out
    python benchmarks/blend.py --holdout --distill-ensemble 0.5 --seeds 0 1 2 \
        --linear-refit-too         # each student's blend with the linear model refit on train + A too
    python benchmarks/blend.py --holdout --sets --imdb aclImdb_v1_labeled.tar.gz --archs bilstm  # IMDB alone

For each set and architecture it trains the default recipe (``edgelstm.train.run.train_files``,
what ``edgelstm train NAME.train.jsonl --arch ARCH --threads 1`` runs), rebuilds the run's own
split (same seed: the same validation texts, similar texts on one side, and vocabulary), fits the
linear model on that training split (``train.linear.choose_wide``: L2 and bigrams chosen on
validation accuracy; once per set, the split does not depend on the architecture) and scores on
the validation split, in PyTorch:

- the default model, the linear model alone;
- ``(1 - a) * default_logits + a * linear_logits`` with ``a`` from 0, 0.1, ..., 1 chosen by
  (i) validation accuracy, (ii) validation log-loss; ties: the smallest ``a`` (nearest the default);
- the choice's stability: ``a`` chosen (by each rule) on one seeded half of validation, scored on
  the other half, and the other way round, so each text is scored once, by an ``a`` chosen without
  it; the accuracy over all of validation, averaged over HALVINGS random halvings, against the
  default's (which the halving does not change).

``a`` is chosen on the split that early stopping also used, so the full-validation blend numbers
are optimistic; the half-split numbers are not. The rule, fixed before any run: log-loss (an
accuracy plateau over 339 CR texts picks ``a`` by a text or two; log-loss is smooth), ties the
smallest ``a``; the accuracy rule is shown beside it. The test split is scored only after the rule is
fixed, as a check (``--test``). ``--holdout`` instead: early stopping, the linear model's L2 and
``a`` on half of the validation split, the default and the blend scored on the other half, which
nothing touched (``run_holdout``). ``--holdout --refit`` adds, per model, a refit on the training
split plus A with what A chose (the default's best epoch, the linear model's L2 and bigrams), also
scored on B (``refit``). ``--seeds S ...`` (with ``--holdout``): every training above run once per
training seed (``TrainOptions.seed``: initial weights, batch order, dropout), the split, the cut
and the linear model unchanged, so the rows of one set and architecture differ only in the seed;
``seeds_table`` gives per set and architecture the mean and min..max on B of each model and the
paired difference blend - default per seed. Prints markdown tables; ``--out`` writes JSON lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from edgelstm.data import Dataset, load_dataset
from edgelstm.metrics import classification_report
from edgelstm.tokenizer import Tokenizer, words
from edgelstm.train.blend import BLEND_GRID, choose_a, fold, log_loss
from edgelstm.train.checkpoint import load_model, save_checkpoint
from edgelstm.train.groups import similar_text_groups
from edgelstm.train.linear import choose_wide
from edgelstm.train.presets import ADAPTIVE_PRESET, adapt, resolve
from edgelstm.train.run import train_files
from edgelstm.train.trainer import Encoded, _prepare, _split, model_logits, train

SETS = ("cr", "mpqa", "sms-spam", "subj", "pros-cons", "ag-news-7600")
DATA = Path(__file__).resolve().parent.parent.parent / "shared/datasets/text-classification"
# "default" here is the model before the default recipe's own blend and teachers: this script
# blends it itself (and trains students itself: --distill-ensemble); applied over adapt's choices
BEFORE_BLEND = {"blend": False, "ensemble_teachers": 0}
HALVINGS = 10  # seeded random halvings of validation for the stability check, averaged


# a word no vocabulary holds (words-v1 keeps it whole): the model reads it as the unknown id
MASK_WORD = "xxmaskxx"
SPAN_SHARE = 0.25  # the share of copies that are a phrase of the text; the others are masked
MASK_SHARE = 0.1  # each word of a masked copy is masked with this probability (at least one is)
MAX_SPAN = 5  # a phrase copy has 1 to this many words (fewer than the text)


def perturbed_copies(texts: Sequence[str], copies: int = 1, seed: int = 0) -> list[str]:
    """``--augment-too``, the twenty-first round (after Tang et al. 2019, who sampled phrases of
    the training texts and masked words for their teacher to label): ``copies`` perturbed copies
    of each text of at least two words (shorter ones have no phrase or mask that keeps a word),
    each by chance a phrase of 1 to ``MAX_SPAN`` of its words (fewer than the text) or the text
    with words masked, as words-v1 words joined by spaces, in the texts' order. Deterministic:
    the same texts, count and seed give the same copies."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    for text in texts:
        tokens = words(text)
        if len(tokens) < 2:
            continue
        for _ in range(copies):
            if rng.random() < SPAN_SHARE:
                n = int(rng.integers(1, min(MAX_SPAN, len(tokens) - 1) + 1))
                start = int(rng.integers(0, len(tokens) - n + 1))
                kept = tokens[start : start + n]
            else:
                masked = rng.random(len(tokens)) < MASK_SHARE
                if not masked.any():
                    masked[int(rng.integers(len(tokens)))] = True
                kept = [MASK_WORD if mask else token for token, mask in zip(tokens, masked)]
            out.append(" ".join(kept))
    return out


@dataclass(frozen=True)
class Teaching:
    """How ``--distill-ensemble``'s students are taught beyond the recipe's way (its own
    architecture's seed models, as trained, on the training texts alone): the nineteenth to
    twenty-second rounds of docs/recipe-rounds.md."""

    of_both_archs: bool = False  # the teachers: the seed models of every architecture run
    blended: bool = False  # each teacher its seed model blended with the linear model (a on A), folded
    copies: int = 0  # this many perturbed copies of each training text (perturbed_copies), teacher-labeled
    extra: int = 0  # this many more seed models per architecture, trained as teachers only


def split_of(dataset, arch: str):
    """The encoded train/val/test splits of the default run for ``arch`` (as train_files builds them)."""
    settings: dict = {"arch": arch, "threads": 1}
    recipe = adapt(dataset.train.texts, dataset.train.labels, ADAPTIVE_PRESET, arch)
    settings.update({**recipe["chosen"], **BEFORE_BLEND})
    config, options = resolve(ADAPTIVE_PRESET, **settings)
    config, data, _ = _prepare(dataset, config, options, None, None)
    return config, data


def predict(logits: np.ndarray) -> np.ndarray:
    return (logits[:, 0] > 0).astype(np.int64) if logits.shape[1] == 1 else logits.argmax(axis=1)


def accuracy(logits: np.ndarray, targets: np.ndarray) -> float:
    return float((predict(logits) == targets).mean())


def choose(deep: np.ndarray, wide: np.ndarray, targets: np.ndarray, rule: str) -> float:
    """The grid's ``a`` with the best accuracy, or by log-loss the recipe's own choice
    (``choose_a``); ties: the smallest."""
    if rule == "logloss":
        return choose_a(deep, wide, targets)[0]
    scores = {a: accuracy((1 - a) * deep + a * wide, targets) for a in BLEND_GRID}
    return min(BLEND_GRID, key=lambda a: (-scores[a], a))


def halves(deep: np.ndarray, wide: np.ndarray, targets: np.ndarray, rule: str, seed: int = 0):
    """(correct by the blend, correct by the default, the two a's): ``a`` chosen on one half, scored on the other."""
    order = np.random.default_rng(seed).permutation(len(targets))
    parts = (order[: len(order) // 2], order[len(order) // 2:])
    correct_blend = correct_default = 0
    chosen = []
    for pick, score in (parts, parts[::-1]):
        a = choose(deep[pick], wide[pick], targets[pick], rule)
        chosen.append(a)
        correct_blend += int((predict((1 - a) * deep[score] + a * wide[score]) == targets[score]).sum())
        correct_default += int((predict(deep[score]) == targets[score]).sum())
    return correct_blend, correct_default, chosen


def macro_f1(labels, logits: np.ndarray, targets: np.ndarray) -> float:
    return float(classification_report(labels, targets, predict(logits))["macro_f1"])


def run_set(name: str, archs: list[str], folder: Path, with_test: bool) -> list[dict]:
    dataset = load_dataset(DATA / f"{name}.train.jsonl", DATA / f"{name}.test.jsonl")
    rows = []
    fit = None
    for arch in archs:
        config, data = split_of(dataset, arch)
        val, test = data["val"], data["test"]
        if fit is None:
            start = time.perf_counter()
            train = data["train"]
            fit = choose_wide(train.sequences, train.targets, val.sequences, val.targets,
                              config.vocab_size, config.num_outputs)
            fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        model = train_files(DATA / f"{name}.train.jsonl", folder / f"{name}-{arch}.pt",
                            settings={"arch": arch, **BEFORE_BLEND}, test=DATA / f"{name}.test.jsonl",
                            show_progress=False)
        train_seconds = time.perf_counter() - start
        assert model.config.vocabulary == config.vocabulary, "the rebuilt split differs from the run's"
        labels = config.labels
        row = {"set": name, "arch": arch, "val_texts": len(val.targets), "linear_l2": fit.l2,
               "linear_bigrams": fit.bigrams, "fit_seconds": round(fit_seconds, 1),
               "train_seconds": round(train_seconds, 1),
               "model_val_accuracy": model.config.metrics["val_accuracy"]}
        deep_val, wide_val = model_logits(model, val, "cpu"), fit.logits(val.sequences, config.vocab_size)
        by = {"default": 0.0, "linear": 1.0,
              "blend_accuracy": choose(deep_val, wide_val, val.targets, "accuracy"),
              "blend_logloss": choose(deep_val, wide_val, val.targets, "logloss")}
        row["curve"] = {f"{a:.1f}": round(accuracy((1 - a) * deep_val + a * wide_val, val.targets), 4)
                        for a in BLEND_GRID}
        for key, a in by.items():
            blend = (1 - a) * deep_val + a * wide_val
            row[key] = {"a": a, "val_accuracy": accuracy(blend, val.targets),
                        "val_macro_f1": macro_f1(labels, blend, val.targets),
                        "val_logloss": log_loss(blend, val.targets)}
        for rule in ("accuracy", "logloss"):
            runs = [halves(deep_val, wide_val, val.targets, rule, seed) for seed in range(HALVINGS)]
            row[f"halves_{rule}"] = {"blend": float(np.mean([r[0] for r in runs])) / len(val.targets),
                                     "default": float(np.mean([r[1] for r in runs])) / len(val.targets),
                                     "a": [a for r in runs for a in r[2]]}
        if with_test:
            deep_test, wide_test = model_logits(model, test, "cpu"), fit.logits(test.sequences, config.vocab_size)
            for key, a in by.items():
                blend = (1 - a) * deep_test + a * wide_test
                row[key].update(test_accuracy=accuracy(blend, test.targets),
                                test_macro_f1=macro_f1(labels, blend, test.targets))
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def refit(part, config, options, epochs: int, output: Path):
    """The recipe trained from scratch on ``part`` (train + A) for exactly ``epochs`` epochs, same
    seed: no validation split (``val_split`` 0), the last epoch kept (``keep="last"``: no early
    stopping), on the first ``epochs`` of the full recipe's cosine (``schedule_epochs``), as the
    trainer's own refit (which this round measured before it was built)."""
    fixed = replace(options, epochs=epochs, val_split=0.0, keep="last", schedule_epochs=options.epochs)
    model, _ = train(Dataset(part), config, fixed, output, show_progress=False)
    return model


def refit_linear(fit, part, b_enc: Encoded, tokenizer: Tokenizer, labels: Sequence[str], vocab_size: int,
                 outputs: int):
    """The linear model ``fit`` fitted again on ``part`` (train + A, read by ``tokenizer``) with what A
    chose for it (L2, bigrams, idf): the only candidate, so nothing is chosen on ``b_enc``."""
    part_enc = Encoded.of(part, tokenizer, labels)
    return choose_wide(part_enc.sequences, part_enc.targets, b_enc.sequences, b_enc.targets, vocab_size, outputs,
                       l2_grid=(fit.l2,), bigram_rows=(fit.bigrams,), idf_options=(fit.idf,))


def run_holdout(name: str, archs: list[str], folder: Path, seed: int = 1, with_refit: bool = False,
                train_seeds: tuple[int, ...] = (0,), plain_too: bool = False,
                variant: dict | None = None, path: Path | None = None, l2_too: bool = False,
                ensemble_too: bool = False, distill_ensemble: float = 0.0,
                recipe_changes: dict | None = None, teaching: Teaching = Teaching(),
                linear_refit_too: bool = False) -> list[dict]:
    """``--holdout``: the run's validation split cut in two (similar texts on one side): early
    stopping, the linear model's L2 and ``a`` all on part A, as the built recipe would do it;
    part B touched by nothing, the default and the blend scored on it. ``seed``: the cut's.
    ``with_refit``: also both models refit on train + A (refit; the linear one with A's L2 and
    bigrams) and their blend with the ``a`` the train-only models chose on A, scored on B.
    ``train_seeds``: each architecture trained (and refit) once per training seed, one row each;
    the linear model does not depend on it and is fitted once per set. ``plain_too``: also the
    linear model without idf (``idf_options=(False,)``, the fourth to sixth rounds' features) and
    its blend, ``a`` chosen on A the same way (idf_table); ``l2_too`` the same with each text's row
    L2-normed instead of divided by its length (``norm="l2"``, l2norm_table); ``ensemble_too``
    per architecture the mean of its seeds' logits and that mean's blend (ensemble_table);
    ``distill_ensemble`` > 0: then per seed a student, the same recipe trained with this share of
    its training texts' targets from the seeds' models (``distill_teachers``) and its blend, as a
    variant (variant_table); ``teaching``: how the students are taught beyond that (Teaching).
    ``variant``: also the same model trained with these TrainOptions changed (``{"vectors":
    FILE}``: started from word vectors;
    ``{"ema_decay": D}``: judged and kept as a weight average; the same split, seed and linear
    model), its blend's ``a`` chosen on A the same way (variant_table). ``path``: the training data
    (default: the set ``name``'s training file; IMDB's archive: its training reviews).
    ``recipe_changes``: recipe values set over adapt's for every model of the run (``{"min_count":
    1}``: the vocabulary, and so the linear model's words, too), recorded in each row.
    ``linear_refit_too`` (with ``distill_ensemble``): also each student blended, with the same
    ``a``, with the linear model refit on train + A (A's L2, bigrams and idf; the vocabulary of the
    training split, as the models read), as the baselines refit after choosing C
    (linear_refit_table)."""
    dataset = load_dataset(path or DATA / f"{name}.train.jsonl")
    texts = dataset.train
    groups = similar_text_groups(texts.texts)
    train_rows, val_rows = _split(np.random.default_rng(0).permutation(len(texts)), 0.1, groups)
    b_rows, a_rows = _split(val_rows[np.random.default_rng(seed).permutation(len(val_rows))], 0.5, groups)
    train_part, a_part, b_part = texts.subset(train_rows), texts.subset(a_rows), texts.subset(b_rows)
    train_a_part = texts.subset(np.concatenate([train_rows, a_rows]))
    rows, fit, refit_fit = [], None, None
    other_linear = {**({"plain": {"idf_options": (False,)}} if plain_too else {}),
                    **({"l2norm": {"norm": "l2"}} if l2_too else {})}
    other_fits: dict = {}
    seed_logits: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}  # arch -> (A, B) logits per seed
    recipes: dict[tuple[str, int], tuple] = {}  # (arch, seed) -> the recipe's (config, options)
    for arch, train_seed in ((arch, s) for arch in archs for s in train_seeds):
        settings: dict = {"arch": arch, "threads": 1, "seed": train_seed}
        settings.update({**adapt(texts.texts, texts.labels, ADAPTIVE_PRESET, arch)["chosen"], **BEFORE_BLEND,
                         **(recipe_changes or {})})
        config, options = resolve(ADAPTIVE_PRESET, **settings)
        recipe_config = config
        start = time.perf_counter()
        model, _ = train(Dataset(train_part), config, options, folder / f"{name}-{arch}-{train_seed}-a.pt",
                         show_progress=False, validation=a_part)
        train_seconds = time.perf_counter() - start
        config = model.config
        tokenizer = Tokenizer(config.vocabulary, config.max_len)
        train_enc, a_enc, b_enc = (Encoded.of(part, tokenizer, config.labels) for part in (train_part, a_part, b_part))
        if fit is None:
            fit = choose_wide(train_enc.sequences, train_enc.targets, a_enc.sequences, a_enc.targets,
                              config.vocab_size, config.num_outputs)
        for prefix, changes in other_linear.items():  # plain: without idf; l2norm: L2-normed rows
            if prefix not in other_fits:
                other_fits[prefix] = choose_wide(train_enc.sequences, train_enc.targets, a_enc.sequences,
                                                 a_enc.targets, config.vocab_size, config.num_outputs, **changes)
        deep_a, wide_a = model_logits(model, a_enc, "cpu"), fit.logits(a_enc.sequences, config.vocab_size)
        deep_b, wide_b = model_logits(model, b_enc, "cpu"), fit.logits(b_enc.sequences, config.vocab_size)
        row = {"set": name, "arch": arch, "seed": train_seed, "a_texts": len(a_part), "b_texts": len(b_part),
               "train_seconds": round(train_seconds, 1), "default_a": accuracy(deep_a, a_enc.targets),
               "default_b": accuracy(deep_b, b_enc.targets), "linear_b": accuracy(wide_b, b_enc.targets),
               "recipe_changes": recipe_changes or {}}
        for rule in ("accuracy", "logloss"):
            a = choose(deep_a, wide_a, a_enc.targets, rule)
            row[f"blend_{rule}"] = {"a": a, "b": accuracy((1 - a) * deep_b + a * wide_b, b_enc.targets)}
        row.update(linear_l2=fit.l2, linear_bigrams=fit.bigrams, linear_idf=fit.idf)
        for prefix, other in other_fits.items():
            other_a = other.logits(a_enc.sequences, config.vocab_size)
            other_b = other.logits(b_enc.sequences, config.vocab_size)
            a = choose(deep_a, other_a, a_enc.targets, "logloss")
            row.update({f"{prefix}_linear_b": accuracy(other_b, b_enc.targets), f"{prefix}_l2": other.l2,
                        f"{prefix}_bigrams": other.bigrams,
                        f"{prefix}_blend_logloss": {"a": a, "b": accuracy((1 - a) * deep_b + a * other_b,
                                                                         b_enc.targets)}})
        if variant is not None:
            changed, _ = train(Dataset(train_part), recipe_config, replace(options, **variant),
                               folder / f"{name}-{arch}-{train_seed}-variant.pt", show_progress=False,
                               validation=a_part)
            assert changed.config.vocabulary == config.vocabulary, "a variant does not change the vocabulary"
            var_a, var_b = model_logits(changed, a_enc, "cpu"), model_logits(changed, b_enc, "cpu")
            a = choose(var_a, wide_a, a_enc.targets, "logloss")
            row.update(variant=variant, variant_default_b=accuracy(var_b, b_enc.targets),
                       variant_blend_logloss={"a": a, "b": accuracy((1 - a) * var_b + a * wide_b, b_enc.targets)})
            if "vectors_coverage" in changed.config.metrics:
                row["vectors_coverage"] = changed.config.metrics["vectors_coverage"]
        if with_refit:
            epochs = model.config.metrics["best_epoch"]
            start = time.perf_counter()
            again = refit(train_a_part, recipe_config, options, epochs, folder / f"{name}-{arch}-{train_seed}-refit.pt")
            refit_seconds = time.perf_counter() - start
            refit_tokenizer = Tokenizer(again.config.vocabulary, again.config.max_len)
            b_refit_enc = Encoded.of(b_part, refit_tokenizer, again.config.labels)
            if refit_fit is None:
                refit_fit = refit_linear(fit, train_a_part, b_refit_enc, refit_tokenizer, again.config.labels,
                                         again.config.vocab_size, again.config.num_outputs)
            deep_rb = model_logits(again, b_refit_enc, "cpu")
            wide_rb = refit_fit.logits(b_refit_enc.sequences, again.config.vocab_size)
            row.update(best_epoch=epochs, refit_seconds=round(refit_seconds, 1),
                       refit_b=accuracy(deep_rb, b_refit_enc.targets),
                       linear_refit_b=accuracy(wide_rb, b_refit_enc.targets))
            for rule in ("accuracy", "logloss"):
                a = row[f"blend_{rule}"]["a"]
                row[f"refit_blend_{rule}"] = {"a": a, "b": accuracy((1 - a) * deep_rb + a * wide_rb,
                                                                    b_refit_enc.targets)}
        seed_logits.setdefault(arch, []).append((deep_a, deep_b))
        recipes[arch, train_seed] = recipe_config, options
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    # below, the last run's encodings and linear logits (wide_a, wide_b) serve every architecture:
    # the split's vocabulary is the same
    if ensemble_too:  # the seeds' models as one: their mean logits, blended with a chosen on A
        for arch, logits in seed_logits.items():
            mean_a = np.mean([pair[0] for pair in logits], axis=0)
            mean_b = np.mean([pair[1] for pair in logits], axis=0)
            a = choose(mean_a, wide_a, a_enc.targets, "logloss")
            ensemble = {"models": len(logits), "default_b": accuracy(mean_b, b_enc.targets),
                        "blend_logloss": {"a": a, "b": accuracy((1 - a) * mean_b + a * wide_b, b_enc.targets)}}
            for row in rows:
                if row["arch"] == arch:
                    row["ensemble"] = ensemble
            print(json.dumps({"set": name, "arch": arch, "ensemble": ensemble}), file=sys.stderr, flush=True)
    teacher_seeds = tuple(train_seeds) + tuple(max(train_seeds) + 1 + i for i in range(teaching.extra))
    if distill_ensemble > 0:  # students of the seeds' models, once all of them are trained
        # --linear-refit-too: the same refit linear model for every student (the split's vocabulary)
        refit_b = (refit_linear(fit, train_a_part, b_enc, tokenizer, config.labels, config.vocab_size,
                                config.num_outputs).logits(b_enc.sequences, config.vocab_size)
                   if linear_refit_too else None)
        for arch in archs:  # teachers only: more seeds of each architecture's recipe
            recipe_config, options = recipes[arch, train_seeds[0]]
            for extra in teacher_seeds[len(train_seeds):]:
                train(Dataset(train_part), recipe_config, replace(options, seed=extra),
                      folder / f"{name}-{arch}-{extra}-a.pt", show_progress=False, validation=a_part)
        if teaching.blended:  # each seed model folded with its blend's a, as a teacher
            for row in rows:
                seed_model = load_model(folder / f"{name}-{row['arch']}-{row['seed']}-a.pt")
                fold(seed_model, fit, row["blend_logloss"]["a"])
                save_checkpoint(folder / f"{name}-{row['arch']}-{row['seed']}-a-blended.pt", seed_model, [])
        for row in rows:
            arch, train_seed = row["arch"], row["seed"]
            teacher_archs = archs if teaching.of_both_archs else [arch]
            teachers = tuple(str(folder / f"{name}-{t}-{s}-a{'-blended' if teaching.blended else ''}.pt")
                             for t in teacher_archs for s in teacher_seeds)
            recipe_config, options = recipes[arch, train_seed]
            changes = {"distill_weight": distill_ensemble, "distill_teachers": teachers,
                       **({"teachers": teachers} if teaching.copies else {})}
            copies = perturbed_copies(train_part.texts, teaching.copies, train_seed) if teaching.copies else None
            student, _ = train(Dataset(train_part), recipe_config, replace(options, **changes),
                               folder / f"{name}-{arch}-{train_seed}-student.pt", show_progress=False,
                               validation=a_part, unlabeled=copies)
            student_a, student_b = model_logits(student, a_enc, "cpu"), model_logits(student, b_enc, "cpu")
            a = choose(student_a, wide_a, a_enc.targets, "logloss")
            if refit_b is not None:
                row.update(linear_refit_b=accuracy(refit_b, b_enc.targets),
                           linear_refit_blend={"a": a, "b": accuracy((1 - a) * student_b + a * refit_b,
                                                                     b_enc.targets)})
            row.update(variant={"distill_weight": distill_ensemble, "distill_teachers": len(teachers),
                                "teacher_archs": list(teacher_archs), "blended_teachers": teaching.blended,
                                "augment_copies": teaching.copies,
                                "teacher_labeled": student.config.metrics.get("teacher_labeled_examples", 0)},
                       variant_default_b=accuracy(student_b, b_enc.targets),
                       variant_blend_logloss={"a": a, "b": accuracy((1 - a) * student_b + a * wide_b,
                                                                   b_enc.targets)})
            print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def holdout_table(rows: list[dict]) -> str:
    lines = ["| set | arch | A / B texts | default on A | default on B | linear alone on B "
             "| blend on B, a by accuracy on A | blend on B, a by log-loss on A |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['set']} | {r['arch']} | {r['a_texts']} / {r['b_texts']} | {r['default_a']:.2%} | "
                     f"{r['default_b']:.2%} | {r['linear_b']:.2%} | "
                     + " | ".join(f"{r[k]['b']:.2%} (a {r[k]['a']:.1f})" for k in ("blend_accuracy", "blend_logloss"))
                     + " |")
    return "\n".join(lines)


def refit_table(rows: list[dict]) -> str:
    lines = ["| set | arch | B texts | best epoch E on A | default on B | default refit on B | linear on B "
             "| linear refit on B | blend on B (a by log-loss on A) | refit blend on B (same a) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        a = r["blend_logloss"]["a"]
        lines.append(f"| {r['set']} | {r['arch']} | {r['b_texts']} | {r['best_epoch']} | {r['default_b']:.2%} | "
                     f"{r['refit_b']:.2%} | {r['linear_b']:.2%} | {r['linear_refit_b']:.2%} | "
                     f"{r['blend_logloss']['b']:.2%} (a {a:.1f}) | {r['refit_blend_logloss']['b']:.2%} |")
    return "\n".join(lines)


def _by_model(rows: list[dict]) -> list[tuple[tuple[str, str], list[dict]]]:
    """The rows of each (set, architecture), in first-seen order: one per training seed."""
    keys = dict.fromkeys((r["set"], r["arch"]) for r in rows)
    return [(key, [r for r in rows if (r["set"], r["arch"]) == key]) for key in keys]


def _spread(values: list[float]) -> str:
    """Accuracies over seeds as "mean (min..max)"."""
    return f"{np.mean(values):.2%} ({min(values):.2%}..{max(values):.2%})"


def _paired(new: list[float], old: list[float], n_b: int) -> str:
    """Per seed, new - old accuracy on B in texts of B: "+1, -2, +0"."""
    return ", ".join(f"{round((n - o) * n_b):+d}" for n, o in zip(new, old))


def _row_start(key: tuple[str, str], group: list[dict]) -> str:
    return f"| {key[0]} | {key[1]} | {' '.join(str(r['seed']) for r in group)} | {group[0]['b_texts']} | "


def seeds_table(rows: list[dict]) -> str:
    """Per set and architecture over its training seeds, on B: each model's mean (min..max), and
    the paired differences of each other model - default per seed, in texts of B (with refits
    also refit blend - blend)."""
    models = {"default": lambda r: r["default_b"], "blend": lambda r: r["blend_logloss"]["b"]}
    if "refit_b" in rows[0]:
        models.update({"refit": lambda r: r["refit_b"], "refit blend": lambda r: r["refit_blend_logloss"]["b"]})
    paired = [name for name in models if name != "default"]
    lines = ["| set | arch | seeds | B texts | " + " | ".join(f"{m} on B: mean (min..max)" for m in models)
             + " | " + " | ".join(f"{m} - default per seed (texts)" for m in paired)
             + (" | refit blend - blend per seed (texts)" if "refit blend" in models else "") + " |",
             "| --- | --- | --- | ---: | " + " | ".join("---:" for _ in models) + " | "
             + " | ".join("---" for _ in paired) + (" | ---" if "refit blend" in models else "") + " |"]
    for key, group in _by_model(rows):
        n_b = group[0]["b_texts"]
        scores = {name: [score(r) for r in group] for name, score in models.items()}
        cells = [_spread(values) for values in scores.values()]
        cells += [_paired(scores[name], scores["default"], n_b) for name in paired]
        if "refit blend" in models:  # the ninth round's question: the refit against today's blend
            cells.append(_paired(scores["refit blend"], scores["blend"], n_b))
        lines.append(_row_start(key, group) + " | ".join(cells) + " |")
    return "\n".join(lines)


def _linear_pair_table(rows: list[dict], old: tuple[str, str], new: tuple[str, str], chosen: str = "") -> str:
    """Two linear models' rows per set and architecture over its training seeds, on B: each alone,
    (with ``chosen``: the new one's L2 and bigrams,) their log-loss blends' mean (min..max), and new
    blend - old blend per seed in texts of B. ``old``, ``new``: (name in the headers, prefix of its
    row keys: "" for the default linear model's ``linear_b`` and ``blend_logloss``)."""
    def key(prefix: str, name: str) -> str:
        return f"{prefix}_{name}" if prefix else name

    def named(name: str, rest: str) -> str:
        return f"{name} {rest}" if name else rest

    lines = [f"| set | arch | seeds | B texts | default on B: mean | linear {named(old[0], 'on B')} "
             f"| linear {named(new[0], 'on B')} | " + ("its L2, bigrams | " if chosen else "")
             + f"{named(old[0], 'blend on B')}: mean (min..max) | {named(new[0], 'blend on B')}: mean (min..max) "
             f"| {named(new[0], 'blend')} - {named(old[0], 'blend')} per seed (texts) |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | " + ("--- | " if chosen else "") + "---: | ---: | --- |"]
    for group_key, group in _by_model(rows):
        n_b = group[0]["b_texts"]
        first = group[0]
        old_blend = [r[key(old[1], "blend_logloss")]["b"] for r in group]
        new_blend = [r[key(new[1], "blend_logloss")]["b"] for r in group]
        lines.append(_row_start(group_key, group) + f"{np.mean([r['default_b'] for r in group]):.2%} | "
                     f"{first[key(old[1], 'linear_b')]:.2%} | {first[key(new[1], 'linear_b')]:.2%} | "
                     + (f"{first[chosen + '_l2']:g}, {first[chosen + '_bigrams']} | " if chosen else "")
                     + f"{_spread(old_blend)} | {_spread(new_blend)} | {_paired(new_blend, old_blend, n_b)} |")
    return "\n".join(lines)


def idf_table(rows: list[dict]) -> str:
    """``--plain-too``: the linear model without (plain) and with idf (the default), and their blends."""
    return _linear_pair_table(rows, ("plain", "plain"), ("idf", ""))


def l2norm_table(rows: list[dict]) -> str:
    """``--l2-too``: the linear model with rows divided by their length (the default) and
    L2-normed, the latter's L2 and bigrams, and their blends."""
    return _linear_pair_table(rows, ("", ""), ("L2-normed", "l2norm"), chosen="l2norm")


def ensemble_table(rows: list[dict]) -> str:
    """``--ensemble-too``: per set and architecture, on B: the single models' default and blend,
    means (min..max) over the seeds, the seeds' mean logits alone and blended, and the ensemble's
    blend - the single blends' mean in texts of B."""
    lines = ["| set | arch | seeds | B texts | default on B: mean (min..max) | blend on B: mean (min..max) "
             "| ensemble on B | ensemble's blend on B (a) | ensemble's blend - mean blend (texts) |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key, group in _by_model(rows):
        blend = [r["blend_logloss"]["b"] for r in group]
        ensemble = group[0]["ensemble"]
        lines.append(_row_start(key, group) + f"{_spread([r['default_b'] for r in group])} | {_spread(blend)} | "
                     f"{ensemble['default_b']:.2%} | {ensemble['blend_logloss']['b']:.2%} "
                     f"(a {ensemble['blend_logloss']['a']:.1f}) | "
                     f"{(ensemble['blend_logloss']['b'] - np.mean(blend)) * group[0]['b_texts']:+.1f} |")
    return "\n".join(lines)


def variant_table(rows: list[dict]) -> str:
    """``--vectors-too`` / ``--ema-too`` / ``--distill-ensemble``: per set and architecture over its
    training seeds, on B: the default and its blend, the same with the variant, means (min..max),
    and variant blend - blend per seed in texts of B (with vectors: also the share of the
    vocabulary they cover)."""
    vectors = "vectors_coverage" in rows[0]
    model, blended = (("with vectors", "vectors blend") if vectors else
                      ("student", "student's blend") if "distill_teachers" in rows[0]["variant"] else
                      ("weight average", "average's blend"))
    lines = ["| set | arch | seeds | B texts | " + ("vocabulary with vectors | " if vectors else "")
             + f"default on B: mean | blend on B: mean (min..max) | {model} on B: mean "
             f"| {blended} on B: mean (min..max) | {blended} - blend per seed (texts) |",
             "| --- | --- | --- | ---: | " + ("---: | " if vectors else "") + "---: | ---: | ---: | ---: | --- |"]
    for key, group in _by_model(rows):
        n_b = group[0]["b_texts"]
        blend = [r["blend_logloss"]["b"] for r in group]
        changed = [r["variant_blend_logloss"]["b"] for r in group]
        lines.append(_row_start(key, group) + (f"{group[0]['vectors_coverage']:.1%} | " if vectors else "")
                     + f"{np.mean([r['default_b'] for r in group]):.2%} | {_spread(blend)} | "
                     f"{np.mean([r['variant_default_b'] for r in group]):.2%} | {_spread(changed)} | "
                     f"{_paired(changed, blend, n_b)} |")
    return "\n".join(lines)


def linear_refit_table(rows: list[dict]) -> str:
    """``--linear-refit-too``: per set and architecture over its training seeds, on B: the linear
    model alone (fitted on train, and refit on train + A), the student's blend and the same
    student blended with the refit linear model (the same ``a``), means (min..max), and refit -
    today's per seed in texts of B (the same student: only the linear model differs)."""
    lines = ["| set | arch | seeds | B texts | linear on B | linear refit on B | student's blend on B: mean "
             "(min..max) | with the linear refit on B: mean (min..max) | refit - today's per seed (texts) |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for key, group in _by_model(rows):
        today = [r["variant_blend_logloss"]["b"] for r in group]
        refit = [r["linear_refit_blend"]["b"] for r in group]
        lines.append(_row_start(key, group) + f"{group[0]['linear_b']:.2%} | {group[0]['linear_refit_b']:.2%} | "
                     f"{_spread(today)} | {_spread(refit)} | {_paired(refit, today, group[0]['b_texts'])} |")
    return "\n".join(lines)


def tables(rows: list[dict], with_test: bool) -> str:
    lines = ["| set | arch | default | linear alone | blend, a by accuracy | blend, a by log-loss "
             "| half-split: default / by accuracy / by log-loss | linear L2, bigrams |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        cell = [f"{r[k]['val_accuracy']:.2%} / {r[k]['val_macro_f1']:.4f}" for k in ("default", "linear")]
        cell += [f"{r[k]['val_accuracy']:.2%} / {r[k]['val_macro_f1']:.4f} (a {r[k]['a']:.1f})"
                 for k in ("blend_accuracy", "blend_logloss")]
        h = r["halves_accuracy"], r["halves_logloss"]
        cell.append(f"{h[0]['default']:.2%} / {h[0]['blend']:.2%} / {h[1]['blend']:.2%}")
        lines.append(f"| {r['set']} | {r['arch']} | " + " | ".join(cell)
                     + f" | {r['linear_l2']:g}, {r['linear_bigrams']} |")
    if with_test:
        lines += ["", "| set | arch | default | linear alone | blend, a by accuracy | blend, a by log-loss |",
                  "| --- | --- | ---: | ---: | ---: | ---: |"]
        for r in rows:
            lines.append(f"| {r['set']} | {r['arch']} | " + " | ".join(
                f"{r[k]['test_accuracy']:.2%} / {r[k]['test_macro_f1']:.4f}"
                for k in ("default", "linear", "blend_accuracy", "blend_logloss")) + " |")
    return "\n".join(lines)


def _recipe_b(row: dict) -> float:
    """The row's model as the recipe makes it, on B: the student's blend where there is one."""
    student = "distill_teachers" in row.get("variant", {})
    return row["variant_blend_logloss"]["b"] if student else row["blend_logloss"]["b"]


def _teaching_changes(variant: dict, seeds: int) -> list[str]:
    """What a student's variant changes in its teaching, against the recipe's (its own
    architecture's seed models, as trained, on the training texts alone)."""
    if "distill_teachers" not in variant:
        return []
    both = len(variant.get("teacher_archs", [])) > 1
    return [*(["teachers of " + " and ".join(variant["teacher_archs"])] if both else []),
            *([f"{variant['distill_teachers']} teachers"] if not both and variant["distill_teachers"] != seeds else []),
            *(["blended teachers"] if variant.get("blended_teachers") else []),
            *([f"{variant['augment_copies']} perturbed copies"] if variant.get("augment_copies") else [])]


def against_table(rows: list[dict], earlier: list[dict]) -> str:
    """``--against``: per set and architecture over the same training seeds and cut, on B: the
    earlier run's recipe model (the student's blend, or the blend) and this run's (its
    ``recipe_changes``), means (min..max), and this - earlier per seed in texts of B."""
    by_key = {(r["set"], r["arch"], r["seed"]): r for r in earlier}
    changes = ", ".join([*(f"{k} {v}" for k, v in rows[0]["recipe_changes"].items()),
                         *_teaching_changes(rows[0].get("variant", {}), len({r["seed"] for r in rows}))])
    changes = changes or "no change"
    lines = [f"| set | arch | seeds | B texts | earlier on B: mean (min..max) | with {changes} on B: mean (min..max) "
             "| with - earlier per seed (texts) |",
             "| --- | --- | --- | ---: | ---: | ---: | --- |"]
    for key, group in _by_model(rows):
        before = [by_key[(r["set"], r["arch"], r["seed"])] for r in group]
        if any(b["b_texts"] != r["b_texts"] for b, r in zip(before, group)):
            raise SystemExit(f"{key}: the earlier run's cut of validation differs")
        old, new = [_recipe_b(b) for b in before], [_recipe_b(r) for r in group]
        paired = _paired(new, old, group[0]["b_texts"])
        lines.append(_row_start(key, group) + f"{_spread(old)} | {_spread(new)} | {paired} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    parser.add_argument("--archs", nargs="*", default=["bilstm", "lstm"])
    parser.add_argument("--test", action="store_true", help="also score the test splits (a check, not a choice)")
    parser.add_argument("--holdout", action="store_true", help="instead: early stopping, L2 and a on half of "
                        "validation, the other half held out (run_holdout)")
    parser.add_argument("--refit", action="store_true", help="with --holdout: also refit both models on "
                        "train + A (the default for its best epoch on A), scored on B")
    parser.add_argument("--holdout-seed", type=int, default=1, help="the seed of --holdout's cut")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0], help="with --holdout: the training "
                        "seeds, each model trained once per seed on the same split and cut (seeds_table)")
    parser.add_argument("--plain-too", action="store_true", help="with --holdout: also the linear model "
                        "without idf and its blend (idf_table)")
    parser.add_argument("--l2-too", action="store_true", help="with --holdout: also the linear model with "
                        "each text's row L2-normed instead of divided by its length, and its blend (l2norm_table)")
    parser.add_argument("--ensemble-too", action="store_true", help="with --holdout and several --seeds: also "
                        "each architecture's seeds as one model (mean logits) and its blend (ensemble_table)")
    parser.add_argument("--distill-ensemble", metavar="WEIGHT", type=float, default=0.0, help="with --holdout "
                        "and several --seeds: also per seed a student trained with this share of its targets from "
                        "the seeds' models, and its blend (variant_table)")
    parser.add_argument("--teachers-of-both", action="store_true", help="with --distill-ensemble: each "
                        "student's teachers are the seeds' models of every --archs, not only of its own")
    parser.add_argument("--blended-teachers", action="store_true", help="with --distill-ensemble: each "
                        "teacher is its seed model blended with the linear model (a on A), as the recipe folds it")
    parser.add_argument("--augment-too", metavar="COPIES", type=int, default=0, help="with --distill-ensemble: "
                        "each student also learns from this many perturbed copies of each training text, labeled "
                        "by its teachers (perturbed_copies)")
    parser.add_argument("--extra-teachers", metavar="K", type=int, default=0, help="with --distill-ensemble: "
                        "K more models per architecture (the seeds after --seeds') trained as teachers only")
    parser.add_argument("--linear-refit-too", action="store_true", help="with --distill-ensemble: also each "
                        "student blended with the linear model refit on train + A (linear_refit_table)")
    parser.add_argument("--vectors-too", metavar="VECTORS", help="with --holdout: also each model started from "
                        "these word vectors (edgelstm pretrain's format) and its blend (variant_table)")
    parser.add_argument("--ema-too", metavar="DECAY", type=float, help="with --holdout: also each model "
                        "judged and kept as an exponential moving average of its weights (variant_table)")
    parser.add_argument("--imdb", type=Path, help="with --holdout: also IMDB's training reviews (aclImdb folder "
                        "or .tar.gz; its recipe has no wide term, so the blend is of the model as trained)")
    parser.add_argument("--min-count", type=int, help="with --holdout: every model's vocabulary (and so the "
                        "linear model's words) from words seen at least this often, over the recipe's")
    parser.add_argument("--against", type=Path, help="with --holdout: an earlier run's --out (the same sets, "
                        "seeds and cut) to compare this run's recipe models with (against_table)")
    parser.add_argument("--out", type=Path, help="also write every result as JSON lines")
    args = parser.parse_args()
    if (args.ensemble_too or args.distill_ensemble) and len(args.seeds) < 2:
        parser.error("--ensemble-too and --distill-ensemble need two --seeds or more")
    teaching = Teaching(args.teachers_of_both, args.blended_teachers, args.augment_too, args.extra_teachers)
    if teaching != Teaching() and not args.distill_ensemble:
        parser.error("--teachers-of-both, --blended-teachers, --augment-too and --extra-teachers need "
                     "--distill-ensemble")
    if args.linear_refit_too and (not args.distill_ensemble or args.refit):
        parser.error("--linear-refit-too needs --distill-ensemble (the students are blended with it), and not "
                     "--refit (which refits the linear model on the refit models' vocabulary)")
    if args.blended_teachers and args.extra_teachers:
        parser.error("--blended-teachers folds the rows' models only: not with --extra-teachers")
    if sum(map(bool, (args.vectors_too, args.ema_too, args.distill_ensemble))) > 1:
        parser.error("one variant at a time: --vectors-too, --ema-too or --distill-ensemble")
    torch.set_num_threads(1)
    rows: list[dict] = []
    variant = ({"vectors": args.vectors_too} if args.vectors_too else
               {"ema_decay": args.ema_too} if args.ema_too else None)
    recipe_changes = {"min_count": args.min_count} if args.min_count is not None else None
    if args.holdout:
        with tempfile.TemporaryDirectory() as tmp:
            runs = [(name, None) for name in args.sets] + ([("imdb", args.imdb)] if args.imdb else [])
            for name, path in runs:
                rows += run_holdout(name, args.archs, Path(tmp), args.holdout_seed, args.refit, tuple(args.seeds),
                                    args.plain_too, variant, path, args.l2_too, args.ensemble_too,
                                    args.distill_ensemble, recipe_changes, teaching, args.linear_refit_too)
                if args.out:
                    args.out.write_text("".join(json.dumps(row) + "\n" for row in rows))
        print(holdout_table(rows))
        if args.refit:
            print()
            print(refit_table(rows))
        if len(args.seeds) > 1:
            print()
            print(seeds_table(rows))
        if args.plain_too:
            print()
            print(idf_table(rows))
        if args.ensemble_too:
            print()
            print(ensemble_table(rows))
        if args.l2_too:
            print()
            print(l2norm_table(rows))
        if variant is not None or args.distill_ensemble:
            print()
            print(variant_table(rows))
        if args.linear_refit_too:
            print()
            print(linear_refit_table(rows))
        if args.against:
            print()
            print(against_table(rows, [json.loads(line) for line in args.against.read_text().splitlines()]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets:
            rows += run_set(name, args.archs, Path(tmp), args.test)
            if args.out:
                args.out.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(tables(rows, args.test))


if __name__ == "__main__":
    main()
