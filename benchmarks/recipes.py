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
macro-F1, int8 accuracy and macro-F1, training time, int8 size); ``--out`` also writes every result as JSON lines.

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
from edgelstm.data import Dataset, load_dataset, load_labeled

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baselines import baseline, fasttext_baseline  # noqa: E402  (a file beside this one)

SETS = ("subj", "cr", "mpqa", "sms-spam", "ag-news-7600", "pros-cons")
DATA = Path(__file__).resolve().parent.parent.parent / "shared/datasets/text-classification"


def edgelstm_row(name: str, train: Path, test: Path | None, arch: str, folder: Path,
                 train_args: Sequence[str] = ()) -> dict:
    """Train with the defaults (plus ``train_args``), export int8, score fp32 and int8 on the test split."""
    checkpoint = folder / f"{arch}.pt"
    command = [sys.executable, "-m", "edgelstm.cli", "train", str(train), "--arch", arch, "-o", str(checkpoint),
               "--threads", "1", "--keep-validation-texts", "--no-progress", *train_args]
    if test is not None:
        command += ["--test", str(test)]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    exported = folder / arch
    split = (load_labeled(test) if test is not None else load_labeled(train)).evaluation_split
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
    int8 = Classifier.load(int8_model).evaluate(split.texts, split.labels)
    row.update(int8_accuracy=int8["accuracy"], int8_macro_f1=int8["macro_f1"], int8_bytes=int8_model.stat().st_size)
    return row


def baseline_rows(name: str, dataset: Dataset) -> list[dict]:
    rows = []
    for ngrams in (1, 2):
        result = baseline(dataset.train, dataset.test, ngrams, same_words=True)
        rows.append({"set": name, "model": result["name"], "test_accuracy": result["test_accuracy"],
                     "test_macro_f1": result["test_macro_f1"], "train_seconds": result["train_seconds"]})
    for ngrams in (1, 2):
        result = fasttext_baseline(dataset.train, dataset.test, ngrams)
        rows.append({"set": name, "model": result["name"], "test_accuracy": result["test_accuracy"],
                     "test_macro_f1": result["test_macro_f1"], "train_seconds": result["train_seconds"]})
    return rows


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
    with tempfile.TemporaryDirectory() as tmp:
        for name, train, test in runs:
            folder = Path(tmp) / name
            folder.mkdir()
            for arch in args.archs:
                rows.append(edgelstm_row(name, train, test, arch, folder, shlex.split(args.train_args)))
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            if not args.no_baselines:
                for row in baseline_rows(name, load_dataset(train, test)):
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
    if args.out:
        args.out.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(table(rows))


if __name__ == "__main__":
    main()
