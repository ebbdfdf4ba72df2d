"""The words-v1 tokenizer, shared by training and the runtime.

The rule (README, "Tokenizer", says the same for reimplementers):
1. Unicode NFKC normalization, then ``str.lower()``; the right single quote U+2019 becomes ``'``.
2. HTML line breaks (``<br>``, ``<br/>``, ``<br />``, any case) become spaces.
3. A word is a maximal run of letters and digits (Unicode; ``_`` excluded), where single
   apostrophes between such runs stay inside the word (``don't``). Everything else separates.
4. Ids: 0 is padding, 1 is out-of-vocabulary, word ``vocabulary[i]`` has id ``i + 2``.
5. Only the last ``max_len`` ids are kept (Keras' ``truncating="pre"``): reviews tend to end
   with their verdict. A text with no word at all becomes ``[1]``, so every text is answered.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["Tokenizer", "words", "build_vocabulary", "pad_batch", "PAD_ID", "OOV_ID", "RESERVED_IDS"]

PAD_ID = 0
OOV_ID = 1
RESERVED_IDS = 2

_TAIL_CHARS_PER_WORD = 32  # how much of a long text's end to read first, per kept word
_LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def words(text: str) -> list[str]:
    """Split a text into words by the words-v1 rule."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
    return _WORD.findall(_LINE_BREAK.sub(" ", text))


def build_vocabulary(texts: Iterable[str], vocab_size: int) -> list[str]:
    """The ``vocab_size - 2`` most frequent words; ties go to the alphabetically first."""
    counts = Counter(w for text in texts for w in words(text))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [w for w, _ in ranked[: max(vocab_size - RESERVED_IDS, 0)]]


class Tokenizer:
    """Maps texts to id sequences of at most ``max_len`` ids (never empty)."""

    def __init__(self, vocabulary: Sequence[str], max_len: int) -> None:
        if max_len < 1:
            raise ValueError("max_len must be at least 1")
        self.vocabulary = list(vocabulary)
        self.max_len = max_len
        self._ids = {w: i + RESERVED_IDS for i, w in enumerate(self.vocabulary)}

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary) + RESERVED_IDS

    def word_ids(self, text: str) -> list[int]:
        """The id of every word, uncut (possibly empty)."""
        return [self._ids.get(w, OOV_ID) for w in words(text)]

    def encode(self, text: str) -> list[int]:
        """The last ``max_len`` word ids, or ``[OOV_ID]`` for a text without words."""
        tail_chars = self.max_len * _TAIL_CHARS_PER_WORD
        if len(text) > tail_chars:
            # A huge text: its tail alone decides. The tail's first word may be cut, so it
            # only counts when more than max_len words follow it; else read the whole text.
            tail = words(text[-tail_chars:])
            if len(tail) > self.max_len:
                return [self._ids.get(w, OOV_ID) for w in tail[-self.max_len :]]
        return self.word_ids(text)[-self.max_len :] or [OOV_ID]


def pad_batch(sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad id sequences (each non-empty) into (B, T) int64 ids and (B,) int64 lengths."""
    lengths = np.array([len(s) for s in sequences], np.int64)  # (B,)
    input_ids = np.full((len(sequences), int(lengths.max())), PAD_ID, np.int64)  # (B, T)
    for row, sequence in enumerate(sequences):
        input_ids[row, : lengths[row]] = sequence
    return input_ids, lengths
