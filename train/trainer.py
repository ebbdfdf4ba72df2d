"""Training as in the Keras IMDB example: Adam, (binary) cross-entropy, batch 64, early stopping
on validation accuracy with the best weights kept; reproducible on the CPU for a given seed."""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgelstm.config import ModelConfig
from edgelstm.data import Dataset, LabeledTexts
from edgelstm.errors import DataError
from edgelstm.files import atomic_write
from edgelstm.tokenizer import RESERVED_IDS, Tokenizer, build_vocabulary, pad_batch

from .checkpoint import load_checkpoint, save_checkpoint
from .model import TextClassifier
from .plots import plot_history

__all__ = ["Encoded", "TrainOptions", "evaluate", "train"]

log = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    epochs: int = 20
    batch_size: int = 64
    val_split: float = 0.1
    patience: int = 5  # epochs without a better validation accuracy before stopping
    learning_rate: float = 1e-3  # Adam's (and Keras') default
    seed: int = 0
    device: str = "cpu"
    limit: int | None = None  # use a random subset of this many train (and test) examples
    # One thread: the example's small LSTMs trained 2.6x faster on 1 thread than on 2 (2 cores).
    threads: int = 1
    # Keep the validation split's raw texts (up to HELD_OUT_CAP) in model.pt, to judge int8
    # recipes on later without --data. Off by default: whoever gets the checkpoint gets them.
    keep_validation_texts: bool = False


@dataclass
class Encoded:
    sequences: list[list[int]]
    targets: np.ndarray  # (N,) label ids

    @property
    def lengths(self) -> list[int]:
        return [len(s) for s in self.sequences]

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


def _tensors(data: Encoded, rows: np.ndarray, device: str):
    input_ids, lengths = pad_batch([data.sequences[i] for i in rows])
    targets = torch.from_numpy(data.targets[rows]).to(device)
    return torch.from_numpy(input_ids).to(device), torch.from_numpy(lengths), targets


@torch.no_grad()
def evaluate(model: TextClassifier, data: Encoded, device: str, batch_size: int = 256):
    """(mean loss, accuracy) over encoded data, in eval mode."""
    model.eval()
    total_loss, correct = 0.0, 0
    for rows in _batches(data.lengths, batch_size, None):
        input_ids, lengths, targets = _tensors(data, rows, device)
        logits = model(input_ids, lengths)
        total_loss += model.loss(logits, targets).item() * len(rows)
        correct += (model.probabilities(logits).argmax(dim=1) == targets).sum().item()
    n = max(len(data.sequences), 1)
    return total_loss / n, correct / n


def _prepare(dataset: Dataset, config: ModelConfig, options: TrainOptions):
    """Split off validation data, build the vocabulary on the rest, encode every split."""
    rng = np.random.default_rng(options.seed)
    order = rng.permutation(len(dataset.train))
    if options.limit:
        order = order[: options.limit]
    n_val = int(round(len(order) * options.val_split))
    train_part, val_part = dataset.train.subset(order[n_val:]), dataset.train.subset(order[:n_val])
    labels = sorted(set(train_part.labels))
    if len(labels) < 2:
        raise DataError("the training split has fewer than two labels")
    vocabulary = build_vocabulary(train_part.texts, config.vocab_size)
    config = replace(config, labels=labels, vocabulary=vocabulary, vocab_size=len(vocabulary) + RESERVED_IDS)
    tokenizer = Tokenizer(vocabulary, config.max_len)
    test = dataset.test
    if test is not None and options.limit:
        test = test.subset(rng.permutation(len(test))[: options.limit])
    encoded = {
        "train": Encoded.of(train_part, tokenizer, labels),
        "val": Encoded.of(val_part, tokenizer, labels) if n_val else None,
        "test": Encoded.of(test, tokenizer, labels) if test is not None else None,
    }
    return config, encoded, val_part


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


