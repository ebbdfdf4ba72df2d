"""Training: Adam(W), (binary) cross-entropy, early stopping on validation accuracy with the best
weights kept; reproducible on the CPU for a given seed.

With no options it is the Keras IMDB example's recipe (batch 64, constant learning rate, a random
10% validation split, the most frequent words). Options add what larger vocabularies need
(README, "Training"): word vectors to start from, word dropout, weight decay, a cosine learning
rate, a vocabulary chosen by frequency, and validation data that does not leak: an explicit
validation set, or a split by groups (for IMDB: reviews of one movie stay on one side)."""

from __future__ import annotations

import copy
import json
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from edgelstm.config import ModelConfig
from edgelstm.data import Dataset, LabeledTexts
from edgelstm.errors import DataError
from edgelstm.files import atomic_write
from edgelstm.metrics import classification_report
from edgelstm.tokenizer import OOV_ID, PAD_ID, RESERVED_IDS, Tokenizer, build_vocabulary, pad_batch, words

from .checkpoint import check_train_outputs, history_paths, load_checkpoint, save_checkpoint
from .distill import NGRAM_TEACHER
from .linear import WideFit
from .model import TextClassifier
from .plots import plot_history
from .presets import KEEP_EPOCHS, LR_SCHEDULES

__all__ = [
    "CLASS_WEIGHTS", "Encoded", "KEEP_EPOCHS", "LR_SCHEDULES", "TrainOptions",
    "WIDE_LR_SCALE", "evaluate", "forward_padded", "model_logits", "train",
]

# How much each label's texts weigh in the loss: all alike, or inversely to the label's share of
# the training texts (scikit-learn's "balanced": n / (labels * count))
CLASS_WEIGHTS = ("none", "balanced")

# How much faster the wide bag-of-words term learns than the rest (measured on validation: README)
WIDE_LR_SCALE = 10.0

log = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    epochs: int = 20
    batch_size: int = 64
    val_split: float = 0.1
    patience: int = 5  # epochs without a better validation accuracy before stopping
    keep: str = "best"  # KEEP_EPOCHS
    learning_rate: float = 1e-3  # Adam's (and Keras') default
    seed: int = 0
    device: str = "cpu"
    limit: int | None = None  # use a random subset of this many train (and test) examples
    # One thread: the example's small LSTMs trained 2.6x faster on 1 thread than on 2 (2 cores).
    threads: int = 1
    # Keep the validation split's raw texts (up to HELD_OUT_CAP) in model.pt, to judge int8
    # recipes on later without --data. Off by default: whoever gets the checkpoint gets them.
    keep_validation_texts: bool = False
    min_count: int = 1  # vocabulary: words seen at least this often (at most vocab_size - 2 of them)
    word_dropout: float = 0.0  # training only: this share of tokens is replaced by the unknown id
    weight_decay: float = 0.0  # > 0: AdamW's decoupled weight decay
    lr_schedule: str = "constant"  # or "cosine": from learning_rate to 0 over all epochs' steps
    vectors: str | None = None  # word vectors (text format) to start the embedding from
    freeze_vectors: bool = False  # keep the embedding as initialised
    # Label unlabeled texts (train(unlabeled=...)) with these: "ngram" or model files (distill.py)
    teachers: tuple[str, ...] = ("ngram",)
    class_weight: str = "none"  # CLASS_WEIGHTS
    # > 0: the training texts' targets are this share the n-gram teacher's probabilities (each
    # text's from a teacher fitted on the other folds), the rest their labels (distill.py)
    distill_weight: float = 0.0
    # Split related texts apart from nothing: same words, or a short text inside a longer one,
    # stay on one side of a random validation split (groups.similar_text_groups)
    group_similar: bool = True
    recipe: dict[str, Any] | None = None  # what chose the settings, recorded in the metadata
    # With a wide term: fit it first alone (linear.py: a logistic regression, L2 and bigrams chosen
    # on validation), then train the LSTM on top from a zero contribution, the linear model alone
    # being "epoch 0" that early stopping may keep
    wide_fit: bool = False
    # With a wide term trained jointly: after early stopping, blend the model with the linear
    # model fitted alone, ``a`` chosen by validation log-loss, folded into the weights (blend.py)
    blend: bool = False
    # With the blend and a validation split of the training file: once early stopping, the linear
    # model and ``a`` have chosen on it, train both again on all the training texts (validation
    # included) with those choices, as the baselines refit after choosing C (_refit)
    refit: bool = False
    # With the blend and no wide term (long texts): blend anyway, the fold adding the fitted term
    # (blend.fold); otherwise the blend needs the wide term trained jointly
    blend_without_wide: bool = False
    # The blend's choices given, not made: (a, L2, bigram rows, idf); the refit's run (_refit)
    blend_choice: tuple[float, float, int, bool] | None = None
    # The cosine schedule's length in epochs when it is not ``epochs`` (None: ``epochs``): the
    # refit's run follows the first epochs of the recipe's schedule, not one squeezed into them
    schedule_epochs: int | None = None
    # > 0: an exponential moving average of the weights (this decay per step) is what validation
    # judges and early stopping keeps; the trained weights only move it. Not the default: with the
    # blend it gained +0.05 points on held-out data and lost 3 to 4 texts on two rows
    # (docs/recipe-rounds.md, the twelfth round); --resume refuses it (the resume state does not
    # hold the average)
    ema_decay: float = 0.0
    # With distill_weight: the training texts' teacher probabilities are the mean of these model
    # files' (earlier models of the same labels, e.g. other seeds) instead of the cross-fitted
    # n-gram teacher's. Not a CLI flag: measured in docs/recipe-rounds.md, the sixteenth round
    distill_teachers: tuple[str, ...] = ()
    # > 0: first train this many teacher models on the run's own split (the same recipe without
    # the blend, seeds seed, seed + 1, ...), then this run as their student: ENSEMBLE_DISTILL_WEIGHT
    # of its training texts' targets from their mean probabilities (distill_teachers). The model
    # and its inference are unchanged; the training takes 1 + this many runs. Measured in
    # docs/recipe-rounds.md, the sixteenth round: +0.56 points on held-out validation, 9 of 12
    # rows higher, no row more than a text under
    ensemble_teachers: int = 0


