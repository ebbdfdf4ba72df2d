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

import codecs
import logging
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import chain, compress, repeat

import numpy as np

try:
    from edgelstm import _words as _native
except ImportError:  # built without a C compiler (the extension is optional): numpy passes instead
    _native = None  # type: ignore[assignment]

__all__ = [
    "EncodedTexts", "Tokenizer", "WordStream", "ascii_words", "words", "build_vocabulary", "pad_batch", "PAD_ID",
    "OOV_ID", "RESERVED_IDS",
]

log = logging.getLogger(__name__)

PAD_ID = 0
OOV_ID = 1
RESERVED_IDS = 2

MANY_TEXTS = 16  # from this many texts on, encode_many runs its passes over all of them at once
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


# Many texts at once (``Tokenizer.encode_many``): a Python step per word costs more than the
# model's own work on that word, so the rule runs over all texts in one C loop (runtime/_words.c,
# the extension ``edgelstm._words``) or, where that was not built (no C compiler at install), in a
# few passes over one buffer of all texts (str and bytes methods, numpy). Why the ids equal
# ``words``'s:
# - A text becomes bytes in which every byte >= 128 belongs to a letter or digit: an ASCII text
#   as it is (NFKC changes no ASCII character; the C loop reads an ASCII str's bytes in place),
#   any other after ``_normalize`` (as in ``words``), encoded as UTF-8 except that a run of other
#   non-ASCII characters becomes " " for whitespace (which ``\s`` matches) and "#" for the rest
#   (separators that are not whitespace): ``_CODEC_ERRORS``, in Python for both ways. For the C
#   loop a text is only NFKC-normalized (``_non_ascii_text``) and the handler lowers each run of
#   non-ASCII characters (and makes U+2019 "'"), which ``_normalize`` does to the whole text: the
#   same bytes but for ASCII letters' case, which ``_MAPPED`` lowers anyway. (str.lower maps each
#   character alone except a capital sigma, whose neighbours decide: such a text is lowered whole,
#   and lowering a lowered run again changes nothing.)
# - ``_MAPPED`` maps every byte (the C loop gets it as it is: the classes live here only): letters
#   lowered, digits and bytes >= 128 kept, the apostrophe to "`", "<" and ">" to "!" and '"', "/"
#   kept, whitespace to " ", all else to "#", NUL to "$" (a separator that is not whitespace, as
#   "#": the numpy passes join texts with NULs and first make a NUL in a text "#"; the C loop
#   knows where each text ends). A byte is in a word iff it is >= "0", except an apostrophe
#   without a letter or digit on both sides (``_WORD``); a text's ends are separators.
# - A line break (``<br\s*/?>``) holds no apostrophe and its ends "<", ">" and " " are all
#   separators to the apostrophe rule, so it may be found afterwards: a word "br" right after a
#   "<" and before spaces, an optional "/" and a ">" is dropped.
# - A word is looked up by its mapped bytes, exactly, in an open-addressing table of the
#   vocabulary (``_vocabulary_keys``: the words ``words`` can give, as mapped bytes; a later
#   duplicate wins). In C: a slot holds a word's first 8 bytes, its length and id, the rest of a
#   longer word is compared apart; a word longer than every vocabulary word is not looked up.
#   In numpy: 7-byte parts, each a uint64 with its byte count (8: more follow) in the top byte,
#   compared part by part; every word longer than the vocabulary's parts hold differs in a count.
def _mapped_byte(code: int) -> int:
    char = chr(code)
    if code >= 128 or char.isdigit():
        return code
    if char.isalnum():
        return ord(char.lower())
    return ord({"'": "`", "<": "!", ">": '"', "/": "/", "\x00": "$"}.get(char, " " if char.isspace() else "#"))


_MAPPED = bytes(map(_mapped_byte, range(256)))
_PART = 7  # bytes of a word per uint64 key part; the top byte counts them
_PART_MASKS = np.array([(1 << (8 * min(n, _PART))) - 1 for n in range(_PART + 2)], np.uint64)
_PART_COUNTS = np.array([n << (8 * _PART) for n in range(_PART + 2)], np.uint64)
_HASH = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5], np.uint64)
_CODEC_ERRORS = "edgelstm-words-v1"  # the handler of non-ASCII runs in str.encode("ascii", ...)
# Builds each Tokenizer's C table once when threads call encode_many at once (the C loop runs
# without the GIL, so they do overlap): one lock for all, held only while a table is built.
_C_TABLE_LOCK = threading.Lock()


