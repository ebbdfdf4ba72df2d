"""The accuracy table: trained models (fp32 and int8), fastText and TF-IDF baselines on one test split.

    python benchmarks/accuracy.py --data ../shared/datasets/aclImdb_v1_labeled.tar.gz \
        --model "LSTM (example 4.1)=runs/lstm" --model "BiLSTM (example 4.2)=runs/bilstm" \
        --baselines --out benchmarks/ACCURACY.md

Each model folder holds model.onnx and model.int8.onnx (their metrics: epochs, accuracy) and, where
`train -o FOLDER/model.pt` wrote it, model.history.json (the training time).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgelstm import Classifier
from edgelstm.data import load_labeled


def model_row(name: str, folder: Path, test) -> str:
    fp32, int8 = Classifier.load(folder / "model.onnx"), Classifier.load(folder / "model.int8.onnx")
    c, m = fp32.config, fp32.config.metrics
    fp32_accuracy = fp32.evaluate(test.texts, test.labels)["accuracy"]
    int8_accuracy = int8.evaluate(test.texts, test.labels)["accuracy"]
    size = lambda p: f"{p.stat().st_size / 1024:.0f} KiB"  # noqa: E731
    history = folder / "model.history.json"  # beside the export when `train -o` wrote it there
    minutes = (f"{sum(e['seconds'] for e in json.loads(history.read_text())) / 60:.0f} min"
               if history.exists() else "–")
    shape = f"{c.arch}, vocab {c.vocab_size}, {c.embed_dim}/{c.hidden}, max {c.max_len}, dropout {c.dropout}"
    return (f"| {name} | {shape} | {fp32_accuracy:.2%} | {int8_accuracy:.2%} "
            f"({int8.config.quantization.recipe_name}) | {size(folder / 'model.onnx')} | "
            f"{size(folder / 'model.int8.onnx')} | {minutes} | "
            f"{m['epochs_run']} (best {m['best_epoch']}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", action="append", default=[], metavar="NAME=FOLDER")
    parser.add_argument("--baselines", action="store_true", help="also fit the TF-IDF baselines (scikit-learn)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    dataset = load_labeled(args.data)
    lines = [
        f"Test split: {len(dataset.test)} reviews. Training on {len(dataset.train)} (10% of them held out "
        "for early stopping).",
        "",
        "| model | configuration | test accuracy fp32 | test accuracy int8 | fp32 size | int8 size "
        "| training time | epochs |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for spec in args.model:
        name, _, folder = spec.partition("=")
        lines.append(model_row(name, Path(folder), dataset.test))
        print(lines[-1], flush=True)
    if args.baselines:
        from baselines import baseline, fasttext_baseline

        size = lambda n: f"{n / 1024 / 1024:.1f} MB"  # noqa: E731
        for ngrams in (1, 2):
            result = fasttext_baseline(dataset.train, dataset.test, ngrams)
            quantized = ("–", "–")
            if ngrams > 1:
                quantized = (f"{result['ftz_test_accuracy']:.2%} (.ftz)", size(result["ftz_bytes"]))
            lines.append(f"| {result['name']} | {result['settings']} | {result['test_accuracy']:.2%} "
                         f"| {quantized[0]} "
                         f"| {size(result['bytes'])} | {quantized[1]} "
                         f"| {result['train_seconds']:.0f} s, 1 thread | 10 |")
            print(lines[-1], flush=True)

        for ngrams in (1, 2):
            result = baseline(dataset.train, dataset.test, ngrams)
            lines.append(f"| {result['name']} | C={result['C']}, {result['features']} features | "
                         f"{result['test_accuracy']:.2%} | – | – | – | {result['train_seconds']:.0f} s | – |")
            print(lines[-1], flush=True)
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
