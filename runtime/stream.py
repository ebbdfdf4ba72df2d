"""Streaming: classify a text as it arrives, at the cost of its new tokens only.

A forward LSTM's answer after n tokens depends on the text only through its recurrent state,
so a stream keeps that state (``initial_h``/``initial_c`` in, ``final_h``/``final_c`` out of
the model, see ``edgelstm.config.STATE_INPUTS``) and runs each new piece from it.

The rule for long texts: a stream reads ALL its tokens. Up to ``max_len`` tokens its answer
equals ``Classifier.predict([whole text])``; beyond, ``predict`` reads only the last ``max_len``
tokens while the stream goes on reading every token (``Stream.tokens`` says how many), so the
two may differ. Nothing here truncates or slides a window.

How a batch is run, relying only on the model signature's guarantees:
- ``final_*`` is exact only for unpadded rows, so the words that became final are run in
  groups of streams with equal token counts; a stream with no new final word runs nothing
  and keeps its state.
- Words still held back by the tokenizer (the text may continue them) are run from the
  committed state for the prediction only; their state is not kept.
- A stream without any word yet answers what ``predict`` answers for such a text (words-v1
  reads it as one unknown word) and keeps the zero state, so the first real word starts from
  the beginning.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .errors import ModelError
from .predictions import Prediction, to_prediction
from .tokenizer import OOV_ID, Tokenizer, WordStream

if TYPE_CHECKING:
    from .classifier import Classifier

__all__ = ["StateBackend", "Stream", "StreamBatch", "check_streamable"]


class StateBackend(Protocol):
    def run_with_state(
        self, input_ids: np.ndarray, lengths: np.ndarray, h: np.ndarray, c: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


def check_streamable(classifier: Classifier) -> StateBackend:
    """The classifier's backend if it can stream exactly; else a ModelError saying why."""
    config = classifier.config
    if config.arch != "lstm":
        raise ModelError(
            f"{config.arch} models cannot stream: a BiLSTM's backward direction must read the text "
            "from its end and its pooling spans every step, so nothing can be carried from one "
            "piece to the next; use predict() on the whole text, or a forward lstm model"
        )
    if not config.batch_invariant:
        raise ModelError(
            "this int8 model cannot stream exactly: its recipe quantizes activations per call "
            "(quantization.batch_invariant is not true), so each piece would be quantized on its "
            "own; use the fp32 model or a weight-only int8 recipe"
        )
    backend = classifier.backend
    if classifier.config.wide:
        raise ModelError("streaming needs an lstm model without the wide term (it averages the whole text): "
                         "train with --no-wide")
    if not getattr(backend, "has_state", False) or not hasattr(backend, "run_with_state"):
        raise ModelError(
            "streaming needs an .onnx lstm model with state inputs (initial_h/initial_c): "
            "export the checkpoint with this version of edgelstm and load the .onnx file"
        )
    return backend  # type: ignore[return-value]


@dataclass
class _Saved:
    """A StreamBatch's state before a feed, to undo a feed that failed half-way."""

    h: np.ndarray
    c: np.ndarray
    committed: list[int]
    held: list[list[int] | None]
    predictions: list[Prediction | None]
    held_texts: list[str]


