"""The commands. Each parses its options and calls the library."""

# No ``from __future__ import annotations`` here: typer reads each command's annotations at every
# start, and strings it would compile and evaluate twice (inspect.signature, get_type_hints).

import json
import logging
import os
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from enum import Enum
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import numpy as np
import typer

from edgelstm.config import ARCHS
from edgelstm.errors import EXIT_MISSING_EXTRA, InputError
from edgelstm.export.recipes import ACCURACY_BUDGET, choose_recipe  # plain data: loads no onnx
from edgelstm.serve import options as serve_defaults  # plain constants: loads no web framework
from edgelstm.train.presets import DEFAULT_PRESET, KEEP_EPOCHS, LR_SCHEDULES, PRESETS

from . import _fail, _friendly_errors, app, log

if TYPE_CHECKING:
    from edgelstm import Classifier, Prediction
    from edgelstm.bench import BenchResult

__all__ = [
    "Arch", "ClassWeight", "Keep", "OutputFormat", "Preset", "ReportFormat", "Schedule", "bench", "evaluate", "export", "info", "predict", "pretrain", "quantize",
    "serve", "train",
]

TEXT_LINE = "{}\t{:.6f}"  # predict --format text: the label, the probability of that label


ModelOption = Annotated[
    Optional[Path],
    typer.Option("--model", "-m", help="A .onnx export or .pt checkpoint [default: $EDGELSTM_MODEL, else the shipped model]."),
]


def _classifier(model: Optional[Path], threads: Optional[int] = None) -> "Classifier":
    from edgelstm import Classifier

    return Classifier.load(model, threads=threads) if model else Classifier.default(threads=threads)


# typer wants an Enum for choices; its members are the names in edgelstm.config.ARCHS
Arch = Enum("Arch", {name: name for name in ARCHS}, type=str)  # type: ignore[misc]


class OutputFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"


class ReportFormat(str, Enum):
    text = "text"
    json = "json"


DataOptions = {
    "text_column": typer.Option(help="CSV/TSV/JSONL field holding the text."),
    "label_column": typer.Option(help="CSV/TSV/JSONL field holding the label."),
}


# typer wants Enums for choices: built from training's names (edgelstm.train.presets loads no torch)
Preset = Enum("Preset", {name: name for name in PRESETS}, type=str)  # type: ignore[misc]
Schedule = Enum("Schedule", {name: name for name in LR_SCHEDULES}, type=str)  # type: ignore[misc]
Keep = Enum("Keep", {name: name for name in KEEP_EPOCHS}, type=str)  # type: ignore[misc]


class ClassWeight(str, Enum):
    none = "none"
    balanced = "balanced"


PRESET_HELP = "[default: from --preset]"


