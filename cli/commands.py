"""The commands. Each parses its options and calls the library."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import _friendly_errors, app, log

PREDICT_CHUNK = 2048  # documents read, classified and printed at a time: bounds memory


ModelOption = Annotated[
    Optional[Path],
    typer.Option("--model", "-m", help="A .onnx export or .pt checkpoint [default: $EDGELSTM_MODEL, else the shipped model]."),
]


def _classifier(model: Optional[Path], threads: Optional[int] = None):
    from edgelstm import Classifier

    return Classifier.load(model, threads=threads) if model else Classifier.default(threads=threads)


class Arch(str, Enum):
    lstm = "lstm"
    bilstm = "bilstm"


class OutputFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"


DataOptions = {
    "text_column": typer.Option(help="CSV/TSV/JSONL field holding the text."),
    "label_column": typer.Option(help="CSV/TSV/JSONL field holding the label."),
}


class Preset(str, Enum):
    default = "default"
    keras_imdb = "keras-imdb"


class Schedule(str, Enum):
    constant = "constant"
    cosine = "cosine"


PRESET_HELP = "[default: from --preset]"


@app.command()
@_friendly_errors
def train(
    data: Annotated[Path, typer.Argument(help="aclImdb folder or .tar.gz, CSV/TSV, JSONL, or fastText lines.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Checkpoint to write.")] = Path("model.pt"),
    preset: Annotated[Preset, typer.Option(help="Recipe for every option left unset: default (README, Training) or keras-imdb (the Keras example exactly).")] = Preset.default,
    arch: Annotated[Optional[Arch], typer.Option(help=f"lstm (Keras 4.1) or bilstm (4.2, max+mean pooled). {PRESET_HELP}", show_default=False)] = None,
    vocab_size: Annotated[Optional[int], typer.Option(min=3, help=f"Most embedding rows: padding, unknown, and words. {PRESET_HELP}")] = None,
    min_count: Annotated[Optional[int], typer.Option(min=1, help=f"Vocabulary: only words seen this often in training. {PRESET_HELP}")] = None,
    max_len: Annotated[Optional[int], typer.Option(min=1, help=f"Tokens kept per text (its last ones). {PRESET_HELP}")] = None,
    embed_dim: Annotated[Optional[int], typer.Option(min=1, help="[default: the --vectors' dimension, else from --preset]")] = None,
    hidden: Annotated[Optional[int], typer.Option(min=1, help=f"LSTM units per direction. {PRESET_HELP}")] = None,
    dense: Annotated[Optional[int], typer.Option(min=0, help=f"lstm head's hidden Dense width (0: none). {PRESET_HELP}")] = None,
    dropout: Annotated[Optional[float], typer.Option(min=0.0, max=0.95, help="On embeddings and the head's input. [default: from --preset; keras-imdb: 0.2 lstm, 0.5 bilstm]")] = None,
    word_dropout: Annotated[Optional[float], typer.Option(min=0.0, max=0.9, help=f"Share of training tokens replaced by the unknown word. {PRESET_HELP}")] = None,
    vectors: Annotated[Optional[Path], typer.Option(help="Word vectors to start the embedding from (word2vec/GloVe/fastText text format, e.g. from `edgelstm pretrain`).")] = None,
    freeze_vectors: Annotated[bool, typer.Option(help="Keep the embedding as --vectors set it.")] = False,
    epochs: Annotated[Optional[int], typer.Option(min=1, help=PRESET_HELP)] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help=PRESET_HELP)] = None,
    val: Annotated[Optional[Path], typer.Option(help="Labeled validation data (e.g. an official dev set) instead of a split of DATA.")] = None,
    val_split: Annotated[Optional[float], typer.Option(min=0.0, max=0.9, help=f"Share of DATA held out for validation. {PRESET_HELP}")] = None,
    val_groups: Annotated[Optional[Path], typer.Option(help="Keep related texts on one side of the validation split: a file with one group key per training text, or the aclImdb URL lists (folder or .tar.gz: reviews of one movie stay together).")] = None,
    patience: Annotated[Optional[int], typer.Option(min=1, help=f"Early stopping on validation accuracy. {PRESET_HELP}")] = None,
    lr: Annotated[Optional[float], typer.Option(min=0.0, help=f"Adam(W) learning rate. {PRESET_HELP}")] = None,
    lr_schedule: Annotated[Optional[Schedule], typer.Option(help=f"constant, or cosine decay to 0 over --epochs. {PRESET_HELP}", show_default=False)] = None,
    weight_decay: Annotated[Optional[float], typer.Option(min=0.0, help=f"AdamW weight decay (0: Adam). {PRESET_HELP}")] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same data, same CPU: same model.")] = 0,
    device: Annotated[str, typer.Option(help="cpu, or cuda where available.")] = "cpu",
    threads: Annotated[int, typer.Option(min=1, help="CPU threads for PyTorch.")] = 1,
    limit: Annotated[Optional[int], typer.Option(min=10, help="Use a random subset of this many train (and test) texts.")] = None,
    test: Annotated[Optional[Path], typer.Option(help="Labeled test data, if DATA has no test split.")] = None,
    text_column: Annotated[str, DataOptions["text_column"]] = "text",
    label_column: Annotated[str, DataOptions["label_column"]] = "label",
    skip_bad_rows: Annotated[bool, typer.Option(help="Skip malformed rows (and say how many) instead of failing.")] = False,
    resume: Annotated[bool, typer.Option(help="Continue the interrupted run that wrote --output.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar per epoch.")] = True,
) -> None:
    """Train a classifier on labeled texts and print its test loss and accuracy."""
    from edgelstm.config import ModelConfig
    from edgelstm.data import load_dataset, load_labeled
    from edgelstm.train import DEFAULT_DROPOUT, TrainOptions
    from edgelstm.train import train as run_training
    from edgelstm.train.presets import PRESETS

    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise typer.BadParameter("CUDA is not available on this machine", param_hint="--device")
    if val is not None and val_groups is not None:
        raise typer.BadParameter("give --val or --val-groups, not both", param_hint="--val-groups")
    recipe = PRESETS[preset.value]
    pick = lambda value, name: recipe[name] if value is None else value  # noqa: E731
    if embed_dim is None and vectors is not None:
        from edgelstm.train.vectors import vector_dim

        embed_dim = vector_dim(vectors)
    chosen_arch = arch.value if arch is not None else recipe["arch"]
    dataset = load_dataset(data, test, text_column=text_column, label_column=label_column,
                           skip_bad_rows=skip_bad_rows)
    validation = None
    if val is not None:
        validation = load_labeled(val, text_column=text_column, label_column=label_column,
                                  skip_bad_rows=skip_bad_rows).evaluation_split
    groups = None
    if val_groups is not None:
        from edgelstm.train.groups import read_groups

        groups = read_groups(val_groups, data)
    config = ModelConfig(
        arch=chosen_arch, vocab_size=pick(vocab_size, "vocab_size"), max_len=pick(max_len, "max_len"),
        embed_dim=pick(embed_dim, "embed_dim"), hidden=pick(hidden, "hidden"), dense=pick(dense, "dense"),
        dropout=pick(dropout, "dropout") if pick(dropout, "dropout") is not None else DEFAULT_DROPOUT[chosen_arch],
    )
    options = TrainOptions(
        epochs=pick(epochs, "epochs"), batch_size=pick(batch_size, "batch_size"),
        val_split=pick(val_split, "val_split"), patience=pick(patience, "patience"),
        learning_rate=pick(lr, "lr"), seed=seed, device=device, limit=limit, threads=threads,
        min_count=pick(min_count, "min_count"), word_dropout=pick(word_dropout, "word_dropout"),
        weight_decay=pick(weight_decay, "weight_decay"),
        lr_schedule=lr_schedule.value if lr_schedule is not None else recipe["lr_schedule"],
        vectors=str(vectors) if vectors is not None else None, freeze_vectors=freeze_vectors,
    )
    model, _ = run_training(dataset, config, options, output, resume=resume, show_progress=progress,
                            validation=validation, groups=groups)
    metrics = model.config.metrics
    if "test_accuracy" in metrics:
        typer.echo(f"test loss {metrics['test_loss']:.4f}  test accuracy {metrics['test_accuracy']:.4f}")
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


RecipeOption = Annotated[Optional[str], typer.Option(help="Force an int8 recipe instead of measuring all.")]
DataOption = Annotated[Optional[Path], typer.Option(help="Labeled texts to judge int8 recipes on (its test split if it has one).")]
BudgetOption = Annotated[float, typer.Option(min=0.0, help="Accuracy points int8 may lose against fp32.")]


def _int8(fp32: Path, output: Path, checkpoint: Optional[Path], data: Optional[Path],
          recipe: Optional[str], budget: float) -> None:
    from edgelstm.data import load_labeled
    from edgelstm.export.quantize import quantize_measured

    if data is not None:
        held_out = load_labeled(data).evaluation_split.sample(5000)
    elif checkpoint is not None:
        from edgelstm.train.checkpoint import load_held_out

        held_out = load_held_out(checkpoint)
    else:
        held_out = None
    if not held_out:
        raise typer.BadParameter("give labeled texts to measure int8 recipes on", param_hint="--data")
    winner, table = quantize_measured(fp32, output, held_out.texts, held_out.labels,
                                      recipe=recipe, budget=budget / 100)
    _print_recipes(table, winner.name)
    typer.echo(output)


def _print_recipes(table, winner: str) -> None:
    from rich.console import Console
    from rich.table import Table

    fp32 = table[0]
    view = Table(title="int8 recipes (one thread; * chosen)")
    for column in ("recipe", "size", "of fp32", "batch-1 ms", "p99 ms", "texts/s (batch 64)", "accuracy", "agreement"):
        view.add_column(column, justify="left" if column == "recipe" else "right")
    for m in table:
        view.add_row(("* " if m.name == winner else "") + m.name, f"{m.size_bytes / 1024:.0f} KiB",
                     f"{m.size_bytes / fp32.size_bytes:.0%}", f"{m.latency_ms:.3f}", f"{m.latency_p99_ms:.3f}",
                     f"{m.throughput:.0f}", f"{m.accuracy:.2%}", f"{m.agreement:.2%}")
    Console(stderr=True, width=120).print(view)


@app.command()
@_friendly_errors
def export(
    checkpoint: Annotated[Path, typer.Argument(help="A model.pt written by edgelstm train.")],
    outdir: Annotated[Path, typer.Option("--output", "-o", help="Folder for model.onnx.")] = Path("."),
    int8: Annotated[bool, typer.Option(help="Also write model.int8.onnx, by the best measured recipe.")] = False,
    recipe: RecipeOption = None,
    data: DataOption = None,
    budget: BudgetOption = 0.3,
) -> None:
    """Export a checkpoint to OUTDIR/model.onnx, validated against PyTorch before it is written."""
    from edgelstm.export import export_checkpoint

    exported = export_checkpoint(checkpoint, outdir)
    typer.echo(exported)
    if int8 or recipe:
        _int8(exported, exported.with_name("model.int8.onnx"), checkpoint, data, recipe, budget)


@app.command()
@_friendly_errors
def quantize(
    model: Annotated[Path, typer.Argument(help="An fp32 model.onnx.")],
    data: DataOption = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Default: MODEL with .int8.onnx.")] = None,
    recipe: RecipeOption = None,
    budget: BudgetOption = 0.3,
) -> None:
    """Write an int8 model: the smallest recipe that keeps fp32's speed and accuracy here."""
    from edgelstm import Classifier

    Classifier.load(model)  # a clear error for a missing or foreign file, before any work
    _int8(model, output or model.with_name(model.name.removesuffix(".onnx") + ".int8.onnx"),
          None, data, recipe, budget)


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
) -> None:
    """Print the accuracy and loss of a model on labeled data."""
    from edgelstm.data import load_labeled

    if len(paths) > 2 or (len(paths) == 2 and model):
        raise typer.BadParameter("give at most one model and one data path", param_hint="[MODEL] DATA")
    *model_path, data = paths
    classifier = _classifier(model_path[0] if model_path else model)
    dataset = load_labeled(data, text_column=text_column, label_column=label_column, skip_bad_rows=skip_bad_rows)
    split = dataset.evaluation_split
    result = classifier.evaluate(split.texts, split.labels)
    typer.echo(f"accuracy {result['accuracy']:.4f}  loss {result['loss']:.4f}  examples {result['examples']}")


