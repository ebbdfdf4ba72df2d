"""Micro-batching: texts of requests that arrive within a short window run as one batch.

Only for batch-invariant models (see ``options.batching_refusal``): a text's answer must not
depend on the texts batched with it. ``Classifier.predict_ids`` sorts the window's texts by
length and runs them in batches of similar length, so little padding is computed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from ..classifier import Classifier

__all__ = ["MicroBatcher"]

log = logging.getLogger(__name__)

MAX_WINDOW_TEXTS = 256  # a window closes early once it holds this many texts


@dataclass
class _Pending:
    sequences: list[list[int]]
    done: threading.Event = field(default_factory=threading.Event)
    result: np.ndarray | None = None
    error: BaseException | None = None


class MicroBatcher:
    def __init__(self, classifier: Classifier, wait_s: float) -> None:
        self.classifier = classifier
        self.wait_s = wait_s
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="edgelstm-batcher", daemon=True)
        self._thread.start()

    def predict(self, texts: list[str]) -> np.ndarray:
        """(N, labels) probabilities of ``texts``; blocks the calling (request) thread."""
        pending = _Pending(self.classifier.encode(texts))  # tokenized here, in parallel
        self._queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            window = [first]
            count = len(first.sequences)
            deadline = time.monotonic() + self.wait_s
            closing = False
            while count < MAX_WINDOW_TEXTS and (remaining := deadline - time.monotonic()) > 0:
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                window.append(item)
                count += len(item.sequences)
            self._run(window)
            if closing:
                return

    def _run(self, window: list[_Pending]) -> None:
        sequences = [s for pending in window for s in pending.sequences]
        try:
            probabilities = self.classifier.predict_ids(sequences)  # (N, labels)
        except Exception as exc:  # noqa: BLE001  (handed to every waiting request: each answers 500)
            for pending in window:
                pending.error = exc
                pending.done.set()
            return
        start = 0
        for pending in window:
            pending.result = probabilities[start : start + len(pending.sequences)]
            start += len(pending.sequences)
            pending.done.set()