@app.command()
@_friendly_errors
def train(
    data: Annotated[Path, typer.Argument(help="aclImdb folder or .tar.gz, CSV/TSV, JSONL, or fastText lines.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Checkpoint to write.")] = Path("model.pt"),
    preset: Annotated[Preset, typer.Option(help="Recipe for every option left unset: default (README, Training) or keras-imdb (the Keras example exactly).")] = Preset[DEFAULT_PRESET],
    arch: Annotated[Optional[Arch], typer.Option(help=f"lstm (Keras 4.1) or bilstm (4.2, max+mean pooled). {PRESET_HELP}", show_default=False)] = None,
    vocab_size: Annotated[Optional[int], typer.Option(min=3, help=f"Most embedding rows: padding, unknown, and words. {PRESET_HELP}")] = None,
    min_count: Annotated[Optional[int], typer.Option(min=1, help=f"Vocabulary: only words seen this often in training. {PRESET_HELP}")] = None,
    max_len: Annotated[Optional[int], typer.Option(min=1, help=f"Tokens kept per text (its last ones). {PRESET_HELP}")] = None,
    embed_dim: Annotated[Optional[int], typer.Option(min=1, help="[default: the --vectors' dimension, else from --preset]")] = None,
    hidden: Annotated[Optional[int], typer.Option(min=1, help=f"LSTM units per direction. {PRESET_HELP}")] = None,
    dense: Annotated[Optional[int], typer.Option(min=0, help=f"lstm head's hidden Dense width (0: none). {PRESET_HELP}")] = None,
    dropout: Annotated[Optional[float], typer.Option(min=0.0, max=0.95, help="On embeddings and the head's input. [default: from --preset; keras-imdb: 0.2 lstm, 0.5 bilstm]")] = None,
    word_dropout: Annotated[Optional[float], typer.Option(min=0.0, max=0.9, help=f"Share of training tokens replaced by the unknown word. {PRESET_HELP}")] = None,
    wide: Annotated[Optional[bool], typer.Option("--wide/--no-wide", help=f"Add a bag-of-words term to the logits (one weight per word and label, averaged over the text), trained with the LSTM. {PRESET_HELP}", show_default=False)] = None,
    wide_bigrams: Annotated[Optional[int], typer.Option(min=0, help=f"With --wide: also pairs of neighbouring words, hashed into this many rows (a power of two up to 65536; 0: none). {PRESET_HELP}")] = None,
    wide_fit: Annotated[Optional[bool], typer.Option("--wide-fit/--no-wide-fit", help=f"Fit the wide term alone first (logistic regression, L2 and bigrams chosen on validation; turns the term on, not with --no-wide), then train the LSTM on top from a zero contribution; else train both together. {PRESET_HELP}", show_default=False)] = None,
    blend: Annotated[Optional[bool], typer.Option("--blend/--no-blend", help=f"After early stopping, blend the model with the linear model fitted alone ((1 - a) * model + a * linear, a by validation log-loss), folded into the same weights: into the wide term trained with the LSTM on short texts; on long texts the default BiLSTM gets the term from the fold. {PRESET_HELP}", show_default=False)] = None,
    refit: Annotated[Optional[bool], typer.Option("--refit/--no-refit", help=f"With the blend and a validation split of the training file: once validation has chosen (the epochs, the blend), train both models again on all the training texts, validation included. {PRESET_HELP}", show_default=False)] = None,
    vectors: Annotated[Optional[Path], typer.Option(help="Word vectors to start the embedding from (word2vec/GloVe/fastText text format, e.g. from `edgelstm pretrain`).")] = None,
    freeze_vectors: Annotated[bool, typer.Option(help="Keep the embedding as --vectors set it.")] = False,
    unlabeled: Annotated[Optional[list[Path]], typer.Option(metavar="<path>", help="Unlabeled texts to learn from as well, labeled by --teacher (aclImdb folders or .tar.gz: their train split; or one text per line). Repeatable.")] = None,
    teacher: Annotated[Optional[list[str]], typer.Option(metavar="<ngram|path>", help="What labels --unlabeled: 'ngram' (an n-gram logistic regression fitted on the training split; the distill extra) or an earlier model file; repeat to average several. [default: ngram]", show_default=False)] = None,
    epochs: Annotated[Optional[int], typer.Option(min=1, help=PRESET_HELP)] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help=PRESET_HELP)] = None,
    val: Annotated[Optional[Path], typer.Option(help="Labeled validation data (e.g. an official dev set) instead of a split of DATA.")] = None,
    val_split: Annotated[Optional[float], typer.Option(min=0.0, max=0.9, help=f"Share of DATA held out for validation. {PRESET_HELP}")] = None,
    val_groups: Annotated[Optional[Path], typer.Option(help="Keep related texts on one side of the validation split: a file with one group key per training text, or the aclImdb URL lists (folder or .tar.gz: reviews of one movie stay together).")] = None,
    patience: Annotated[Optional[int], typer.Option(min=1, help=f"Early stopping on validation accuracy. {PRESET_HELP}")] = None,
    keep: Annotated[Keep, typer.Option(help="The weights to keep: the epoch with the best validation accuracy (early stopping), or the last epoch (all --epochs run).")] = Keep[KEEP_EPOCHS[0]],
    lr: Annotated[Optional[float], typer.Option(min=0.0, help=f"Adam(W) learning rate. {PRESET_HELP}")] = None,
    lr_schedule: Annotated[Optional[Schedule], typer.Option(help=f"constant, or cosine decay to 0 over --epochs. {PRESET_HELP}", show_default=False)] = None,
    weight_decay: Annotated[Optional[float], typer.Option(min=0.0, help=f"AdamW weight decay (0: Adam). {PRESET_HELP}")] = None,
    class_weight: Annotated[Optional[ClassWeight], typer.Option(help=f"Loss weight per label: none, or balanced (inverse to the label's share of the training texts). {PRESET_HELP}", show_default=False)] = None,
    distill_weight: Annotated[Optional[float], typer.Option(min=0.0, max=1.0, help=f"Share of the training texts' targets taken from the n-gram teacher (fitted on the other folds; the distill extra), the rest from their labels. {PRESET_HELP}")] = None,
    ensemble_teachers: Annotated[Optional[int], typer.Option(min=0, help=f"Train this many teacher models first (seeds --seed, --seed + 1, ...; the same split), then the model as their student: half its training texts' targets from their mean probabilities. The model is the same size; training takes this many runs more (0: none). {PRESET_HELP}")] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same data, same CPU: same model.")] = 0,
    device: Annotated[str, typer.Option(help="cpu, or cuda where available.")] = "cpu",
    threads: Annotated[int, typer.Option(min=1, help="CPU threads for PyTorch.")] = 1,
    limit: Annotated[Optional[int], typer.Option(min=10, help="Use a random subset of this many train (and test) texts, and the first this many --unlabeled ones.")] = None,
    test: Annotated[Optional[Path], typer.Option(help="Labeled test data, if DATA has no test split.")] = None,
    text_column: Annotated[str, DataOptions["text_column"]] = "text",
    label_column: Annotated[str, DataOptions["label_column"]] = "label",
    skip_bad_rows: Annotated[bool, typer.Option(help="Skip malformed rows (and say how many) instead of failing.")] = False,
    resume: Annotated[bool, typer.Option(help="Continue the interrupted run that wrote --output.")] = False,
    keep_validation_texts: Annotated[bool, typer.Option(
        help="Store the validation split's texts in the checkpoint, so export --int8 needs no --data. "
             "Anyone given the checkpoint gets them.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar per epoch.")] = True,
) -> None:
    """Train a classifier on labeled texts and print its test loss and accuracy."""
    from edgelstm.train.run import train_files

    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise typer.BadParameter("CUDA is not available on this machine", param_hint="--device")
    if val is not None and val_groups is not None:
        raise typer.BadParameter("give --val or --val-groups, not both", param_hint="--val-groups")
    if teacher and not unlabeled:
        raise typer.BadParameter("a teacher labels --unlabeled texts; give those too", param_hint="--teacher")
    settings = {  # None: the preset's (edgelstm.train.presets.resolve)
        "arch": arch.value if arch is not None else None, "vocab_size": vocab_size, "min_count": min_count,
        "max_len": max_len, "embed_dim": embed_dim, "hidden": hidden, "dense": dense, "dropout": dropout,
        "wide": wide, "wide_bigrams": wide_bigrams, "wide_fit": wide_fit, "blend": blend, "refit": refit, "word_dropout": word_dropout, "epochs": epochs, "batch_size": batch_size, "val_split": val_split,
        "patience": patience, "lr": lr, "lr_schedule": lr_schedule.value if lr_schedule is not None else None,
        "weight_decay": weight_decay, "keep": keep.value, "seed": seed, "device": device, "threads": threads,
        "limit": limit, "vectors": vectors, "freeze_vectors": freeze_vectors,
        "keep_validation_texts": keep_validation_texts,
        "class_weight": class_weight.value if class_weight is not None else None, "distill_weight": distill_weight,
        "ensemble_teachers": ensemble_teachers,
    }
    model = train_files(data, output, preset=preset.value, settings=settings, test=test, val=val,
                        val_groups=val_groups, unlabeled=unlabeled or (), teachers=teacher or (), resume=resume,
                        show_progress=progress, text_column=text_column, label_column=label_column,
                        skip_bad_rows=skip_bad_rows)
    metrics = model.config.metrics
    if "test_accuracy" in metrics:
        from edgelstm.metrics import format_report, report_from_confusion

        typer.echo(f"test loss {metrics['test_loss']:.4f}  test accuracy {metrics['test_accuracy']:.4f}  "
                   f"test macro-F1 {metrics['test_macro_f1']:.4f}")
        typer.echo(format_report(report_from_confusion(model.config.labels, metrics["test_confusion"])))
    log.info("wrote %s (best epoch %d of %d)", output, metrics["best_epoch"], metrics["epochs_run"])