# the share of a student's targets from its ensemble teachers (fixed before the sixteenth round)
ENSEMBLE_DISTILL_WEIGHT = 0.5


@dataclass
class Encoded:
    sequences: list[list[int]]
    targets: np.ndarray  # (N,) label ids (of a teacher-labeled text: its most probable label)
    # (N, L) label probabilities to train on, when some texts are teacher-labeled (labeled
    # texts: one-hot); None: ``targets``
    soft_targets: np.ndarray | None = None
    teacher_labeled: int = 0  # the last ones of ``sequences``

    @property
    def lengths(self) -> list[int]:
        return [len(s) for s in self.sequences]

    def with_teacher_labeled(self, sequences: list[list[int]], probabilities: np.ndarray) -> Encoded:
        """These texts plus unlabeled ones with their teachers' (N, L) probabilities."""
        own = self.soft_targets
        if own is None:
            own = np.eye(probabilities.shape[1], dtype=np.float32)[self.targets]  # (N, L) one-hot
        return Encoded(
            self.sequences + sequences,
            np.concatenate([self.targets, probabilities.argmax(axis=1)]),
            np.concatenate([own, probabilities.astype(np.float32)]),
            self.teacher_labeled + len(sequences),
        )

    @classmethod
    def of(cls, data: LabeledTexts, tokenizer: Tokenizer, labels: list[str]) -> Encoded:
        index = {label: i for i, label in enumerate(labels)}
        unknown = set(data.labels) - index.keys()
        if unknown:
            raise DataError(f"labels {sorted(unknown)} do not occur in the training split")
        return cls(
            [tokenizer.encode(t) for t in data.texts],
            np.array([index[label] for label in data.labels], np.int64),
        )


BUCKET_BATCHES = 50  # batches per length bucket


def _batches(lengths: list[int], batch_size: int, generator: torch.Generator | None):
    """Row indices per batch. Training (with a generator): shuffled, then texts of similar
    length share a batch (sorted within buckets of 50 batches), batches in random order, so an
    epoch runs about half the LSTM steps of random batches. Evaluation: in length order."""
    n = len(lengths)
    if generator is None:
        order = np.argsort(lengths, kind="stable")
        yield from (order[i : i + batch_size] for i in range(0, n, batch_size))
        return
    order = torch.randperm(n, generator=generator).numpy()
    span = batch_size * BUCKET_BATCHES
    batches = []
    for start in range(0, n, span):
        bucket = order[start : start + span]
        bucket = bucket[np.argsort([lengths[i] for i in bucket], kind="stable")]
        batches += [bucket[i : i + batch_size] for i in range(0, len(bucket), batch_size)]
    for b in torch.randperm(len(batches), generator=generator).tolist():
        yield batches[b]


def _tensors(data: Encoded, rows: np.ndarray, device: str, word_dropout: float = 0.0,
             generator: torch.Generator | None = None):
    input_ids, lengths = pad_batch([data.sequences[i] for i in rows])
    ids = torch.from_numpy(input_ids)  # (B, T)
    if word_dropout > 0:
        # Word dropout: the model must also judge a text by its other words, so it cannot lean
        # on a few rare ones. Only in training: inference never sees it.
        dropped = (torch.rand(ids.shape, generator=generator) < word_dropout) & (ids != PAD_ID)
        ids = ids.masked_fill(dropped, OOV_ID)
    chosen = data.targets if data.soft_targets is None else data.soft_targets
    targets = torch.from_numpy(chosen[rows]).to(device)  # (B,) label ids or (B, L) probabilities
    return ids.to(device), torch.from_numpy(lengths), targets