@lru_cache(maxsize=4096)
def _non_ascii_bytes(chars: str) -> bytes:
    lowered = chars.lower().replace("\u2019", "'")  # as _normalize, run by run (see above)
    return "".join(c if c.isalnum() or c == "'" else " " if c.isspace() else "#" for c in lowered).encode()


def _non_ascii_text(text: str) -> str:
    """``_normalize(text)`` but for the case of letters outside ``_CODEC_ERRORS``'s runs (see above)."""
    normalized = unicodedata.normalize("NFKC", text)
    return normalized.lower() if "\u03a3" in normalized else normalized  # a capital sigma: lowered whole


def _non_ascii_run(error: UnicodeError) -> tuple[bytes, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return _non_ascii_bytes(error.object[error.start : error.end]), error.end


codecs.register_error(_CODEC_ERRORS, _non_ascii_run)


def _mapped_texts(texts: list[str]) -> np.ndarray:
    """The texts between "$"s as above, after ``_MAPPED``; ``texts`` are ASCII or normalized."""
    if any("\x00" in text for text in texts):  # (a memchr per text: faster than counting the NULs joined)
        texts = [text.replace("\x00", "#") for text in texts]  # a NUL in a text: a plain separator
    joined = "\x00".join(["", *texts, ""])
    return np.frombuffer(joined.encode("ascii", _CODEC_ERRORS).translate(_MAPPED), np.uint8)


def _words(mapped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, lengths) of the words in ``mapped`` (which starts and ends in a separator)."""
    in_word = mapped >= ord("0")
    apostrophes = np.flatnonzero(mapped == ord("`"))
    before, after = mapped[apostrophes - 1], mapped[apostrophes + 1]
    joins = (before >= ord("0")) & (before != ord("`")) & (after >= ord("0")) & (after != ord("`"))
    in_word[apostrophes[~joins]] = False
    tags = np.flatnonzero(mapped == ord("!"))  # "<": is it a line break holding a word "br"?
    tags = tags[(mapped[tags + 1] == ord("b")) & (mapped[tags + 2] == ord("r"))]
    end = tags + 3
    while len(end) and (spaces := mapped[end] == ord(" ")).any():
        end += spaces
    end += mapped[end] == ord("/")
    tags = tags[mapped[end] == ord('"')]
    in_word[tags + 1] = in_word[tags + 2] = False
    edges = np.flatnonzero(np.diff(in_word))  # before a word's start, its end, the next start...
    return edges[0::2] + 1, edges[1::2] - edges[0::2]


def _word_keys(
    mapped: np.ndarray, starts: np.ndarray, lengths: np.ndarray, longer: list[np.ndarray]
) -> list[np.ndarray]:
    """Each word's key parts (uint64): the first part of all words (W,), then each later part of
    the words ``longer[part]`` that have it. ``mapped`` ends in at least 8 bytes that are in no
    word, so no read passes its end."""
    at = np.ndarray((len(mapped) - 7,), "<u8", mapped.data, strides=(1,))  # 8 bytes from every offset
    keys = []
    for part, rows in enumerate(longer):
        count = np.minimum(lengths[rows] - _PART * part if part else lengths, _PART + 1)
        key = at[starts[rows] + _PART * part if part else starts]
        key &= _PART_MASKS.take(count)
        key |= _PART_COUNTS.take(count)
        keys.append(key)
    return keys


def _expanded(keys: list[np.ndarray], longer: list[np.ndarray]) -> list[np.ndarray]:
    """``_word_keys``'s parts as (W,) each, 0 where a word is too short for that part."""
    full = [keys[0]]
    for key, rows in zip(keys[1:], longer[1:]):
        full.append(np.zeros(len(keys[0]), np.uint64))
        full[-1][rows] = key
    return full


def _vocabulary_keys(vocabulary: Sequence[str]) -> tuple[list[bytes], list[int]]:
    """The mapped bytes and id of each word that ``words`` can give (the others can match no
    text's word: e.g. upper case, a space, an underscore): a word's bytes, apostrophes as "`",
    equal to the word after ``_MAPPED``. All words in a few passes over their joined bytes."""
    joined = "\x00".join(vocabulary)
    if joined.count("\x00") != max(len(vocabulary) - 1, 0):  # a NUL inside a word: word by word
        pairs = [(key, i + RESERVED_IDS) for i, word in enumerate(vocabulary)
                 if (key := (data := word.encode(errors="replace")).replace(b"'", b"`"))
                 and data.translate(_MAPPED) == key]
        return [key for key, _ in pairs], [i for _, i in pairs]
    data = joined.encode(errors="replace")  # as each word's own encoding: "?" for a lone surrogate
    keys = data.replace(b"'", b"`")
    key_bytes = np.frombuffer(keys, np.uint8)
    separators = key_bytes == 0
    different = np.frombuffer(data.translate(_MAPPED), np.uint8) != key_bytes  # "$" at separators
    word_of_byte = np.cumsum(separators)
    usable = np.bincount(word_of_byte[different & ~separators], minlength=len(vocabulary)) == 0
    usable &= np.diff(np.flatnonzero(np.concatenate([[True], separators, [True]]))) > 1  # not empty
    return (list(compress(keys.split(b"\x00"), usable)),
            list(compress(range(RESERVED_IDS, len(vocabulary) + RESERVED_IDS), usable)))


class _WordTable:
    """The vocabulary's ids by the words' mapped bytes (see above), looked up many at once."""

    def __init__(self, vocabulary: Sequence[str]) -> None:
        ids = dict(zip(*_vocabulary_keys(vocabulary)))  # a later duplicate wins, as in Tokenizer._ids
        words = list(ids)
        self.parts = max(1, -(-max(map(len, words), default=0) // _PART))
        lengths = np.fromiter(map(len, words), np.int64, len(words))
        mapped = np.frombuffer(b"$".join([b"", *words, b""]) + b"$" * 8, np.uint8)
        longer = self._longer(lengths)
        keys = _expanded(_word_keys(mapped, np.cumsum(lengths + 1) - lengths, lengths, longer), longer)
        word_ids = np.array(list(ids.values()), np.int64)
        self.bits = max(4, (4 * len(words)).bit_length())  # at most a quarter of the slots used
        while not self._place(keys, longer, word_ids):  # a run of 64 full slots: a larger table
            self.bits += 1

    def _place(self, keys: list[np.ndarray], longer: list[np.ndarray], word_ids: np.ndarray) -> bool:
        """Linear probing, each word within 64 slots of its home slot, in one pass: words in the
        order of their home slots each take the first slot at or after their home that the words
        before them left free (``slot[i] = max(home[i], slot[i - 1] + 1)``, a running maximum),
        so the slots from a word's home to its own are all full, as a lookup's probes expect."""
        home = self._slots(keys, longer, expanded=True)
        order = np.argsort(home, kind="stable")
        steps = np.arange(len(order))
        slot = steps + np.maximum.accumulate(home[order] - steps) if len(order) else steps
        self.probes = int((slot - home[order]).max(initial=0)) + 1
        if self.probes > 64:
            return False
        size = (1 << self.bits) + 64  # room for probes past the last home slot
        self.ids = np.zeros(size, np.int64)  # 0: an empty slot
        self.ids[slot] = word_ids[order]
        self.keys = [np.zeros(size, np.uint64) for _ in keys]
        for table, part_keys in zip(self.keys, keys):
            table[slot] = part_keys[order]
        return True

    def _longer(self, lengths: np.ndarray) -> list[np.ndarray]:
        """For each key part after the first, the words that have it."""
        return [np.empty(0, np.intp)] + [np.flatnonzero(lengths > _PART * part) for part in range(1, self.parts)]

    def _slots(self, keys: list[np.ndarray], longer: list[np.ndarray], expanded: bool = False) -> np.ndarray:
        mixed = keys[0] * _HASH[0]
        for part in range(1, self.parts):
            rows = longer[part]
            mixed[rows] += (keys[part][rows] if expanded else keys[part]) * _HASH[part % len(_HASH)]
        slots: np.ndarray = (mixed >> np.uint64(64 - self.bits)).view(np.int64)  # < 2**bits: no copy
        return slots

    def lookup(self, mapped: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The id of each word ``mapped[starts[i] : starts[i] + lengths[i]]``, OOV_ID if unknown."""
        longer = self._longer(lengths)
        keys = _word_keys(mapped, starts, lengths, longer)
        slots = self._slots(keys, longer)
        found = self.ids.take(slots)
        same = self.keys[0].take(slots) == keys[0]
        for part in range(1, self.parts):  # the rest of the longer words
            rows = longer[part]
            same[rows] &= self.keys[part].take(slots[rows]) == keys[part]
        ids = np.where(same, found, OOV_ID)
        rows = np.flatnonzero((found != 0) & ~same)  # unknown, or further on: a few
        lengths = lengths[rows]
        longer = self._longer(lengths)
        keys = _expanded(_word_keys(mapped, starts[rows], lengths, longer), longer)
        slots = slots[rows]
        for probe in range(1, self.probes):
            found = self.ids.take(slots + probe)
            same = found != 0
            for table, key in zip(self.keys, keys):
                same &= table.take(slots + probe) == key
            ids[rows[same]] = found[same]
            searched = (found != 0) & ~same  # an empty slot ends the search
            rows, slots, keys = rows[searched], slots[searched], [key[searched] for key in keys]
        return ids


@dataclass(frozen=True)
class EncodedTexts:
    """Many texts' ids in one array: text ``i``'s are ``ids[starts[i] : starts[i] + lengths[i]]``;
    ``Tokenizer.encode_many`` makes them, ``padded`` batches them."""

    ids: np.ndarray  # (total,) int64
    starts: np.ndarray  # (N,) int64
    lengths: np.ndarray  # (N,) int64, each at least 1 (from encode_many)

    @classmethod
    def from_sequences(cls, sequences: Sequence[Sequence[int]]) -> EncodedTexts:
        """Id sequences as they are."""
        lengths = np.fromiter(map(len, sequences), np.int64, len(sequences))
        ids = np.array(sequences[0], np.int64) if len(sequences) == 1 else \
            np.fromiter(chain.from_iterable(sequences), np.int64, int(lengths.sum()))
        return cls(ids, np.cumsum(lengths) - lengths, lengths)

    def __len__(self) -> int:
        return len(self.lengths)

    def tolist(self) -> list[list[int]]:
        ids = self.ids.tolist()
        return [ids[start : start + length] for start, length in zip(self.starts.tolist(), self.lengths.tolist())]

    def padded(self, rows: np.ndarray | Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Texts ``rows`` right-padded: (B, T) int64 ids and (B,) int64 lengths."""
        lengths = self.lengths[rows]  # (B,)
        if len(lengths) == 1:  # one text (batch-1 latency): its ids as they are
            start = int(self.starts[rows][0])
            return self.ids[start : start + int(lengths[0])].reshape(1, -1), lengths
        steps = np.arange(int(lengths.max()))  # (T,)
        ids = self.ids.take(self.starts[rows][:, None] + steps, mode="clip")  # (B, T)
        return np.where(steps < lengths[:, None], ids, PAD_ID), lengths


class Tokenizer:
    """Maps texts to id sequences of at most ``max_len`` ids (never empty)."""

    def __init__(self, vocabulary: Sequence[str], max_len: int) -> None:
        if max_len < 1:
            raise ValueError("max_len must be at least 1")
        self.vocabulary = list(vocabulary)
        self.max_len = max_len
        self._c_table: _native.Vocabulary | None = None  # built by encode_many's first C run
        self._table: _WordTable | None = None  # built by encode_many's first numpy passes
        # The word -> id dicts of the text-by-text path are built by its first use: a classifier
        # of many texts at a time (``encode_many``) never needs them, and they cost its start.

    def __getstate__(self) -> dict[str, object]:
        """Without the C table (a C object pickles not): the next encode_many builds it again."""
        return {**vars(self), "_c_table": None}

    @cached_property
    def _ids(self) -> dict[str, int]:
        return {w: i + RESERVED_IDS for i, w in enumerate(self.vocabulary)}

    @cached_property
    def _ascii_id(self) -> Callable[[bytes, int], int]:
        return {w.encode(): i for w, i in self._ids.items() if w.isascii()}.get

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

    def encode_many(self, texts: Sequence[str]) -> EncodedTexts:
        """``[encode(text) for text in texts]``, computed for all texts at once (see ``_MAPPED``)."""
        if len(texts) < MANY_TEXTS:  # the per-text path costs less than the passes' fixed cost
            return EncodedTexts.from_sequences([self.encode(text) for text in texts])
        tail_chars = self.max_len * _TAIL_CHARS_PER_WORD
        long = [i for i, text in enumerate(texts) if len(text) > tail_chars]  # their tail alone: encode
        rows = [i for i, text in enumerate(texts) if len(text) <= tail_chars] if long else None
        short = texts if rows is None else [texts[i] for i in rows]
        ids, starts, lengths = self._c_ids(short) if _native is not None else self._numpy_ids(short)
        if rows is None:
            return EncodedTexts(ids, starts, lengths)
        tails = [self.encode(texts[i]) for i in long]
        tail_lengths = np.array([len(tail) for tail in tails], np.int64)
        all_starts, all_lengths = np.empty(len(texts), np.int64), np.empty(len(texts), np.int64)
        all_starts[rows], all_lengths[rows] = starts, lengths
        all_starts[long] = len(ids) + np.cumsum(tail_lengths) - tail_lengths
        all_lengths[long] = tail_lengths
        all_ids = np.concatenate([ids, *map(np.array, tails)]).astype(np.int64, copy=False)
        return EncodedTexts(all_ids, all_starts, all_lengths)

    def _c_ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``encode_many``'s (ids, starts, lengths) of texts of at most the tail's length, from
        ``edgelstm._words``: ASCII texts as they are, others normalized and mapped first."""
        assert _native is not None
        table = self._c_table
        if table is None:
            with _C_TABLE_LOCK:
                if self._c_table is None:
                    self._c_table = _native.Vocabulary(*_vocabulary_keys(self.vocabulary), _MAPPED, int(_HASH[0]))
                table = self._c_table
        items = [text if text.isascii() else _non_ascii_text(text).encode("ascii", _CODEC_ERRORS) for text in texts]
        ids, counts = table.encode(items, self.max_len, OOV_ID)  # without the GIL
        lengths = np.frombuffer(counts, np.int64)
        return np.frombuffer(ids, np.int64), np.cumsum(lengths) - lengths, lengths

    def _numpy_ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``_c_ids`` in numpy passes, where the C extension is not built."""
        _numpy_fallback()
        if self._table is None:
            self._table = _WordTable(self.vocabulary)
        plain: list[int] = []  # ASCII texts
        other: list[int] = []  # texts to normalize first
        for i, text in enumerate(texts):
            (plain if text.isascii() else other).append(i)
        mapped = np.concatenate([_mapped_texts([texts[i] for i in plain]),
                                 _mapped_texts([_normalize(texts[i]) for i in other])[1:], np.full(8, 32, np.uint8)])
        starts, lengths = _words(mapped)
        word_ids = self._table.lookup(mapped, starts, lengths)
        separators = np.flatnonzero(mapped == ord("$"))  # (len(texts) + 1,)
        last = np.searchsorted(starts, separators[1:])  # one past each text's last word
        kept = np.minimum(last - np.searchsorted(starts, separators[:-1]), self.max_len)
        ids = np.concatenate([word_ids, [OOV_ID]]).astype(np.int64, copy=False)
        text_starts, text_lengths = np.empty(len(texts), np.int64), np.empty(len(texts), np.int64)
        text_starts[plain + other] = np.where(kept > 0, last - kept, len(word_ids))  # none: the OOV_ID after them
        text_lengths[plain + other] = np.maximum(kept, 1)
        return ids, text_starts, text_lengths


@lru_cache(maxsize=1)
def _numpy_fallback() -> None:
    log.debug("edgelstm._words (a C extension) is not built: Tokenizer.encode_many runs numpy passes")


def pad_batch(sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad id sequences (each non-empty) into (B, T) int64 ids and (B,) int64 lengths."""
    return EncodedTexts.from_sequences(sequences).padded(np.arange(len(sequences)))
