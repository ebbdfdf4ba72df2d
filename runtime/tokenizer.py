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
from itertools import repeat

import numpy as np

__all__ = [
    "Tokenizer", "WordStream", "ascii_words", "words", "build_vocabulary", "pad_batch", "PAD_ID", "OOV_ID",
    "RESERVED_IDS",
]

PAD_ID = 0
OOV_ID = 1
RESERVED_IDS = 2

_TAIL_CHARS_PER_WORD = 32  # how much of a long text's end to read first, per kept word
_LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# Where a text may be cut without changing its words (see WordStream): before ASCII whitespace,
# unless the text before the cut ends in a line break tag still open across that whitespace.
_SEPARATOR = re.compile(r"[ \t\n\r\f\v]")
_OPEN_LINE_BREAK = re.compile(r"<br\s*\Z")

# The same rule for ASCII texts (9 in 10 English reviews), on bytes and in C loops only: NFKC
# leaves ASCII as it is, so a translation table lowers letters and turns every character that
# is neither a letter, a digit nor an apostrophe into a space, and ``bytes.split`` finds the
# words. Two regular expressions run first, only on texts holding a ``<`` or a ``'``: line
# breaks become spaces, and an apostrophe not between two letters/digits becomes a space (in
# ``_WORD`` an apostrophe joins two runs or is not part of any word). The character classes
# come from the ones ``_WORD`` and ``_LINE_BREAK`` use (str.isalnum, str.isspace), not typed again.
_ASCII = [chr(c) for c in range(128)]
_ASCII_WORD_CHARS = re.escape("".join(c for c in _ASCII if c.isalnum()).encode())
_ASCII_SPACES = re.escape("".join(c for c in _ASCII if c.isspace()).encode())
_ASCII_LINE_BREAK = re.compile(rb"<br[" + _ASCII_SPACES + rb"]*/?>", re.IGNORECASE)
_ASCII_LONE_APOSTROPHE = re.compile(
    rb"'(?:(?![" + _ASCII_WORD_CHARS + rb"])|(?<![" + _ASCII_WORD_CHARS + rb"]'))")
_ASCII_TO_WORDS = bytes(
    ord(c.lower()) if c.isalnum() or c == "'" else ord(" ") for c in _ASCII) + b" " * 128


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")


def words(text: str) -> list[str]:
    """Split a text into words by the words-v1 rule."""
    return _WORD.findall(_LINE_BREAK.sub(" ", _normalize(text)))


def ascii_words(text: str) -> list[bytes]:
    """``words(text)`` of an ASCII ``text``, as bytes, without a Python-level loop."""
    data = text.encode("ascii")
    if b"<" in data:
        data = _ASCII_LINE_BREAK.sub(b" ", data)
    if b"'" in data:
        data = _ASCII_LONE_APOSTROPHE.sub(b" ", data)
    return data.translate(_ASCII_TO_WORDS).split()


class WordStream:
    """words-v1 for a text that arrives in pieces: the words of all pieces fed so far are
    ``committed`` (in order, over all calls) + ``held_words``, exactly ``words(whole text)``.

    A piece may end inside a word, a ``<br />``, a combining sequence (NFKC) or before a
    final sigma, so the text after the last safe cut is held back. A cut before ASCII
    whitespace is safe: whitespace is a normalization starter that composes with nothing,
    stops ``str.lower``'s final-sigma context, and is never inside a word; the one rule that
    reads across it, ``<br\\s*/?>``, is kept whole by not cutting after an open ``<br``.
    Text with no such whitespace (e.g. unspaced scripts) is held until some arrives.
    """

    def __init__(self) -> None:
        self._held = ""  # raw text after the last cut

    def feed(self, piece: str) -> list[str]:
        """Add ``piece``; return the words that became final (never changed by later text)."""
        self._held += piece
        cut = self._last_safe_cut()
        if cut == 0:
            return []
        done, self._held = self._held[:cut], self._held[cut:]
        return words(done)

    @property
    def held_words(self) -> list[str]:
        """The words of the held-back text as it stands (later text may change them)."""
        return words(self._held)

    @property
    def held_text(self) -> str:
        """The raw text held back (``reset(held_text)`` puts it back, e.g. to undo a feed)."""
        return self._held

    def reset(self, held_text: str = "") -> None:
        self._held = held_text

    def _last_safe_cut(self) -> int:
        end = len(self._held)
        while True:
            separators = [m.start() for m in _SEPARATOR.finditer(self._held, 0, end)]
            if not separators or separators[-1] == 0:
                return 0
            cut = separators[-1]
            if not _OPEN_LINE_BREAK.search(_normalize(self._held[:cut])):
                return cut
            end = cut  # "<br" + whitespace may still become a tag: cut before it


def build_vocabulary(texts: Iterable[str], vocab_size: int, min_count: int = 1) -> list[str]:
    """The most frequent words seen at least ``min_count`` times, ``vocab_size - 2`` at most;
    ties go to the alphabetically first (with ``min_count`` 1: the Keras example's rule)."""
    counts = Counter(w for text in texts for w in words(text))
    ranked = sorted((item for item in counts.items() if item[1] >= min_count), key=lambda item: (-item[1], item[0]))
    return [w for w, _ in ranked[: max(vocab_size - RESERVED_IDS, 0)]]


class Tokenizer:
    """Maps texts to id sequences of at most ``max_len`` ids (never empty)."""

    def __init__(self, vocabulary: Sequence[str], max_len: int) -> None:
        if max_len < 1:
            raise ValueError("max_len must be at least 1")
        self.vocabulary = list(vocabulary)
        self.max_len = max_len
        self._ids = {w: i + RESERVED_IDS for i, w in enumerate(self.vocabulary)}
        self._ascii_id = {w.encode(): i for w, i in self._ids.items() if w.isascii()}.get

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary) + RESERVED_IDS

    def ids(self, text_words: Iterable[str]) -> list[int]:
        """The id of each word."""
        return [self._ids.get(w, OOV_ID) for w in text_words]

    def word_ids(self, text: str) -> list[int]:
        """The id of every word, uncut (possibly empty)."""
        if text.isascii():
            return list(map(self._ascii_id, ascii_words(text), repeat(OOV_ID)))
        return self.ids(words(text))

    def encode(self, text: str) -> list[int]:
        """The last ``max_len`` word ids, or ``[OOV_ID]`` for a text without words."""
        tail_chars = self.max_len * _TAIL_CHARS_PER_WORD
        if len(text) > tail_chars:
            # A huge text: its tail alone decides. The tail's first word may be cut, so it
            # only counts when more than max_len words follow it; else read the whole text.
            tail = self.word_ids(text[-tail_chars:])
            if len(tail) > self.max_len:
                return tail[-self.max_len :]
        return self.word_ids(text)[-self.max_len :] or [OOV_ID]


def pad_batch(sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad id sequences (each non-empty) into (B, T) int64 ids and (B,) int64 lengths."""
    lengths = np.array([len(s) for s in sequences], np.int64)  # (B,)
    input_ids = np.full((len(sequences), int(lengths.max())), PAD_ID, np.int64)  # (B, T)
    for row, sequence in enumerate(sequences):
        input_ids[row, : lengths[row]] = sequence
    return input_ids, lengths