class StreamBatch:
    """``n`` independent streams advanced together: ``feed(pieces)`` gives each stream (row)
    its next piece of text (``""`` for none) and returns the prediction of every stream for
    all the text it was fed so far. One batched model call per distinct token count.

    Not thread-safe: feed a batch from one thread at a time (a server's batching loop)."""

    def __init__(self, classifier: Classifier, n: int) -> None:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"a stream batch needs at least one stream, not {n!r}")
        self._backend = check_streamable(classifier)
        self._tokenizer: Tokenizer = classifier.tokenizer
        self._hidden = classifier.config.hidden
        self._labels = list(classifier.config.labels)
        self._words = [WordStream() for _ in range(n)]
        self._h = np.zeros((n, self._hidden), np.float32)  # (N, H) after the committed tokens
        self._c = np.zeros((n, self._hidden), np.float32)  # (N, H)
        self._committed = [0] * n  # tokens in the state
        self._held: list[list[int] | None] = [None] * n  # ids of held-back words; None: unfed
        self._predictions: list[Prediction | None] = [None] * n
        self._empty_text: Prediction | None = None

    def __len__(self) -> int:
        return len(self._words)

    def tokens(self, row: int) -> int:
        """How many tokens stream ``row`` has read (all of them; see the module's rule)."""
        return self._committed[row] + len(self._held[row] or [])

    def reset(self, row: int | None = None) -> None:
        """Start stream ``row`` (or every stream) afresh, as if nothing had been fed.

        ``row`` is 0 to ``len(self) - 1``; a negative row (Python's from-the-end index) would
        reset another stream than meant, so it is refused like one past the end."""
        if row is not None:
            if isinstance(row, bool) or not isinstance(row, (int, np.integer)):
                raise TypeError(f"reset() takes a stream's row (an integer) or None, not {type(row).__name__}")
            if row < 0:
                raise ValueError(f"reset({row}): rows are 0 to {len(self) - 1}; negative rows are not allowed")
            if row >= len(self):
                raise IndexError(f"reset({row}): this batch has {len(self)} streams, rows 0 to {len(self) - 1}")
        for i in range(len(self)) if row is None else [row]:
            self._words[i].reset()
            self._h[i] = 0.0
            self._c[i] = 0.0
            self._committed[i] = 0
            self._held[i] = None
            self._predictions[i] = None

    def feed(self, pieces: Sequence[str]) -> list[Prediction]:
        """Feed ``pieces[i]`` to stream ``i``; the prediction of each stream's text so far."""
        if isinstance(pieces, str) or len(pieces) != len(self):
            raise ValueError(f"feed() takes a list of {len(self)} pieces of text, one per stream")
        for piece in pieces:
            if not isinstance(piece, str):
                raise TypeError(f"a piece of text must be a str, not {type(piece).__name__}")
        saved = self._save()
        try:
            return self._feed(pieces)
        except BaseException:  # a failed call (or ^C) changes no stream: feed the pieces again
            self._restore(saved)
            raise

    def _save(self) -> _Saved:
        return _Saved(self._h.copy(), self._c.copy(), list(self._committed), list(self._held),
                      list(self._predictions), [w.held_text for w in self._words])

    def _restore(self, saved: _Saved) -> None:
        self._h, self._c = saved.h, saved.c
        self._committed, self._held, self._predictions = saved.committed, saved.held, saved.predictions
        for words, text in zip(self._words, saved.held_texts):
            words.reset(text)

    def _feed(self, pieces: Sequence[str]) -> list[Prediction]:
        ids_of = self._tokenizer.ids
        new: dict[int, list[int]] = {}
        stale: list[int] = []  # streams whose prediction must be computed again
        for i, piece in enumerate(pieces):
            if not piece and self._predictions[i] is not None:
                continue  # a waiting stream: nothing to tokenize or run
            final = ids_of(self._words[i].feed(piece))
            held = ids_of(self._words[i].held_words)
            if final:
                new[i] = final
            if final or held != self._held[i] or self._predictions[i] is None:
                stale.append(i)
            self._held[i] = held
        # Final words: into the state, in unpadded groups of equal token count.
        for rows, ids in _groups(new):
            probabilities, self._h[rows], self._c[rows] = self._run(ids, rows)
            for k, i in enumerate(rows):
                self._committed[i] += ids.shape[1]
                if not self._held[i]:
                    self._predictions[i] = self._prediction(probabilities[k])
        # Held-back words: from the committed state, for the prediction only.
        pending = {i: self._held[i] or [] for i in stale if self._held[i]}
        for rows, ids in _groups(pending):
            probabilities, _, _ = self._run(ids, rows)
            for k, i in enumerate(rows):
                self._predictions[i] = self._prediction(probabilities[k])
        for i in stale:
            if self._committed[i] == 0 and not self._held[i]:
                self._predictions[i] = self._empty_text_prediction()
        predictions = [p for p in self._predictions if p is not None]
        if len(predictions) != len(self):  # every stream was answered above; never a short list
            raise RuntimeError("internal error: a stream was left without a prediction")
        return predictions

    def _run(self, ids: np.ndarray, rows: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lengths = np.full(len(rows), ids.shape[1], np.int64)  # (B,): unpadded rows
        index = np.array(rows, np.intp)
        return self._backend.run_with_state(ids, lengths, self._h[index], self._c[index])

    def _empty_text_prediction(self) -> Prediction:
        if self._empty_text is None:  # words-v1 reads a text without words as [OOV_ID]
            zeros = np.zeros((1, self._hidden), np.float32)
            probabilities, _, _ = self._backend.run_with_state(
                np.array([[OOV_ID]], np.int64), np.array([1], np.int64), zeros, zeros
            )
            self._empty_text = self._prediction(probabilities[0])
        return self._empty_text

    def _prediction(self, row: np.ndarray) -> Prediction:
        return to_prediction(self._labels, row)


def _groups(ids_by_row: dict[int, list[int]]) -> list[tuple[list[int], np.ndarray]]:
    """(rows, (B, T) ids) per distinct length T: batches without padding."""
    by_length: dict[int, list[int]] = defaultdict(list)
    for row, ids in ids_by_row.items():
        by_length[len(ids)].append(row)
    return [(rows, np.array([ids_by_row[r] for r in rows], np.int64)) for rows in by_length.values()]


class Stream:
    """One text fed in pieces: ``feed(piece)`` returns the prediction of everything fed so far."""

    def __init__(self, classifier: Classifier) -> None:
        self._batch = StreamBatch(classifier, 1)

    @property
    def tokens(self) -> int:
        """Tokens read so far (all of them: a stream never truncates)."""
        return self._batch.tokens(0)

    def feed(self, piece: str) -> Prediction:
        return self._batch.feed([piece])[0]

    def reset(self) -> None:
        self._batch.reset()