@app.command()
@_friendly_errors
def pretrain(
    texts: Annotated[list[Path], typer.Argument(help="Unlabeled texts: aclImdb folders or .tar.gz (their train split, labeled and unlabeled; never test), or text files with one text per line.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Word vectors to write (text format, for train --vectors).")] = Path("vectors.vec"),
    dim: Annotated[int, typer.Option(min=1, help="Vector size (the model's --embed-dim).")] = 100,
    epochs: Annotated[int, typer.Option(min=1)] = 5,
    window: Annotated[int, typer.Option(min=1, help="Context words on each side.")] = 5,
    min_count: Annotated[int, typer.Option(min=1, help="Words seen fewer times get no vector.")] = 3,
    seed: Annotated[int, typer.Option(help="Same seed, same texts: same vectors.")] = 0,
) -> None:
    """Train word vectors (skip-gram word2vec, on edgelstm's tokenizer) on unlabeled texts of your domain."""
    from edgelstm.train.pretrain import PretrainOptions, pretrain_vectors

    stats = pretrain_vectors(texts, output, PretrainOptions(dim=dim, epochs=epochs, window=window,
                                                            min_count=min_count, seed=seed))
    log.info("%d texts, %d words read; vectors for %d words in %.0f s",
             stats["texts"], stats["tokens"], stats["words"], stats["seconds"])
    typer.echo(output)



