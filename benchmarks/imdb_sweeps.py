"""The README's IMDB selection sweeps as one command each: every row one training run through the
trainer ``edgelstm train`` runs (``train_files``), its table printed as the README shows it.

    pip install ".[train,pretrain,distill]"
    python benchmarks/imdb_sweeps.py recipe --datasets ../shared/datasets --work runs/sweeps
    python benchmarks/imdb_sweeps.py students --datasets ../shared/datasets --work runs/sweeps
    python benchmarks/imdb_sweeps.py students --rows 32-none 64-both --work runs/sweeps   # some rows
    python benchmarks/imdb_sweeps.py students --limit 300 --work /tmp/sweep-check          # a quick check

``recipe``: "What the new default recipe changed" (README, "Accuracy"): four variants of the
default recipe, 4 epochs on a 10,000-review sample of the training reviews (``--limit``), a
movie-disjoint validation split (``--val-groups``), the kept (best) epoch's validation and test
accuracy (on as many test reviews).

``students``: the selection sweep of the shipped model ("Unlabeled reviews labeled by teachers"):
BiLSTMs of 64 to 32 units trained on the training reviews plus the 50,000 unlabeled ones, labeled
by the n-gram teacher, the teacher model or both, 6 epochs (10 without unlabeled reviews), the
last kept; per row the best validation epoch, the last epoch's validation and test accuracy. That
sweep first ran on a lent GPU as a standalone script that was not committed; these rows run the
same settings through the committed trainer (``--device cuda`` where there is one), so on another
device or CPU the numbers are the same recipe's, not the same digits (README, "What is
reproducible where").

Both start from ``scripts/make_default_model.sh``'s first two steps in ``--work`` (the same files:
pass its WORK folder to reuse them): IMDB word vectors (``edgelstm pretrain``, skip-gram, dim 100,
seed 0) and, for ``students``, the teacher model (the default recipe on them, 64 units, early
stopping). Each row writes ``WORK/SWEEP/ROW/model.pt`` and is skipped when that file is there
(``--again`` trains it anew), so two processes can share the rows (``--rows``), one per core;
``--limit`` runs (and their teacher) are written apart from the full ones.
Prints markdown; ``--out`` also writes it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgelstm.train.checkpoint import load_model
from edgelstm.train.distill import NgramOptions
from edgelstm.train.pretrain import PretrainOptions, pretrain_vectors
from edgelstm.train.run import train_files

DATASETS = Path(__file__).resolve().parent.parent.parent / "shared/datasets"
# make_default_model.sh's step 1 and step 2 settings (vectors, teacher); its WORK files are these
VECTORS = PretrainOptions(dim=100, epochs=5, window=5, min_count=3, seed=0)
BASE = {"seed": 0, "threads": 1, "blend": False}  # over the default preset; the shipped recipe's: no blend


@dataclass(frozen=True)
class Row:
    name: str  # --rows picks rows by it; also the row's folder
    label: str  # the README's first column(s)
    settings: dict[str, Any] = field(default_factory=dict)  # over BASE
    vectors: bool = True  # the embedding started from the IMDB word vectors
    unlabeled: bool = False  # the 50,000 unlabeled reviews, labeled by teachers
    teachers: tuple[str, ...] = ()  # "ngram" and/or "teacher" (the step-2 model)
    ngram: tuple[int, float] | None = None  # the n-gram teacher's (max_n, C) when not NgramOptions'


RECIPE_ROWS = (
    Row("no-vectors", "no word vectors, dropout 0.5, word dropout 0.1",
        {"dropout": 0.5, "word_dropout": 0.1}, vectors=False),
    Row("vectors-d05", "IMDB word vectors, dropout 0.5, no word dropout", {"dropout": 0.5, "word_dropout": 0.0}),
    Row("vectors-d05-wd01", "IMDB word vectors, dropout 0.5, word dropout 0.1",
        {"dropout": 0.5, "word_dropout": 0.1}),
    Row("vectors-d03-wd01", "IMDB word vectors, dropout 0.3, word dropout 0.1",
        {"dropout": 0.3, "word_dropout": 0.1}),
)
RECIPE_SETTINGS = {"epochs": 4, "limit": 10000}

STUDENT_SETTINGS = {"epochs": 6, "keep": "last"}  # with unlabeled reviews; without: 10 epochs
_BOTH = ("ngram", "teacher")
STUDENT_ROWS = (
    Row("64-none", "64 units | none (the default recipe)", {"hidden": 64, "epochs": 10}),
    Row("32-none", "32 units | none", {"hidden": 32, "epochs": 10}),
    Row("64-ngram-bigrams", "64 units | n-gram (bigrams, C=16)", {"hidden": 64}, unlabeled=True,
        teachers=("ngram",), ngram=(2, 16.0)),
    Row("64-teacher", "64 units | the 64-unit LSTM", {"hidden": 64}, unlabeled=True, teachers=("teacher",)),
    Row("64-both-bigrams", "64 units | both averaged", {"hidden": 64}, unlabeled=True, teachers=_BOTH,
        ngram=(2, 16.0)),
    *(Row(f"{units}-both", f"{units} units | both, n-gram with trigrams and C=100 (the shipped teachers)",
          {"hidden": units}, unlabeled=True, teachers=_BOTH) for units in (64, 48, 40, 32)),
    *(Row(f"{units}-both-seed1", f"{units} units, seed 1 | the same", {"hidden": units, "seed": 1},
          unlabeled=True, teachers=_BOTH) for units in (48, 40, 32)),
)
SWEEPS = {"recipe": RECIPE_ROWS, "students": STUDENT_ROWS}


@contextlib.contextmanager
def ngram_settings(ngram: tuple[int, float] | None) -> Iterator[None]:
    """The n-gram teacher with other (max_n, C) for one run: the sweep's bigram rows (no CLI flag
    sets them; NgramOptions holds the teacher's chosen values)."""
    if ngram is None:
        yield
        return
    before = NgramOptions.max_n, NgramOptions.inverse_regularization
    NgramOptions.max_n, NgramOptions.inverse_regularization = ngram
    try:
        yield
    finally:
        NgramOptions.max_n, NgramOptions.inverse_regularization = before