def _train_epoch(model, optimizer, data: Encoded, options: TrainOptions, epoch: int, bar) -> tuple[float, float]:
    model.train()
    generator = torch.Generator().manual_seed(options.seed * 1000 + epoch)
    n = len(data.sequences)
    task = bar.add_task(f"epoch {epoch}/{options.epochs}", total=n, loss=0.0, accuracy=0.0)
    total_loss, correct, seen = 0.0, 0, 0
    for rows in _batches(data.lengths, options.batch_size, generator):
        input_ids, lengths, targets = _tensors(data, rows, options.device)
        logits = model(input_ids, lengths)  # (B, outputs)
        loss = model.loss(logits, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(rows)
        correct += (model.probabilities(logits).argmax(dim=1) == targets).sum().item()
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
) -> tuple[TextClassifier, list[dict[str, Any]]]:
    """Train, keep the best epoch's weights, evaluate on the test split, write ``output``.

    After every epoch ``output`` is rewritten atomically with the best weights so far and the
    state needed by ``resume=True`` to continue after an interruption.
    """
    output = Path(output)
    torch.set_num_threads(options.threads)
    torch.manual_seed(options.seed)
    config, data, held_out = _prepare(dataset, config, options)
    log.info(
        "%d train / %d validation examples, %d labels, vocabulary %d",
        len(data["train"].sequences), len(data["val"].sequences) if data["val"] else 0,
        len(config.labels), config.vocab_size,
    )
    model = TextClassifier(config).to(options.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=options.learning_rate)
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"epoch": 0, "val_accuracy": -1.0, "state": copy.deepcopy(model.state_dict())}
    first_epoch = 1
    if resume and output.exists():
        first_epoch, history, best = _restore(output, model, optimizer, config, options)
    with _progress(show_progress) as bar:
        for epoch in range(first_epoch, options.epochs + 1):
            if epoch - best["epoch"] > options.patience and best["epoch"]:
                break
            epoch_start = time.perf_counter()
            train_loss, train_acc = _train_epoch(model, optimizer, data["train"], options, epoch, bar)
            val_loss, val_acc = evaluate(model, data["val"], options.device) if data["val"] else (train_loss, train_acc)
            history.append({
                "epoch": epoch, "train_loss": train_loss, "train_accuracy": train_acc,
                "val_loss": val_loss, "val_accuracy": val_acc,
                "seconds": round(time.perf_counter() - epoch_start, 2),
            })
            log.info("epoch %d: loss %.4f acc %.4f, val_loss %.4f val_acc %.4f",
                     epoch, train_loss, train_acc, val_loss, val_acc)
            if val_acc > best["val_accuracy"]:
                best = {"epoch": epoch, "val_accuracy": val_acc, "state": copy.deepcopy(model.state_dict())}
            _save_progress(output, model, optimizer, best, history, options, epoch)
    model.load_state_dict(best["state"])
    config.metrics = _final_metrics(model, data, options, history, best)
    save_checkpoint(output, model, history, held_out=held_out if options.keep_validation_texts else None)
    history_path = output.with_suffix(".history.json")
    atomic_write(history_path, lambda tmp: tmp.write_text(json.dumps(history, indent=1)))
    title = f"{config.arch}, vocabulary {config.vocab_size}, {config.embed_dim}/{config.hidden}"
    plot_history(history, output.with_suffix(".history.png"), title)
    return model.eval(), history


def _final_metrics(model, data, options, history, best) -> dict[str, Any]:
    metrics = {
        "best_epoch": best["epoch"], "epochs_run": len(history),
        "val_accuracy": best["val_accuracy"], "train_examples": len(data["train"].sequences),
        "train_seconds": round(sum(h["seconds"] for h in history), 1),
        "seed": options.seed,
    }
    if data["test"] is not None:
        test_loss, test_acc = evaluate(model, data["test"], options.device)
        metrics.update(test_loss=test_loss, test_accuracy=test_acc, test_examples=len(data["test"].sequences))
        log.debug("test loss %.4f, test accuracy %.4f", test_loss, test_acc)
    return metrics


def _save_progress(output, model, optimizer, best, history, options, epoch) -> None:
    """Checkpoint with the best weights so far, plus what --resume needs to continue."""
    last_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best["state"])
    save_checkpoint(output, model, history, resume={
        "epoch": epoch, "options": asdict(options), "last_state": last_state,
        "optimizer": optimizer.state_dict(), "best_epoch": best["epoch"],
        "best_val_accuracy": best["val_accuracy"], "torch_rng": torch.get_rng_state(),
    })
    model.load_state_dict(last_state)


def _restore(output, model, optimizer, config, options):
    state = load_checkpoint(output)
    resume = state.get("resume")
    if resume is None:
        raise DataError(f"{output}: training already finished; nothing to resume")
    saved = ModelConfig.from_dict(state["config"])
    if saved.vocabulary != config.vocabulary or saved.arch != config.arch:
        raise DataError(f"{output}: was trained on other data or settings; cannot resume")
    model.load_state_dict(resume["last_state"])
    optimizer.load_state_dict(resume["optimizer"])
    torch.set_rng_state(resume["torch_rng"])
    best = {"epoch": resume["best_epoch"], "val_accuracy": resume["best_val_accuracy"],
            "state": state["state_dict"]}
    log.info("resuming after epoch %d", resume["epoch"])
    return resume["epoch"] + 1, state["history"], best