RecipeOption = Annotated[Optional[str], typer.Option(
    help="int8 recipe. Default weights-s8: weight-only, answers independent of batch and threads.")]
ActivationInt8Option = Annotated[bool, typer.Option(
    "--activation-int8",
    help="Allow onnxruntime's dynamic recipes (dynamic-*), which quantize activations per batch: "
         "a text's answer then depends on the other texts in its batch. Never chosen by default.")]
DataOption = Annotated[Optional[Path], typer.Option(help="Labeled texts to check int8 accuracy on (its test split if it has one).")]
BudgetOption = Annotated[float, typer.Option(min=0.0, help="Accuracy points int8 may lose against fp32.")]
BUDGET_POINTS = round(100 * ACCURACY_BUDGET, 6)  # the library's budget (a fraction), shown in points
TimingsOption = Annotated[bool, typer.Option(help="Also measure and print fp32 vs int8 speed (reported, never used to choose).")]


def _recipe(recipe: Optional[str], activation_int8: bool) -> str:
    try:
        return choose_recipe(recipe, activation_int8=activation_int8).name
    except ValueError as exc:  # an activation recipe without --activation-int8: a usage error
        raise typer.BadParameter(str(exc), param_hint="--recipe") from exc


def _print_recipes(table: "Sequence[BenchResult]", winner: str) -> None:
    from rich.console import Console
    from rich.table import Table

    if not table:
        return
    fp32 = table[0]
    view = Table(title="int8 measured (one thread; reported only, the recipe is fixed)")
    for column in ("model", "size", "of fp32", "batch-1 ms", "p99 ms", "texts/s (batch 64)", "accuracy"):
        view.add_column(column, justify="left" if column == "model" else "right")
    for m in table:
        view.add_row(m.name, f"{m.size_bytes / 1024:.0f} KiB",
                     f"{m.size_bytes / fp32.size_bytes:.0%}", f"{m.latency_p50_ms:.3f}", f"{m.latency_p99_ms:.3f}",
                     f"{m.throughput:.0f}", f"{m.accuracy:.2%}")
    Console(stderr=True, width=120).print(view)


@app.command()
@_friendly_errors
def export(
    checkpoint: Annotated[Path, typer.Argument(help="A model.pt written by edgelstm train.")],
    outdir: Annotated[Path, typer.Option("--output", "-o", help="Folder for model.onnx.")] = Path("."),
    int8: Annotated[bool, typer.Option(help="Also write model.int8.onnx (weight-only int8 unless --recipe).")] = False,
    recipe: RecipeOption = None,
    activation_int8: ActivationInt8Option = False,
    data: DataOption = None,
    budget: BudgetOption = BUDGET_POINTS,
    timings: TimingsOption = False,
) -> None:
    """Export a checkpoint to OUTDIR/model.onnx, validated against PyTorch before it is written.

    The same checkpoint (and data) always gives the same bytes.
    """
    from edgelstm.export import export_checkpoint

    int8 = int8 or recipe is not None
    chosen = _recipe(recipe, activation_int8)
    written, table = export_checkpoint(checkpoint, outdir, int8=int8, data=data, recipe=chosen, budget=budget / 100,
                                       timings=timings)
    _print_recipes(table, chosen)
    for path in written:
        typer.echo(path)