def _format(prediction, output_format: OutputFormat) -> str:
    if output_format is OutputFormat.jsonl:
        return json.dumps({"label": prediction.label, "probability": prediction.probability,
                           "probabilities": prediction.probabilities}, ensure_ascii=False)
    return f"{prediction.label}\t{prediction.probability:.6f}"


@app.command()
@_friendly_errors
def predict(
    files: Annotated[list[str], typer.Argument(help="Input files ('-' for standard input).")],
    model: ModelOption = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="text: label TAB probability.")] = OutputFormat.text,
    per_file: Annotated[bool, typer.Option(help="One document per file instead of one per line.")] = False,
    force: Annotated[bool, typer.Option(help="Read files that look binary.")] = False,
    threads: Annotated[Optional[int], typer.Option(min=1, help="Inference threads (default: all cores).")] = None,
) -> None:
    """Classify documents: one result per document, in input order, on stdout."""
    from edgelstm.documents import read_documents

    classifier = _classifier(model, threads)
    failures = 0
    pending = []

    def flush() -> None:
        for prediction in classifier.predict([d.text for d in pending]):
            sys.stdout.write(_format(prediction, output_format) + "\n")
        sys.stdout.flush()
        pending.clear()

    for item in read_documents(files, per_file=per_file, force=force):
        if isinstance(item, Exception):
            flush()  # what came before keeps its place
            failures += 1
            typer.echo(f"edgelstm: error: {item}", err=True)
            continue
        pending.append(item)
        if len(pending) >= PREDICT_CHUNK:
            flush()
    flush()
    if failures:
        raise typer.Exit(4)


