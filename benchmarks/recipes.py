"""Accuracy on your own data: edgelstm's default recipe against TF-IDF and fastText on six sets.

    pip install ".[train,distill,bench]"
    python benchmarks/recipes.py                                   # the six sets, lstm and bilstm
    python benchmarks/recipes.py --sets cr sms-spam --archs bilstm # some of them
    python benchmarks/recipes.py --imdb ../shared/datasets/aclImdb_v1_labeled.tar.gz  # and IMDB (long on 2 cores)

For each set (``DATA/NAME.train.jsonl`` and ``NAME.test.jsonl``, see the datasets' README), it runs
what a new user runs, ``edgelstm train NAME.train.jsonl --test NAME.test.jsonl --arch ARCH``
with nothing else but ``--threads 1 --keep-validation-texts``, then ``edgelstm export --int8``
(the int8 recipe judged on the validation texts, never on test), and scores the int8 file on
the test split with ``Classifier.evaluate``. The baselines (benchmarks/baselines.py: TF-IDF +
logistic regression with C chosen on 10% of train, fastText dim 50) read the same words
(words-v1: TF-IDF with ``same_words=True``). Prints one markdown table (test accuracy,
macro-F1, int8 accuracy and macro-F1, training time, int8 size), then each edgelstm model's int8
predictions against the most accurate baseline's, text by text (``paired_table``: McNemar's exact
test); ``--out`` also writes every result as JSON lines, with each model's predicted labels.

Nothing here is chosen by the test split: the table only reports it. Training times are wall
time on whatever machine runs it (shared machines: noisy).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from edgelstm import Classifier
from edgelstm.data import Dataset, LabeledTexts, load_dataset, load_labeled

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baselines import _summary, baseline, fasttext_baseline  # noqa: E402  (a file beside this one)

SETS = ("subj", "cr", "mpqa", "sms-spam", "ag-news-7600", "pros-cons")
BASELINE_KEYS = ("test_accuracy", "test_macro_f1", "train_seconds", "test_predicted")
DATA = Path(__file__).resolve().parent.parent.parent / "shared/datasets/text-classification"


def edgelstm_row(name: str, train: Path, test: Path | None, split: LabeledTexts, arch: str, folder: Path,
                 train_args: Sequence[str] = ()) -> dict:
    """Train with the defaults (plus ``train_args``), export int8, score fp32 and int8 on ``split``
    (``test``'s texts, or without it ``train``'s own test split: an aclImdb archive's)."""
    checkpoint = folder / f"{arch}.pt"
    command = [sys.executable, "-m", "edgelstm.cli", "train", str(train), "--arch", arch, "-o", str(checkpoint),
               "--threads", "1", "--keep-validation-texts", "--no-progress", *train_args]
    if test is not None:
        command += ["--test", str(test)]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    exported = folder / arch
    fp32_model = Classifier.load(checkpoint)  # scored as trained, whatever export says
    fp32 = fp32_model.evaluate(split.texts, split.labels)
    row = {
        "set": name, "model": f"edgelstm {arch} ({' '.join(train_args) or 'default'})",
        "test_accuracy": fp32["accuracy"],
        "test_macro_f1": fp32["macro_f1"], "val_accuracy": fp32_model.config.metrics["val_accuracy"],
        "train_seconds": round(seconds, 1), "recipe": fp32_model.config.metrics.get("recipe"),
        "epochs": f"{fp32_model.config.metrics['best_epoch']} of {fp32_model.config.metrics['epochs_run']}",
    }
    done = subprocess.run([sys.executable, "-m", "edgelstm.cli", "export", str(checkpoint), "-o", str(exported),
                           "--int8"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:  # reported in the row, not hidden: the export refused this model
        row["export_error"] = (done.stderr.strip().splitlines() or ["?"])[-1]
        return row
    int8_model = exported / "model.int8.onnx"
    classifier = Classifier.load(int8_model)
    int8 = classifier.evaluate(split.texts, split.labels)
    row.update(int8_accuracy=int8["accuracy"], int8_macro_f1=int8["macro_f1"], int8_bytes=int8_model.stat().st_size,
               test_predicted=[p.label for p in classifier.predict(split.texts)])
    return row


def baseline_rows(name: str, dataset: Dataset) -> list[dict]:
    rows = []
    for ngrams in (1, 2):
        result = baseline(dataset.train, dataset.test, ngrams, same_words=True)
        rows.append({key: result[key] for key in BASELINE_KEYS} | {"set": name, "model": result["name"]})
    for ngrams in (1, 2):
        result = fasttext_baseline(dataset.train, dataset.test, ngrams)
        rows.append({key: result[key] for key in BASELINE_KEYS} | {"set": name, "model": result["name"]})
    return rows


def paired_table(rows: list[dict], test_labels: dict[str, list[str]]) -> str:
    """Each edgelstm model (int8) against the most accurate baseline of its set, text by text on
    the test split: the texts only one of the two gets right, and McNemar's exact test of
    whether either gets more right (a two-sided binomial test on those texts: a gap of a few
    texts among a few dozen such texts is what two equally good classifiers show)."""
    from scipy.stats import binomtest

    lines = ["| set | model | best baseline | only edgelstm right | only the baseline right | difference (texts) "
             "| McNemar exact p |", "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
    for name, labels in test_labels.items():
        baselines = [r for r in rows if r["set"] == name and "int8_accuracy" not in r and "test_predicted" in r]
        if not baselines:
            continue
        best = max(baselines, key=lambda r: r["test_accuracy"])  # ties: the first listed
        for row in (r for r in rows if r["set"] == name and "int8_accuracy" in r):
            ours = [p == y for p, y in zip(row["test_predicted"], labels)]
            theirs = [p == y for p, y in zip(best["test_predicted"], labels)]
            only_ours = sum(a and not b for a, b in zip(ours, theirs))
            only_theirs = sum(b and not a for a, b in zip(ours, theirs))
            p = binomtest(only_ours, only_ours + only_theirs).pvalue if only_ours + only_theirs else 1.0
            lines.append(f"| {name} | {row['model']} | {best['model']} | {only_ours} | {only_theirs} | "
                         f"{only_ours - only_theirs:+d} | {p:.2f} |")
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    lines = ["| set | model | accuracy | macro-F1 | int8 accuracy | int8 macro-F1 | train time | int8 size |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        int8 = "int8_accuracy" in row
        lines.append(
            f"| {row['set']} | {row['model']} | {row['test_accuracy']:.2%} | {row['test_macro_f1']:.4f} | "
            + (f"{row['int8_accuracy']:.2%} | {row['int8_macro_f1']:.4f} | " if int8 else
               "export failed | – | " if "export_error" in row else "– | – | ")
            + f"{row['train_seconds']:.0f} s | "
            + (f"{row['int8_bytes'] / 1024:.0f} KiB |" if int8 else "– |"))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of NAME.train.jsonl / NAME.test.jsonl")
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    parser.add_argument("--archs", nargs="*", default=["bilstm", "lstm"], help="none: the baselines only")
    parser.add_argument("--imdb", type=Path, help="also IMDB (aclImdb folder or .tar.gz; long on 2 cores)")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--train-args", default="", help="more `edgelstm train` options, e.g. --train-args=--wide-fit "
                        "(named in the model column)")
    parser.add_argument("--out", type=Path, help="also write every result as JSON lines")
    args = parser.parse_args()
    runs = [(name, args.data / f"{name}.train.jsonl", args.data / f"{name}.test.jsonl") for name in args.sets]
    if args.imdb:
        runs.append(("imdb", args.imdb, None))
    rows = []
    test_labels: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, train, test in runs:
            folder = Path(tmp) / name
            folder.mkdir()
            split = (load_labeled(test) if test is not None else load_labeled(train)).evaluation_split
            test_labels[name] = list(split.labels)
            for arch in args.archs:
                rows.append(edgelstm_row(name, train, test, split, arch, folder, shlex.split(args.train_args)))
                print(json.dumps(_summary(rows[-1])), file=sys.stderr, flush=True)
            if not args.no_baselines:
                for row in baseline_rows(name, load_dataset(train, test)):
                    rows.append(row)
                    print(json.dumps(_summary(row)), file=sys.stderr, flush=True)
    if args.out:  # with each model's predicted label per test text
        args.out.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(table(rows))
    if args.archs and not args.no_baselines:
        print()
        print(paired_table(rows, test_labels))


if __name__ == "__main__":
    main()