@app.command()
@_friendly_errors
def quantize(
    model: Annotated[Path, typer.Argument(help="An fp32 model.onnx.")],
    data: DataOption = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Default: MODEL with .int8.onnx.")] = None,
    recipe: RecipeOption = None,
    activation_int8: ActivationInt8Option = False,
    budget: BudgetOption = BUDGET_POINTS,
    timings: TimingsOption = False,
) -> None:
    """Write an int8 model (weight-only by default: same answer alone or in any batch). Needs no torch."""
    from edgelstm.export.quantize import quantize_file

    chosen = _recipe(recipe, activation_int8)
    target, _, table = quantize_file(model, output, data=data, recipe=chosen, budget=budget / 100, timings=timings)
    _print_recipes(table, chosen)
    typer.echo(target)


@app.command()
@_friendly_errors
def evaluate(
    paths: Annotated[list[Path], typer.Argument(
        metavar="[MODEL] DATA",
        help="A model file (.onnx or .pt; default: --model, $EDGELSTM_MODEL, else the shipped model) "
             "and labeled data (for aclImdb: its test split).",
    )],
    model: ModelOption = None,
    text_column: Annotated[str, DataOptions["text_column"]] = "text",
    label_column: Annotated[str, DataOptions["label_column"]] = "label",
    skip_bad_rows: Annotated[bool, typer.Option(help="Skip malformed rows instead of failing.")] = False,
    output_format: Annotated[ReportFormat, typer.Option(
        "--format", help="text: accuracy, loss, macro-F1, each label's precision, recall and F1, and the "
                         "confusion matrix; json: the same as one JSON object.")] = ReportFormat.text,
) -> None:
    """Print the accuracy, loss, macro-F1, per-label precision/recall/F1 and confusion matrix of a model on labeled data."""
    if len(paths) > 2 or (len(paths) == 2 and model):
        raise typer.BadParameter("give at most one model and one data path", param_hint="[MODEL] DATA")
    from edgelstm.classifier import MODEL_SUFFIXES

    if len(paths) == 1 and paths[0].suffix in MODEL_SUFFIXES:  # `evaluate model.onnx`: data forgotten
        raise typer.BadParameter(f"{paths[0]} is a model; give labeled data after it", param_hint="[MODEL] DATA")
    from edgelstm.data import load_evaluation

    *model_path, data = paths
    classifier = _classifier(model_path[0] if model_path else model)
    split = load_evaluation(data, text_column=text_column, label_column=label_column, skip_bad_rows=skip_bad_rows)
    result = classifier.evaluate(split.texts, split.labels)
    if output_format is ReportFormat.json:
        typer.echo(json.dumps({"labels": list(classifier.config.labels), **result}, ensure_ascii=False))
        return
    from edgelstm.metrics import format_report

    typer.echo(f"accuracy {result['accuracy']:.4f}  loss {result['loss']:.4f}  macro-F1 {result['macro_f1']:.4f}"
               f"  examples {result['examples']}")
    typer.echo(format_report(result))


def _format(prediction: "Prediction", output_format: OutputFormat) -> str:
    if output_format is OutputFormat.jsonl:
        return json.dumps(prediction.to_dict(), ensure_ascii=False)
    return TEXT_LINE.format(prediction.label, prediction.probability)


def _format_block(labels: Sequence[str], probabilities: np.ndarray, output_format: OutputFormat) -> list[str]:
    """The lines of a block of (n, labels) probabilities, each ending in a newline: the text format
    from whole columns at once (no ``Prediction`` per row), the same as ``_format`` of each row."""
    from edgelstm.predictions import most_probable, to_prediction

    if output_format is OutputFormat.jsonl:
        return [_format(to_prediction(labels, row), output_format) + "\n" for row in probabilities]
    line = TEXT_LINE + "\n"
    return [line.format(labels[i], p) for i, p in zip(*most_probable(probabilities))]


