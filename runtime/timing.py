"""Timing shared by the int8 recipe measurement and the benchmark."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from .classifier import Classifier

__all__ = ["interleaved_latencies", "median_length_text"]


def median_length_text(classifier: Classifier, texts: Sequence[str]) -> str:
    """The text of median token count: the batch-1 latency probe."""
    lengths = [len(s) for s in classifier.encode(texts)]
    return texts[int(np.argsort(lengths, kind="stable")[len(lengths) // 2])]


def interleaved_latencies(
    classifiers: Sequence[Classifier], text: str, runs: int, rounds: int
) -> list[list[float]]:
    """Batch-1 ``predict([text])`` times in ms (tokenizing included) for each classifier.

    The runs go round by round through all classifiers, so a busy moment of the machine is
    shared by all of them instead of being charged to one.
    """
    latencies: list[list[float]] = [[] for _ in classifiers]
    for _ in range(rounds):
        for times, classifier in zip(latencies, classifiers):
            classifier.predict([text])  # warm up
            for _ in range(runs // rounds):
                start = time.perf_counter()
                classifier.predict([text])
                times.append((time.perf_counter() - start) * 1e3)
    return latencies