def archives(datasets: Path) -> dict[str, Path]:
    return {"imdb": datasets / "aclImdb_v1_labeled.tar.gz", "unlabeled": datasets / "aclImdb_v1_unsup.tar.gz",
            "urls": datasets / "aclImdb_v1_urls.tar.gz"}


def vectors_file(work: Path, data: dict[str, Path]) -> Path:
    """make_default_model.sh's step 1 (reused when ``work`` has it)."""
    path = work / "imdb-vectors.vec"
    if not path.exists():
        pretrain_vectors([data["imdb"], data["unlabeled"]], path, VECTORS)
    return path


def teacher_file(work: Path, data: dict[str, Path], vectors: Path, device: str, limit: int | None) -> Path:
    """make_default_model.sh's step 2 (reused when ``work`` has it; with ``limit`` a file of its own)."""
    path = work / ("teacher.pt" if limit is None else f"teacher-limit{limit}.pt")
    if not path.exists():
        train_files(data["imdb"], path, settings={**BASE, "vectors": vectors, "device": device, "limit": limit},
                    val_groups=data["urls"], show_progress=False)
    return path


def run_row(row: Row, sweep: str, work: Path, data: dict[str, Path], device: str, limit: int | None,
            again: bool) -> dict[str, Any]:
    """Train ``row`` (unless its checkpoint is there) and read its results off the checkpoint and history."""
    # a --limit run's rows in a folder of their own: a later full run never takes them for its own
    output = work / (sweep if limit is None else f"{sweep}-limit{limit}") / row.name / "model.pt"
    settings: dict[str, Any] = {**BASE, **(RECIPE_SETTINGS if sweep == "recipe" else STUDENT_SETTINGS),
                                **row.settings, "device": device}
    if limit is not None:
        settings["limit"] = limit
    if row.vectors:
        settings["vectors"] = vectors_file(work, data)
    teachers = tuple(str(teacher_file(work, data, settings["vectors"], device, limit)) if t == "teacher" else t
                     for t in row.teachers)
    seconds = None
    if again or not output.exists():
        output.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with ngram_settings(row.ngram):
            train_files(data["imdb"], output, settings=settings, val_groups=data["urls"],
                        unlabeled=[data["unlabeled"]] if row.unlabeled else (), teachers=teachers,
                        show_progress=False)
        seconds = time.perf_counter() - start
    metrics = load_model(output).config.metrics
    history = [h for h in json.loads(output.with_suffix(".history.json").read_text()) if h["epoch"] > 0]
    best = max(history, key=lambda h: h["val_accuracy"])  # the first of equals
    return {"row": row.name, "label": row.label, "best_val": best["val_accuracy"], "best_epoch": best["epoch"],
            "last_val": history[-1]["val_accuracy"], "epochs": len(history), "kept_epoch": metrics["best_epoch"],
            "kept_val": metrics["val_accuracy"], "test": metrics["test_accuracy"],
            "test_texts": metrics["test_examples"],
            "train_seconds": None if seconds is None else round(seconds),
            "ngram": row.ngram, "settings": {k: str(v) for k, v in settings.items()}}


def table(sweep: str, results: list[dict[str, Any]]) -> str:
    if sweep == "recipe":
        lines = ["| variant | validation | test |", "| --- | ---: | ---: |"]
        lines += [f"| {r['label']} | {r['kept_val']:.1%} | {r['test']:.1%} |" for r in results]
    else:
        lines = ["| student BiLSTM | the unlabeled reviews' teachers | validation: best epoch "
                 "| validation: last epoch | test: last epoch |",
                 "| --- | --- | ---: | ---: | ---: |"]
        lines += [f"| {r['label']} | {r['best_val']:.2%} ({r['best_epoch']}) | {r['last_val']:.2%} "
                  f"| {r['test']:.2%} |" for r in results]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", choices=sorted(SWEEPS))
    parser.add_argument("--datasets", type=Path, default=DATASETS,
                        help="the folder of aclImdb_v1_labeled/_unsup/_urls.tar.gz")
    parser.add_argument("--work", type=Path, default=Path("runs/sweeps"), help="vectors, teacher and each row's run")
    parser.add_argument("--rows", nargs="+", help="only these rows (by name)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--limit", type=int, help="every run on this many training (and test, unlabeled) texts")
    parser.add_argument("--again", action="store_true", help="train rows whose checkpoint is already there")
    parser.add_argument("--out", type=Path, help="also write the table (markdown) here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    rows = SWEEPS[args.sweep]
    unknown = set(args.rows or ()) - {row.name for row in rows}
    if unknown:
        parser.error(f"no such {args.sweep} rows: {', '.join(sorted(unknown))}; "
                     f"rows: {', '.join(row.name for row in rows)}")
    data = archives(args.datasets)
    results = []
    for row in rows:
        if args.rows and row.name not in args.rows:
            continue
        results.append(run_row(row, args.sweep, args.work, data, args.device, args.limit, args.again))
        print(json.dumps(results[-1]), flush=True)
    text = table(args.sweep, results)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