@app.command()
@_friendly_errors
def predict(
    files: Annotated[list[str], typer.Argument(metavar="FILE...", help="Input files ('-' for standard input).")],
    model: ModelOption = None,
    output_format: Annotated[OutputFormat, typer.Option(
        "--format", help="text: label TAB the probability of that label (the most likely one); "
                         "jsonl: also every label's probability.")] = OutputFormat.text,
    per_file: Annotated[bool, typer.Option(help="One document per file instead of one per line.")] = False,
    force: Annotated[bool, typer.Option(help="Read files that look binary.")] = False,
    threads: Annotated[Optional[int], typer.Option(min=1, help="Inference threads (default: all cores).")] = None,
    stream: Annotated[bool, typer.Option(
        "--stream", help="Read one input line by line as it arrives (lstm models); after each line print "
                         "the prediction of all lines so far.")] = False,
) -> None:
    """Classify documents: one result per document, in input order, on stdout."""
    from edgelstm.documents import read_documents

    classifier = _classifier(model, threads)
    if stream:
        if per_file or len(files) != 1:
            raise typer.BadParameter("--stream reads one input ('-' for standard input), line by line",
                                     param_hint="--stream")
        _predict_stream(classifier, files[0], output_format, force)
        return
    # Errors keep their place among the results: each is printed after the results of the
    # documents before it (``at``: how many), while later documents are already being classified.
    errors: deque[tuple[int, Exception]] = deque()

    def texts() -> Iterator[str]:
        count = 0
        for item in read_documents(files, per_file=per_file, force=force):
            if isinstance(item, Exception):
                errors.append((count, item))
            else:
                count += 1
                yield item.text

    failures, written, labels = 0, 0, classifier.labels
    blocks = classifier.predict_proba_blocks(texts())  # a pipeline: see its docstring
    for block in chain(blocks, [np.zeros((0, len(labels)), np.float32)]):  # the last: errors after all
        lines, done = _format_block(labels, block, output_format), 0
        while errors and errors[0][0] <= written + len(lines):
            at, error = errors.popleft()
            sys.stdout.write("".join(lines[done : at - written]))
            sys.stdout.flush()  # the results before the error, then the error
            done = at - written
            failures += 1
            typer.echo(f"edgelstm: error: {error}", err=True)
        sys.stdout.write("".join(lines[done:]))
        sys.stdout.flush()
        written += len(lines)
    if failures:
        raise typer.Exit(InputError.exit_code)


def _predict_stream(classifier: "Classifier", source: str, output_format: OutputFormat, force: bool) -> None:
    """After each line, the running prediction of the text so far (its lines joined by newlines)."""
    from edgelstm.documents import read_documents

    text = classifier.stream()  # refuses models that cannot stream, before reading anything
    for item in read_documents([source], force=force):
        if isinstance(item, Exception):
            raise item
        sys.stdout.write(_format(text.feed(item.text + "\n"), output_format) + "\n")
        sys.stdout.flush()  # the reader is waiting for this line


@app.command()
@_friendly_errors
def bench(
    models: Annotated[list[Path], typer.Argument(
        metavar="MODEL...", help="Model files to compare (.pt, .onnx, .int8.onnx); the first is the baseline.")],
    data: Annotated[Path, typer.Option(help="Labeled texts (its test split if it has one).")],
    limit: Annotated[Optional[int], typer.Option(min=1, help="Use a random subset of this many texts.")] = None,
    threads: Annotated[int, typer.Option(min=1, help="Inference threads for every model.")] = 1,
    cold_start: Annotated[bool, typer.Option(help="Also time `edgelstm predict` in a fresh process.")] = True,
) -> None:
    """Measure models side by side (latency, throughput, size, accuracy); prints a markdown table."""
    from edgelstm.bench import run_benchmark, to_markdown
    from edgelstm.data import load_evaluation

    split = load_evaluation(data)
    if limit:
        split = split.sample(limit)
    results, machine = run_benchmark(models, split.texts, split.labels, threads=threads, cold_start=cold_start)
    typer.echo(to_markdown(results, machine))


