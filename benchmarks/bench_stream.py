"""Streaming cost per token: a text fed in chunks of 1, 10, 50 tokens vs one whole-text call.

    python benchmarks/bench_stream.py exported/model.onnx \
        --data ../shared/datasets/aclImdb_v1_labeled.tar.gz --limit 100

For each chunk size every review is fed to a ``Classifier.stream()`` in pieces of that many
words (cut at whitespace, as a chat or transcript arrives), and, for comparison, re-predicted
whole after every piece (what a caller without streaming would do to get the same running
answers). All timings include tokenizing, run side by side in one process on one thread,
in interleaved rounds (the median round counts), and are shown as ratios of this run.
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from edgelstm import Classifier
from edgelstm.data import load_labeled
from edgelstm.tokenizer import words

CHUNK_TOKENS = (1, 10, 50)
_SPACE = re.compile(r"(\s+)")


def pieces_of(text: str, tokens: int) -> list[str]:
    """``text`` cut at whitespace into pieces of ``tokens`` words each (the last may be short)."""
    pieces, current, count = [], "", 0
    for segment in _SPACE.split(text):
        current += segment
        count += len(words(segment)) if not segment.isspace() else 0
        if count >= tokens and segment.isspace():
            pieces.append(current)
            current, count = "", 0
    return [*pieces, current] if current else pieces


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="an lstm .onnx model")
    parser.add_argument("--data", type=Path, required=True, help="labeled texts (its test split if it has one)")
    parser.add_argument("--limit", type=int, default=100, help="reviews to feed (a seeded random sample)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    classifier = Classifier.load(args.model, threads=1)
    max_len = classifier.config.max_len
    texts = [t for t in load_labeled(args.data).evaluation_split.sample(4 * args.limit, seed=0).texts
             if len(words(t)) <= max_len][: args.limit]  # where stream and predict agree
    tokens = sum(len(words(t)) for t in texts)
    cut = {k: [pieces_of(t, k) for t in texts] for k in CHUNK_TOKENS}
    stream = classifier.stream()

    def whole() -> None:
        for text in texts:
            classifier.predict([text])

    def streamed(k: int) -> Callable[[], None]:
        def run() -> None:
            for pieces in cut[k]:
                stream.reset()
                for piece in pieces:
                    stream.feed(piece)
        return run

    def repredicted(k: int) -> Callable[[], None]:
        def run() -> None:
            for pieces in cut[k]:
                so_far = ""
                for piece in pieces:
                    so_far += piece
                    classifier.predict([so_far])
        return run

    cases = {"whole text, one call": whole}
    for k in CHUNK_TOKENS:
        cases[f"stream, {k}-token chunks"] = streamed(k)
        cases[f"re-predict whole text after each {k}-token chunk"] = repredicted(k)
    for run in cases.values():  # warm up
        run()
    rounds: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):  # round by round through all cases: a busy moment is shared
        for name, run in cases.items():
            rounds[name].append(timed(run))
    seconds = {name: statistics.median(times) for name, times in rounds.items()}
    calls = {"whole text, one call": len(texts)}
    for k in CHUNK_TOKENS:
        n = sum(map(len, cut[k]))
        calls[f"stream, {k}-token chunks"] = calls[f"re-predict whole text after each {k}-token chunk"] = n

    base = seconds["whole text, one call"] / tokens
    print(f"Machine: {platform.processor() or platform.machine()}, 1 inference thread; Python "
          f"{platform.python_version()}. {len(texts)} reviews of at most {max_len} tokens, {tokens} tokens "
          f"(mean {tokens / len(texts):.0f}); median of {args.rounds} interleaved rounds.\n")
    print("| how | calls | µs per token | of whole text | µs per call |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, total in seconds.items():
        per_token = total / tokens
        print(f"| {name} | {calls[name]} | {per_token * 1e6:.2f} | {per_token / base:.2f}x | "
              f"{total / calls[name] * 1e6:.1f} |")


if __name__ == "__main__":
    main()