@app.command()
@_friendly_errors
def bench(
    models: Annotated[list[Path], typer.Argument(help="Model files to compare (.pt, .onnx, .int8.onnx); the first is the baseline.")],
    data: Annotated[Path, typer.Option(help="Labeled texts (its test split if it has one).")],
    limit: Annotated[Optional[int], typer.Option(min=1, help="Use a random subset of this many texts.")] = None,
    threads: Annotated[int, typer.Option(min=1, help="Inference threads for every model.")] = 1,
    cold_start: Annotated[bool, typer.Option(help="Also time `edgelstm predict` in a fresh process.")] = True,
) -> None:
    """Measure models side by side (latency, throughput, size, accuracy); prints a markdown table."""
    from edgelstm.data import load_labeled
    from edgelstm.export.bench import run_benchmark, to_markdown
    split = load_labeled(data).evaluation_split
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
    from edgelstm.classifier import default_model_path, file_sha256

    path = model or default_model_path()
    config = _classifier(path).config
    quantization = config.quantization or {}
    rows = {
        "file": str(path),
        "sha256": file_sha256(path),
        "size": f"{path.stat().st_size / 1024:.0f} KiB",
        "architecture": f"{config.arch}: embedding {config.vocab_size}x{config.embed_dim}, {config.hidden} units"
                        + (" per direction" if config.arch == "bilstm" else f", dense {config.dense}"),
        "labels": ", ".join(config.labels),
        "vocabulary": f"{config.vocab_size} ids ({len(config.vocabulary)} words), tokenizer {config.tokenizer}",
        "max length": f"{config.max_len} tokens (the last ones are kept)",
        "int8 recipe": quantization.get("recipe", {}).get("name", "none (fp32)"),
        "format version": str(config.format_version),
    }
    for key, value in sorted(config.metrics.items()):
        rows[key] = f"{value:.4f}" if isinstance(value, float) else str(value)
    width = max(map(len, rows))
    for key, value in rows.items():
        typer.echo(f"{key:<{width}}  {value}")