@app.command()
@_friendly_errors
def info(
    model: Annotated[Optional[Path], typer.Argument(help="A model file [default: $EDGELSTM_MODEL, else the shipped model].")] = None,
) -> None:
    """Print what a model is: architecture, sizes, labels, vocabulary, int8 recipe, metrics, checksum."""
    from edgelstm.classifier import default_model_path

    rows = _classifier(model or default_model_path()).describe()
    width = max(map(len, rows))
    for key, value in rows.items():
        typer.echo(f"{key:<{width}}  {value}")


SERVE_EXTRA_HINT = "edgelstm serve needs the serve extra: pip install 'edgelstm[serve]'"


def _default_web() -> Optional[Path]:
    """The browser page of a source checkout (web/ beside runtime/), if it has one."""
    import edgelstm

    web = Path(edgelstm.__file__).resolve().parent.parent / "web"
    return web if (web / "index.html").is_file() else None


@app.command()
@_friendly_errors
def serve(
    model: ModelOption = None,
    name: Annotated[Optional[str], typer.Option(help="The model's name in /v2/models/NAME [default: the model file's stem].")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")] = serve_defaults.DEFAULT_HOST,
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free port; the log says which).")] = serve_defaults.DEFAULT_PORT,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Processes sharing the port, one model each.")] = 1,
    threads: Annotated[Optional[int], typer.Option(min=1, help="Inference threads per worker [default: cores / workers].")] = None,
    max_body: Annotated[int, typer.Option(min=1, help="Largest request body in bytes (larger: 413).")] = serve_defaults.DEFAULT_MAX_BODY,
    max_texts: Annotated[int, typer.Option(min=1, help="Most texts in one request (more: 413).")] = serve_defaults.DEFAULT_MAX_TEXTS,
    batch_wait_ms: Annotated[float, typer.Option(min=0.0, max=1000.0, help="Micro-batch requests arriving within this many ms (0: off; batch-invariant models only).")] = 0.0,
    web: Annotated[Optional[Path], typer.Option(help="Folder served at GET / [default: the checkout's web/ if present].")] = None,
    header_timeout: Annotated[float, typer.Option(min=0.1, help="Seconds a request's headers may take to arrive (late: 408, closed).")] = serve_defaults.DEFAULT_HEADER_TIMEOUT_S,
    body_timeout: Annotated[float, typer.Option(min=0.1, help="Seconds its body may take after them (late: 408, closed).")] = serve_defaults.DEFAULT_BODY_TIMEOUT_S,
    max_connections: Annotated[int, typer.Option(min=1, help="Open connections per worker (one more: 503, closed).")] = serve_defaults.DEFAULT_MAX_CONNECTIONS,
) -> None:
    """Serve the model over HTTP: Open Inference Protocol v2, POST /predict, /metrics. Ctrl-C stops it."""
    import signal

    # Stopped while still loading: nothing is in flight yet, so that is a clean exit too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    from edgelstm.serve import ServeOptions, batching_refusal, require_extra

    try:
        require_extra()
        from edgelstm.serve import serve as run_server
    except ModuleNotFoundError as exc:
        _fail(f"{exc.name} is not installed; {SERVE_EXTRA_HINT}", EXIT_MISSING_EXTRA)
    from edgelstm.classifier import default_model_path

    path = model or default_model_path()
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    classifier = _classifier(model, threads)  # a bad model fails here, before the port is taken
    refusal = batching_refusal(classifier.config) if batch_wait_ms > 0 else None
    if refusal:
        raise typer.BadParameter(refusal, param_hint="--batch-wait-ms")
    if web is not None and not (web / "index.html").is_file():
        raise typer.BadParameter(f"{web} has no index.html", param_hint="--web")
    options = ServeOptions(
        model=path, name=name or path.stem, host=host, port=port,
        workers=workers, threads=threads, max_body=max_body, max_texts=max_texts, batch_wait_ms=batch_wait_ms,
        web=web or _default_web(), log_level=logging.getLogger("edgelstm").level,
        header_timeout_s=header_timeout, body_timeout_s=body_timeout, max_connections=max_connections,
    )
    status = run_server(options, classifier if workers == 1 else None)  # a taken port: InputError
    raise typer.Exit(status)
