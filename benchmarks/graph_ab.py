"""Two graphs of the same model side by side, one thread, from token ids: batch 64 by length and
each text alone, interleaved rounds (the order alternates), answers compared.

    git show c4bba00:runtime/shipped/sentiment-en.int8.onnx > /tmp/before.onnx   # the graph before issue 19
    python benchmarks/graph_ab.py /tmp/before.onnx runtime/shipped/sentiment-en.int8.onnx \\
        --data ../shared/datasets/aclImdb_v1_labeled.tar.gz --limit 1280

Prints texts/s (best and median round) and the per-text batch-1 time of each file, and the
largest difference between their probabilities. Same weights in both files, so only the graph
differs (weights-s8 files run like their fp32 files: onnxruntime folds the weights at load).
``--runtime openvino`` or ``tract`` times the files there instead (bench_runtime.py's backends,
one thread); ``--clock cpu`` times the process's CPU time rather than the wall clock, which on a
shared machine leaves out the time other jobs hold the core.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from edgelstm import Classifier
from edgelstm.classifier import OnnxBackend
from edgelstm.data import load_labeled
from edgelstm.tokenizer import pad_batch

ROUNDS = 10
BATCH = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=1280)
    parser.add_argument("--alone", type=int, default=200, help="texts timed alone (batch 1) per round")
    parser.add_argument("--runtime", choices=["onnxruntime", "openvino", "tract"], default="onnxruntime")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    texts = load_labeled(args.data).evaluation_split.sample(args.limit).texts
    classifier = Classifier.load(args.after, threads=1)
    sequences = classifier.encode(texts)
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    batches = [pad_batch([sequences[i] for i in order[s:s + BATCH]]) for s in range(0, len(order), BATCH)]
    alone = [pad_batch([s]) for s in sequences[: args.alone]]
    backends = {path: _backend(args.runtime, path, classifier) for path in (args.before, args.after)}
    batched: dict[Path, list[float]] = {path: [] for path in backends}
    single: dict[Path, list[float]] = {path: [] for path in backends}
    answers = {}
    for round_ in range(args.rounds):
        for path, backend in (backends.items() if round_ % 2 == 0 else reversed(backends.items())):
            start = clock()
            answers[path] = np.concatenate([backend.run(*batch) for batch in batches])
            batched[path].append(clock() - start)
            start = clock()
            for batch in alone:
                backend.run(*batch)
            single[path].append((clock() - start) / len(alone))
    n = len(sequences)
    print(f"{args.runtime}: {n} test texts, median {int(np.median([len(s) for s in sequences]))} tokens, "
          f"{args.rounds} interleaved rounds, one thread, {args.clock} clock")
    print("| file | texts/s batch 64 (best / median round) | batch 1 µs per text (best / median) |")
    print("| --- | ---: | ---: |")
    for path in backends:
        ratio = min(batched[args.before]) / min(batched[path])
        ratio_1 = min(single[args.before]) / min(single[path])
        print(f"| {path.name} | {n / min(batched[path]):.0f} / {n / statistics.median(batched[path]):.0f} "
              f"({ratio:.2f}x) | {min(single[path]) * 1e6:.0f} / {statistics.median(single[path]) * 1e6:.0f} "
              f"({ratio_1:.2f}x) |")
    print(f"largest |difference| of the probabilities: {np.abs(answers[args.before] - answers[args.after]).max():.2e}")


def _backend(runtime: str, path: Path, classifier: Classifier):
    from bench_runtime import OpenVinoBackend, TractBackend  # the script's folder is on sys.path

    if runtime == "openvino":
        return OpenVinoBackend(path, classifier.config)
    if runtime == "tract":
        return TractBackend(path, classifier.config)
    return OnnxBackend(path, threads=1)


if __name__ == "__main__":
    main()