def _run_lstm(lstm: torch.nn.LSTM, direction: str, x: torch.Tensor) -> torch.Tensor:
    """One direction of ``lstm`` over right-padded (B, T, E) input -> (B, T, H) outputs."""
    weights = [getattr(lstm, f"{kind}_l0{direction}") for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    zeros = x.new_zeros(1, x.shape[0], lstm.hidden_size)
    output, _, _ = torch.lstm(x, (zeros, zeros), weights, True, 1, 0.0, lstm.training, False, True)
    return output


def forward_padded(model: TextClassifier, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``model(input_ids, lengths)``, computed without packed sequences: the same logits (to
    float rounding), several times faster to train on the CPU, where the backward pass of a
    packed LSTM writes a whole-batch gradient per time step.

    Right padding comes after every real step, so the forward direction's outputs at real steps
    are exact; the backward direction runs forward over each row reversed within its length.
    """
    x = model.dropout(model.embedding(input_ids))  # (B, T, E)
    lengths = lengths.to(x.device)
    steps = torch.arange(x.shape[1], device=x.device)[None, :]  # (1, T)
    real = steps < lengths[:, None]  # (B, T)
    forward = _run_lstm(model.lstm, "", x)  # (B, T, H)
    wide = model.wide_logits(input_ids, lengths)  # (B, outputs), or 0
    if model.config.arch == "lstm":
        last = forward[torch.arange(x.shape[0], device=x.device), lengths - 1]  # (B, H)
        return model.head(last) + wide
    reverse = torch.where(real, lengths[:, None] - 1 - steps, steps)  # (B, T): row-wise reversal
    flip = reverse[:, :, None].expand(-1, -1, x.shape[2])
    backward = _run_lstm(model.lstm, "_reverse", x.gather(1, flip))
    backward = backward.gather(1, reverse[:, :, None].expand(-1, -1, backward.shape[2]))
    y = torch.cat([forward, backward], dim=2).masked_fill(~real[:, :, None], 0.0)  # (B, T, 2H)
    largest = y.masked_fill(~real[:, :, None], float("-inf")).amax(dim=1)  # (B, 2H)
    mean = y.sum(dim=1) / lengths.to(y.dtype)[:, None]  # (B, 2H)
    return model.head(torch.cat([largest, mean], dim=1)) + wide  # (B, outputs)


@torch.no_grad()
def evaluate(model: TextClassifier, data: Encoded, device: str, batch_size: int = 256):
    """(mean loss, accuracy) over encoded data, in eval mode."""
    loss, accuracy, _ = _evaluate(model, data, device, batch_size)
    return loss, accuracy


@torch.no_grad()
def model_logits(model: TextClassifier, data: Encoded, device: str, batch_size: int = 256) -> np.ndarray:
    """(N, outputs) float64 logits of ``model`` on encoded data in row order, in eval mode."""
    model.eval()
    logits = np.zeros((len(data.sequences), model.config.num_outputs))
    for rows in _batches(data.lengths, batch_size, None):
        input_ids, lengths, _ = _tensors(data, rows, device)
        logits[rows] = forward_padded(model, input_ids, lengths).double().cpu().numpy()
    return logits


def _label_ids(targets: torch.Tensor) -> torch.Tensor:
    """(B,) label ids of a batch's targets: (B,) ids, or (B, L) probabilities (a distilled
    text's: its most probable label), which accuracy is counted against."""
    return targets if targets.ndim == 1 else targets.argmax(dim=1)


@torch.no_grad()
def _evaluate(model: TextClassifier, data: Encoded, device: str, batch_size: int = 256):
    """(mean loss, accuracy, (N,) predicted label ids in row order) in eval mode."""
    model.eval()
    total_loss, correct = 0.0, 0
    predicted = np.zeros(len(data.sequences), np.int64)
    for rows in _batches(data.lengths, batch_size, None):
        input_ids, lengths, targets = _tensors(data, rows, device)
        logits = forward_padded(model, input_ids, lengths)
        total_loss += model.loss(logits, targets).item() * len(rows)
        chosen = model.probabilities(logits).argmax(dim=1)
        correct += int((chosen == _label_ids(targets)).sum().item())
        predicted[rows] = chosen.cpu().numpy()
    n = max(len(data.sequences), 1)
    return total_loss / n, correct / n, predicted


def _split(order: np.ndarray, val_split: float, groups: Sequence[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows) of the shuffled ``order``. With groups, whole groups go to
    validation (first come, first taken, in shuffled order) until it holds ``val_split``."""
    wanted = round(len(order) * val_split)
    if groups is None:
        return order[wanted:], order[:wanted]
    sizes = Counter(groups[row] for row in order)
    taken: set[str] = set()
    held = 0
    for row in order:  # groups in the order the shuffle first meets them
        if held >= wanted:
            break
        if groups[row] not in taken:
            taken.add(groups[row])
            held += sizes[groups[row]]
    in_val = np.array([groups[row] in taken for row in order], dtype=bool)
    return order[~in_val], order[in_val]


def _train_student(dataset: Dataset, config: ModelConfig, options: TrainOptions, output: Path, *,
                   resume: bool, show_progress: bool, validation: LabeledTexts | None,
                   groups: Sequence[str] | None, unlabeled: Sequence[str] | None,
                   inputs: Sequence[str | Path | None]) -> tuple[TextClassifier, list[dict[str, Any]]]:
    """``options.ensemble_teachers``: the teachers trained on the run's own training texts and
    judged on its own validation texts, then the run itself as their student. ``resume`` trains
    the teachers again (the checkpoint holds only the student; the same seeds and split give the
    same teachers) and continues the student."""
    if options.distill_weight > 0:
        raise DataError(f"--ensemble-teachers sets --distill-weight ({ENSEMBLE_DISTILL_WEIGHT}); give one or the other")
    # before any work, not after the teachers (the student's run warns of a checkpoint it replaces)
    check_train_outputs(output, _inputs_of(options, unlabeled, inputs), resume)
    if resume and output.exists():
        _resume_state(output)  # a finished run has nothing to continue: said before the teachers train
    train_part, val_part = _split_parts(dataset, options, validation, groups, np.random.default_rng(options.seed))
    teacher_options = replace(options, ensemble_teachers=0, blend=False, refit=False, blend_without_wide=False,
                              keep_validation_texts=False, val_split=options.val_split if len(val_part) else 0.0)
    with tempfile.TemporaryDirectory(prefix="edgelstm-teachers-") as folder:
        paths: list[str] = []
        for i in range(options.ensemble_teachers):
            start = time.perf_counter()
            paths.append(str(Path(folder) / f"teacher{i}.pt"))
            train(Dataset(train_part), config, replace(teacher_options, seed=options.seed + i), Path(paths[-1]),
                  show_progress=show_progress, validation=val_part if len(val_part) else None)
            log.info("ensemble teacher %d of %d (seed %d) trained in %.0f s", i + 1, options.ensemble_teachers,
                     options.seed + i, time.perf_counter() - start)
        student = replace(options, distill_weight=ENSEMBLE_DISTILL_WEIGHT, distill_teachers=tuple(paths))
        return train(dataset, config, student, output, resume=resume, show_progress=show_progress,
                     validation=validation, groups=groups, unlabeled=unlabeled, inputs=inputs)


def _inputs_of(options: TrainOptions, unlabeled: Sequence[str] | None,
               inputs: Sequence[str | Path | None]) -> list[str | Path | None]:
    """What a run reads and its outputs may never replace: the data's paths, the vectors, teacher files."""
    teacher_files = [t for t in options.teachers if t != NGRAM_TEACHER] if unlabeled else []
    return [*inputs, options.vectors, *teacher_files]


def _split_parts(dataset: Dataset, options: TrainOptions, validation: LabeledTexts | None,
                 groups: Sequence[str] | None, rng: np.random.Generator) -> tuple[LabeledTexts, LabeledTexts]:
    """The run's training and validation texts: ``validation`` if given, else a seeded split of
    the training file (``rng``, the run's), similar texts on one side."""
    order = rng.permutation(len(dataset.train))
    if options.limit:
        order = order[: options.limit]
    if groups is not None and len(groups) != len(dataset.train):
        raise DataError(f"{len(groups)} validation groups for {len(dataset.train)} training texts")
    if groups is None and validation is None and options.group_similar and options.val_split > 0:
        from .groups import similar_text_groups

        groups = similar_text_groups(dataset.train.texts)
        log.info("validation split: %d training texts share their words with another, or lie inside "
                 "a longer one; each such group stays on one side", len(groups) - len(set(groups)))
    if validation is not None:
        train_rows, val_rows = order, order[:0]
    else:
        train_rows, val_rows = _split(order, options.val_split, groups)
    train_part = dataset.train.subset(train_rows)
    return train_part, validation if validation is not None else dataset.train.subset(val_rows)


def _prepare(dataset: Dataset, config: ModelConfig, options: TrainOptions,
             validation: LabeledTexts | None, groups: Sequence[str] | None,
             unlabeled: Sequence[str] | None = None):
    """Split off validation data, build the vocabulary on the rest, encode every split; add the
    unlabeled texts to training with their teachers' probabilities."""
    rng = np.random.default_rng(options.seed)
    train_part, val_part = _split_parts(dataset, options, validation, groups, rng)
    n_val = len(val_part)
    labels = sorted(set(train_part.labels))
    if len(labels) < 2:
        raise DataError("the training split has fewer than two labels")
    vocabulary = build_vocabulary(train_part.texts, config.vocab_size, options.min_count)
    config = replace(config, labels=labels, vocabulary=vocabulary, vocab_size=len(vocabulary) + RESERVED_IDS)
    tokenizer = Tokenizer(vocabulary, config.max_len)
    test = dataset.test
    if test is not None and options.limit:
        test = test.subset(rng.permutation(len(test))[: options.limit])
    train_encoded = Encoded.of(train_part, tokenizer, labels)
    if options.blend_choice is None:  # a refit's run: the run that chose has warned about the same texts
        _warn_shared(test, [train_part, val_part])
    if options.distill_teachers and not options.distill_weight > 0:
        raise ValueError("distill_teachers label the training texts for distill_weight, which is 0")
    if options.distill_weight > 0:
        from .distill import crossfit_probabilities, teacher_probabilities

        teacher = (teacher_probabilities(options.distill_teachers, train_part, labels, train_part.texts)
                   if options.distill_teachers else crossfit_probabilities(train_part, labels, options.seed))  # (N, L)
        own = np.eye(len(labels), dtype=np.float32)[train_encoded.targets]
        train_encoded.soft_targets = ((1 - options.distill_weight) * own
                                      + options.distill_weight * teacher).astype(np.float32)
    if unlabeled:
        texts = _new_texts(unlabeled, [train_part, val_part, test], options.limit)
        from .distill import teacher_probabilities

        probabilities = teacher_probabilities(options.teachers, train_part, labels, texts)
        train_encoded = train_encoded.with_teacher_labeled([tokenizer.encode(t) for t in texts], probabilities)
    encoded = {
        "train": train_encoded,
        "val": Encoded.of(val_part, tokenizer, labels) if n_val else None,
        "test": Encoded.of(test, tokenizer, labels) if test is not None else None,
    }
    return config, encoded, val_part


def _warn_shared(test: LabeledTexts | None, training: Sequence[LabeledTexts]) -> None:
    """Warn when test texts are also training or validation texts (same words): the test
    accuracy then overrates the model on new texts."""
    if test is None or not len(test):
        return
    seen = {tuple(words(text)) for part in training for text in part.texts}
    shared = sum(tuple(words(text)) in seen for text in test.texts)
    if shared:
        log.warning("warning: %d of %d test texts (%.1f%%) are also training or validation texts (same words); "
                    "the test accuracy overrates the model on new texts", shared, len(test), 100 * shared / len(test))


def _new_texts(unlabeled: Sequence[str], known: Sequence[LabeledTexts | None], limit: int | None) -> list[str]:
    """The unlabeled texts that are not also training, validation or test texts (a teacher's
    label for a validation or test text would leak into training), at most ``limit``."""
    seen = {text for part in known if part is not None for text in part.texts}
    texts = [text for text in unlabeled if text not in seen]
    if len(texts) < len(unlabeled):
        log.info("%d unlabeled texts are also labeled texts; left out", len(unlabeled) - len(texts))
    if not texts:
        raise DataError("no unlabeled texts besides the labeled ones")
    return texts[:limit] if limit else texts


def _progress(show: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}  acc {task.fields[accuracy]:.4f}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not show,
    )


def _class_weights(data: Encoded, labels: int, how: str) -> torch.Tensor | None:
    """(L,) loss weight per label, or None for all alike."""
    if how == "none":
        return None
    counts = np.bincount(data.targets, minlength=labels).astype(np.float64)
    return torch.from_numpy(len(data.targets) / (labels * np.maximum(counts, 1))).float()


def _weighted_loss(model, logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    if weights is None:
        return model.loss(logits, targets)
    per_text = model.loss(logits, targets, reduction="none")  # (B,)
    weights = weights.to(logits.device)
    # a text's weight: its label's, or for probability targets the expectation over labels
    of_text = weights[targets] if targets.ndim == 1 else targets @ weights  # (B,)
    return (per_text * of_text).sum() / of_text.sum()


def _train_epoch(
    model, optimizer, scheduler, data: Encoded, options: TrainOptions, epoch: int, bar, averaged=None
) -> tuple[float, float]:
    model.train()
    generator = torch.Generator().manual_seed(options.seed * 1000 + epoch)
    n = len(data.sequences)
    task = bar.add_task(f"epoch {epoch}/{options.epochs}", total=n, loss=0.0, accuracy=0.0)
    total_loss, correct, seen = 0.0, 0, 0
    weights = _class_weights(data, len(model.config.labels), options.class_weight)
    for rows in _batches(data.lengths, options.batch_size, generator):
        input_ids, lengths, targets = _tensors(data, rows, options.device, options.word_dropout, generator)
        logits = forward_padded(model, input_ids, lengths)  # (B, outputs)
        loss = _weighted_loss(model, logits, targets, weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if averaged is not None:
            averaged.update_parameters(model)
        total_loss += loss.item() * len(rows)
        correct += int((model.probabilities(logits).argmax(dim=1) == _label_ids(targets)).sum().item())
        seen += len(rows)
        bar.update(task, advance=len(rows), loss=total_loss / seen, accuracy=correct / seen)
    return total_loss / seen, correct / seen


def train(
    dataset: Dataset,
    config: ModelConfig,
    options: TrainOptions,
    output: Path,
    *,
    resume: bool = False,
    show_progress: bool = True,
    validation: LabeledTexts | None = None,
    groups: Sequence[str] | None = None,
    unlabeled: Sequence[str] | None = None,
    inputs: Sequence[str | Path | None] = (),
) -> tuple[TextClassifier, list[dict[str, Any]]]:
    """Train, keep the best epoch's weights, evaluate on the test split, write ``output``.

    ``validation`` replaces the random validation split (early stopping and the best epoch are
    judged on it); ``groups`` (one key per training text) keeps each group on one side of it.
    ``unlabeled`` texts join the training texts with ``options.teachers``' probabilities as
    their targets (distill.py).

    After every epoch ``output`` is rewritten atomically with the best weights so far and the
    state needed by ``resume=True`` to continue after an interruption.

    ``output`` and its history.json/PNG replace only earlier ones, never the files named in
    ``inputs`` (the data's paths), ``options.vectors`` or a teacher (check_train_outputs).
    """
    output = Path(output)
    if options.ensemble_teachers > 0 and not options.distill_teachers:
        return _train_student(dataset, config, options, output, resume=resume, show_progress=show_progress,
                              validation=validation, groups=groups, unlabeled=unlabeled, inputs=inputs)
    if output in check_train_outputs(output, _inputs_of(options, unlabeled, inputs), resume):
        log.warning("%s: overwriting the existing checkpoint", output)
    torch.set_num_threads(options.threads)
    torch.manual_seed(options.seed)
    if options.lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}")
    if options.keep not in KEEP_EPOCHS:
        raise ValueError(f"keep must be one of {KEEP_EPOCHS}")
    if options.class_weight not in CLASS_WEIGHTS:
        raise ValueError(f"class_weight must be one of {CLASS_WEIGHTS}")
    recipe_config = config  # before _prepare adds the vocabulary and labels: what a refit starts from
    config, data, held_out = _prepare(dataset, config, options, validation, groups, unlabeled)
    fitted = _fit_wide(config, data, options) if options.wide_fit and config.wide else None
    if fitted is not None:
        config = replace(config, wide_bigrams=fitted.bigrams)
    log.info(
        "%d train (%d teacher-labeled) / %d validation examples, %d labels, vocabulary %d",
        len(data["train"].sequences), data["train"].teacher_labeled,
        len(data["val"].sequences) if data["val"] else 0,
        len(config.labels), config.vocab_size,
    )
    model = TextClassifier(config)
    coverage = _init_vectors(model, options) if options.vectors else None
    if fitted is not None:
        _start_from_fit(model, fitted)
    model = model.to(options.device)
    optimizer, scheduler = _optimizer(model, options, len(data["train"].sequences))
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"epoch": 0, "val_accuracy": -1.0, "state": copy.deepcopy(model.state_dict())}
    if fitted is not None:  # epoch 0: the fitted linear model alone, a candidate like any epoch
        history.append(_epoch_zero(model, data, options.device))
        best["val_accuracy"] = history[0]["val_accuracy"]
    averaged = None
    if options.ema_decay > 0:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(options.ema_decay), use_buffers=True)
    # what validation scores and best keeps
    judged: TextClassifier = model if averaged is None else cast(TextClassifier, averaged.module)
    first_epoch = 1
    if resume and output.exists():
        if averaged is not None:
            raise DataError("--resume with a weight average is not supported")
        first_epoch, history, best = _restore(output, model, optimizer, scheduler, config, options)
    with _progress(show_progress) as bar:
        for epoch in range(first_epoch, options.epochs + 1):
            if epoch - best["epoch"] > options.patience and best["val_accuracy"] >= 0 and options.keep == "best":
                break
            epoch_start = time.perf_counter()
            train_loss, train_acc = _train_epoch(model, optimizer, scheduler, data["train"], options, epoch, bar,
                                                 averaged)
            val_loss, val_acc = (evaluate(judged, data["val"], options.device) if data["val"]
                                 else (train_loss, train_acc))
            history.append({
                "epoch": epoch, "train_loss": train_loss, "train_accuracy": train_acc,
                "val_loss": val_loss, "val_accuracy": val_acc,
                "seconds": round(time.perf_counter() - epoch_start, 2),
            })
            log.info("epoch %d: loss %.4f acc %.4f, val_loss %.4f val_acc %.4f",
                     epoch, train_loss, train_acc, val_loss, val_acc)
            if val_acc > best["val_accuracy"] or options.keep == "last":
                best = {"epoch": epoch, "val_accuracy": val_acc, "state": copy.deepcopy(judged.state_dict())}
            _save_progress(output, model, optimizer, scheduler, best, history, options, epoch)
    model.load_state_dict(best["state"])
    blended = (_blend(model, data, options) if options.blend and fitted is None
               and (config.wide or options.blend_without_wide) else None)
    if blended is not None:
        config = model.config  # the fold may add the fit's bigram rows, or the term itself
        if blended["a"] > 0 and data["val"] is not None:
            best["val_accuracy"] = evaluate(model, data["val"], options.device)[1]
    refitted = (blended is not None and options.refit and validation is None and groups is None
                and data["val"] is not None)
    # a refit scores the test split with the model it trains (_merge_refit), not this one
    config.metrics = _final_metrics(model, {**data, "test": None} if refitted else data, options, history, best)
    if options.refit and not refitted:
        log.warning("refit skipped: it needs the blend (short texts, the wide term) and a validation split "
                    "of the training file (not --val or --val-groups)")
    if refitted:
        assert blended is not None
        split_metrics = config.metrics
        model = _refit(dataset, recipe_config, options, best["epoch"], blended, unlabeled, show_progress)
        config = model.config
        config.metrics = _merge_refit(split_metrics, config.metrics)
    if coverage is not None:
        config.metrics["vectors_coverage"] = coverage
    if unlabeled:
        config.metrics["teacher_labeled_examples"] = data["train"].teacher_labeled
        config.metrics["teachers"] = [Path(t).name for t in options.teachers]
    if options.ensemble_teachers:  # a student: its teachers' count and its targets' share from them
        config.metrics.update(ensemble_teachers=options.ensemble_teachers, distill_weight=options.distill_weight)
    similar = options.group_similar and options.val_split > 0
    config.metrics["validation"] = ("given" if validation is not None else
                                    "grouped split" if groups is not None else
                                    "random split, similar texts on one side" if similar else "random split")
    if options.recipe is not None:
        config.metrics["recipe"] = options.recipe
    if fitted is not None:
        _record_fit(config.metrics, fitted, best["epoch"])
    if blended is not None and options.blend_choice is None:  # a refit's run: its caller records the choice
        _record_blend(config.metrics, blended)
    if refitted:
        _record_refit(config.metrics, best["epoch"])
    save_checkpoint(output, model, history, held_out=held_out if options.keep_validation_texts else None)
    history_json, history_png = history_paths(output)
    atomic_write(history_json, lambda tmp: tmp.write_text(json.dumps(history, indent=1)))
    title = f"{config.arch}, vocabulary {config.vocab_size}, {config.embed_dim}/{config.hidden}"
    plot_history(history, history_png, title)
    return model.eval(), history


def _fit_wide(config: ModelConfig, data: dict[str, Any], options: TrainOptions,
              given: tuple[float, int, bool] | None = None) -> WideFit | None:
    """Stage 1: the wide term fitted alone on the training split (linear.py), or None without
    validation data to choose its L2 strength on. A ``wide_bigrams`` set by the user is the only
    bigram setting tried; otherwise none and BIGRAM_ROWS. ``given`` (L2, bigram rows, idf; a
    refit's): the only candidate, so nothing is chosen and no validation data is needed."""
    from .linear import BIGRAM_ROWS, choose_wide

    train_data, val_data = data["train"], data["val"]
    if given is None and val_data is None:
        log.warning("no validation data: the wide term is trained with the LSTM, not fitted first")
        return None
    grids: dict[str, Any] = {"bigram_rows": (config.wide_bigrams,) if config.wide_bigrams else (0, BIGRAM_ROWS)}
    if given is not None:  # one candidate: its score (on the training texts) decides nothing
        val_data = train_data
        grids = {"l2_grid": (given[0],), "bigram_rows": (given[1],), "idf_options": (given[2],)}
    weights = _class_weights(train_data, len(config.labels), options.class_weight)
    per_text = None
    if weights is not None:
        chosen = train_data.targets if train_data.soft_targets is None else train_data.soft_targets
        per_text = (weights.numpy()[chosen] if chosen.ndim == 1 else chosen @ weights.numpy()).astype(np.float64)
    start = time.perf_counter()
    fitted = choose_wide(train_data.sequences, train_data.targets, val_data.sequences, val_data.targets,
                         config.vocab_size, config.num_outputs, soft_targets=train_data.soft_targets,
                         weights=per_text, **grids)
    if given is not None:
        log.info("linear model refitted (%.0f s): L2 %g, bigram rows %d, idf %s", time.perf_counter() - start,
                 fitted.l2, fitted.bigrams, fitted.idf)
        return fitted
    log.info("wide term fitted alone (%.0f s): L2 %g, bigram rows %d, idf %s, validation accuracy %.4f (of %s)",
             time.perf_counter() - start, fitted.l2, fitted.bigrams, fitted.idf, fitted.val_accuracy,
             ", ".join(f"{key}: {value:.4f}" for key, value in fitted.scores.items()))
    return fitted


def _blend(model: TextClassifier, data: dict[str, Any], options: TrainOptions) -> dict[str, Any] | None:
    """The kept model blended with the linear model fitted alone (blend.py), ``a`` by validation
    log-loss; what was chosen, or None without validation data. With ``options.blend_choice``
    (a refit) nothing is chosen: the linear model is fitted with the given L2, bigrams and idf
    and folded in with the given ``a``."""
    from .blend import choose_a, fold

    config = model.config
    if options.blend_choice is not None:
        a, l2, bigrams, idf = options.blend_choice
        given = _fit_wide(config, data, options, (l2, bigrams, idf))
        assert given is not None
        fold(model, given, a)
        return {"a": a, "losses": {}, "l2": l2, "bigrams": bigrams, "idf": idf, "scores": {}}
    fitted = _fit_wide(config, data, options)
    if fitted is None:
        return None
    val = data["val"]
    deep, wide = model_logits(model, val, options.device), fitted.logits(val.sequences, config.vocab_size)
    a, losses = choose_a(deep, wide, val.targets)
    fold(model, fitted, a)
    log.info("blended with the linear model fitted alone: a %.1f (validation log-loss %.4f, %.4f without)",
             a, losses[f"{a:.1f}"], losses["0.0"])
    return {"a": a, "losses": losses, "l2": fitted.l2, "bigrams": fitted.bigrams, "idf": fitted.idf,
            "scores": fitted.scores}


def _refit(dataset: Dataset, recipe_config: ModelConfig, options: TrainOptions, epochs: int,
           blended: dict[str, Any], unlabeled: Sequence[str] | None, show_progress: bool) -> TextClassifier:
    """The recipe trained again from scratch on all the training texts, validation split
    included, with what validation chose: ``epochs`` epochs (the one early stopping kept; all of
    them run, the last kept, the learning rate on the first ``epochs`` of the recipe's schedule),
    the vocabulary built on all the texts, the linear model refitted with its L2, bigrams and idf
    and blended with the same ``a``. Same seed and limit: the same texts and test sample, and the
    same data gives the same model."""
    import tempfile

    again = replace(options, refit=False, val_split=0.0, keep="last", epochs=epochs,
                    schedule_epochs=options.schedule_epochs or options.epochs, keep_validation_texts=False,
                    blend_choice=(blended["a"], blended["l2"], blended["bigrams"], blended["idf"]), recipe=None)
    log.info("refit: the recipe again on training + validation texts, %d epochs, blend a %.1f", epochs, blended["a"])
    with tempfile.TemporaryDirectory() as folder:
        model, _ = train(dataset, recipe_config, again, Path(folder) / "refit.pt", show_progress=show_progress,
                         unlabeled=unlabeled)
    return model


# from the run that chose (on validation); the rest (test scores, training texts) are the refit's
_CHOICE_METRICS = ("best_epoch", "epochs_run", "val_accuracy", "val_macro_f1")


def _merge_refit(split: dict[str, Any], refit: dict[str, Any]) -> dict[str, Any]:
    """The refit model's metrics, with validation's and the epochs from the run that chose."""
    merged = {key: value for key, value in refit.items() if key not in _CHOICE_METRICS}
    merged.update({key: split[key] for key in _CHOICE_METRICS if key in split})
    merged["split_train_examples"] = split["train_examples"]
    return merged


def _record_refit(metrics: dict[str, Any], epochs: int) -> None:
    """That the model was refitted, in the recipe (``info`` shows it)."""
    recipe = metrics.setdefault("recipe", {"preset": None, "data": {}, "chosen": {}, "why": {}})
    recipe["chosen"]["refit"] = True
    recipe["why"]["refit"] = (f"after validation chose ({epochs} epochs, the blend), both models trained again on "
                              f"all {metrics['train_examples']} training texts "
                              f"({metrics['split_train_examples']} without validation), as the baselines refit")


_IDF_WHY = "the linear model's features scaled by each column's idf on the training split, as TF-IDF (linear.py)"


def _record_blend(metrics: dict[str, Any], blended: dict[str, Any]) -> None:
    """The blend's choice in the recipe (``info`` shows it)."""
    recipe = metrics.setdefault("recipe", {"preset": None, "data": {}, "chosen": {}, "why": {}})
    a, losses = blended["a"], blended["losses"]
    recipe["chosen"]["blend_a"] = a
    recipe["why"]["blend_a"] = (f"(1 - a) * model + a * linear model: the lowest validation log-loss "
                                f"({losses[f'{a:.1f}']:.4f}; {losses['0.0']:.4f} without)")
    recipe["chosen"]["blend_l2"] = blended["l2"]
    recipe["why"]["blend_l2"] = "the linear model's L2 strength: the best validation accuracy of its fits"
    recipe["chosen"]["blend_bigrams"] = blended["bigrams"]
    recipe["why"]["blend_bigrams"] = "the linear model's hashed pair rows (or none): chosen with blend_l2"
    recipe["chosen"]["blend_idf"] = blended["idf"]
    recipe["why"]["blend_idf"] = _IDF_WHY
    recipe["blend_losses"] = losses
    recipe["blend_scores"] = blended["scores"]


@torch.no_grad()
def _start_from_fit(model: TextClassifier, fitted: WideFit) -> None:
    """Stage 2's start: the fitted table and bias, the deep part's contribution exactly 0 (the
    head's last Linear zero; it learns first, then the layers below it); the table frozen
    (the LSTM trained against cross-fitted terms instead measured no better: README)."""
    assert model.wide is not None
    model.wide.weight.copy_(fitted.table.to(model.wide.weight.dtype))
    last = [layer for layer in model.head.modules() if isinstance(layer, torch.nn.Linear)][-1]
    last.weight.zero_()
    last.bias.copy_(fitted.bias.to(last.bias.dtype))
    model.wide.weight.requires_grad_(False)


def _epoch_zero(model: TextClassifier, data: dict[str, Any], device: str) -> dict[str, Any]:
    start = time.perf_counter()
    train_loss, train_acc = evaluate(model, data["train"], device)
    val_loss, val_acc = evaluate(model, data["val"], device)
    log.info("epoch 0 (the fitted wide term alone): loss %.4f acc %.4f, val_loss %.4f val_acc %.4f",
             train_loss, train_acc, val_loss, val_acc)
    return {"epoch": 0, "train_loss": train_loss, "train_accuracy": train_acc, "val_loss": val_loss,
            "val_accuracy": val_acc, "seconds": round(time.perf_counter() - start, 2)}


def _record_fit(metrics: dict[str, Any], fitted: WideFit, best_epoch: int) -> None:
    """What stage 1 chose and whether epoch 0 was kept: in the recipe (``info`` shows it)."""
    recipe = metrics.setdefault("recipe", {"preset": None, "data": {}, "chosen": {}, "why": {}})
    tried = len(fitted.scores)
    recipe["chosen"]["wide_l2"] = fitted.l2
    recipe["why"]["wide_l2"] = (f"the wide term fitted alone first (logistic regression): the best validation "
                                f"accuracy ({fitted.val_accuracy:.4f}) of {tried} fits")
    recipe["chosen"]["wide_bigrams"] = fitted.bigrams
    both = len({key.split()[1] for key in fitted.scores}) > 1
    recipe["why"]["wide_bigrams"] = "hashed pair rows, or none: chosen with wide_l2" if both else "set by flags"
    recipe["chosen"]["wide_idf"] = fitted.idf
    recipe["why"]["wide_idf"] = _IDF_WHY
    recipe["chosen"]["wide_epoch_0"] = best_epoch == 0
    recipe["why"]["wide_epoch_0"] = ("kept the fitted linear model alone: no LSTM epoch beat it on validation"
                                     if best_epoch == 0 else f"LSTM epoch {best_epoch} beat the linear model alone")
    recipe["wide_scores"] = fitted.scores


def _final_metrics(model, data, options, history, best) -> dict[str, Any]:
    # No wall time here: the metrics travel into the exported model's metadata, and the same
    # data and seed must give the same file. Each epoch's seconds are in the history.
    metrics = {
        # epoch 0 (the fitted wide term alone) is a candidate, not a run epoch
        "best_epoch": best["epoch"], "epochs_run": sum(h["epoch"] > 0 for h in history),
        "val_accuracy": best["val_accuracy"], "train_examples": len(data["train"].sequences),
        "seed": options.seed,
    }
    labels = model.config.labels
    if data["val"] is not None:
        _, _, predicted = _evaluate(model, data["val"], options.device)
        metrics["val_macro_f1"] = classification_report(labels, data["val"].targets, predicted)["macro_f1"]
    if data["test"] is not None:
        test_loss, test_acc, predicted = _evaluate(model, data["test"], options.device)
        report = classification_report(labels, data["test"].targets, predicted)
        # the confusion matrix holds the whole per-label report (edgelstm.metrics.report_from_confusion)
        metrics.update(test_loss=test_loss, test_accuracy=test_acc, test_macro_f1=report["macro_f1"],
                       test_confusion=report["confusion"], test_examples=len(data["test"].sequences))
        log.debug("test loss %.4f, test accuracy %.4f", test_loss, test_acc)
    return metrics


def _init_vectors(model: TextClassifier, options: TrainOptions) -> float:
    """Copy the vectors of the vocabulary's words into the embedding; the share of words found."""
    from .vectors import read_vectors

    vocabulary = model.config.vocabulary
    found = read_vectors(options.vectors, vocabulary)  # type: ignore[arg-type]
    if found.file_words and found.dim != model.config.embed_dim:
        raise DataError(f"{options.vectors}: vectors of dimension {found.dim}, the embedding has "
                        f"{model.config.embed_dim} (set --embed-dim {found.dim})")
    rows = {w: i + RESERVED_IDS for i, w in enumerate(vocabulary)}
    with torch.no_grad():
        for word, vector in zip(found.words, found.vectors):
            model.embedding.weight[rows[word]] = torch.from_numpy(vector)
    if options.freeze_vectors:
        model.embedding.weight.requires_grad_(False)
    coverage = len(found.words) / max(len(vocabulary), 1)
    log.info("word vectors: %d of %d vocabulary words (%.1f%%) found among the file's %d; the rest "
             "keep their random start", len(found.words), len(vocabulary), 100 * coverage, found.file_words)
    return round(coverage, 4)


def _optimizer(model: TextClassifier, options: TrainOptions, n_train: int):
    """Adam (the example's) or, with weight decay, AdamW; and the learning-rate schedule."""
    wide = [] if model.wide is None or not model.wide.weight.requires_grad else [model.wide.weight]
    deep = [p for p in model.parameters() if p.requires_grad and all(p is not w for w in wide)]
    # trained jointly, the wide term's weights learn WIDE_LR_SCALE times faster: one weight per word
    # sees few steps, and it is linear (fastText trains its table at a much larger rate still);
    # fitted first (wide_fit), they are frozen and not in the optimizer
    groups: list[dict[str, Any]] = [{"params": deep, "lr": options.learning_rate}]
    if wide:
        groups.append({"params": wide, "lr": options.learning_rate * WIDE_LR_SCALE})
    if options.weight_decay > 0:
        optimizer: torch.optim.Optimizer = torch.optim.AdamW(groups, lr=options.learning_rate,
                                                             weight_decay=options.weight_decay)
    else:
        optimizer = torch.optim.Adam(groups, lr=options.learning_rate)
    if options.lr_schedule == "constant":
        return optimizer, None
    steps = (options.schedule_epochs or options.epochs) * -(-n_train // options.batch_size)

    def cosine(step: int) -> float:  # the share of the learning rate at this step: 1 -> 0
        return 0.5 * (1 + float(np.cos(np.pi * min(step, steps) / steps)))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, cosine)


def _save_progress(output, model, optimizer, scheduler, best, history, options, epoch) -> None:
    """Checkpoint with the best weights so far, plus what --resume needs to continue."""
    last_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best["state"])
    save_checkpoint(output, model, history, resume={
        "epoch": epoch, "options": asdict(options), "last_state": last_state,
        "optimizer": optimizer.state_dict(), "best_epoch": best["epoch"],
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "best_val_accuracy": best["val_accuracy"], "torch_rng": torch.get_rng_state(),
    })
    model.load_state_dict(last_state)


def _resume_state(output: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The checkpoint of an interrupted run and its resume state; DataError for a finished one."""
    state = load_checkpoint(output)
    resume = state.get("resume")
    if resume is None:
        raise DataError(f"{output}: training already finished; nothing to resume")
    return state, resume


def _restore(output, model, optimizer, scheduler, config, options):
    state, resume = _resume_state(output)
    saved = ModelConfig.from_dict(state["config"])
    if saved.vocabulary != config.vocabulary or saved.arch != config.arch:
        raise DataError(f"{output}: was trained on other data or settings; cannot resume")
    model.load_state_dict(resume["last_state"])
    optimizer.load_state_dict(resume["optimizer"])
    if scheduler is not None and resume.get("scheduler"):
        scheduler.load_state_dict(resume["scheduler"])
    torch.set_rng_state(resume["torch_rng"])
    best = {"epoch": resume["best_epoch"], "val_accuracy": resume["best_val_accuracy"],
            "state": state["state_dict"]}
    log.info("resuming after epoch %d", resume["epoch"])
    return resume["epoch"] + 1, state["history"], best
