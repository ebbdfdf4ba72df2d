"""Word vectors in the common text format (word2vec / GloVe / fastText ``.vec``).

One word and its numbers per line, separated by spaces; an optional first line
``<count> <dimension>`` (word2vec, fastText) is recognised and skipped. Only the words of the
model's vocabulary are kept, so a large file costs a pass over it, not its size in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgelstm.errors import DataError, InputError

__all__ = ["WordVectors", "read_vectors", "vector_dim", "write_vectors"]

log = logging.getLogger(__name__)


@dataclass
class WordVectors:
    words: list[str]
    vectors: np.ndarray  # (N, D) float32, row i is the vector of words[i]
    file_words: int  # how many words the file held (before keeping only the wanted ones)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def _is_header(fields: list[str]) -> bool:
    return len(fields) == 2 and all(f.isdigit() for f in fields)


def read_vectors(path: str | Path, wanted: Sequence[str] | None = None) -> WordVectors:
    """The vectors of ``wanted`` words (all words if None) that ``path`` has.

    Raises DataError, naming the file and line, for a line whose number of values differs from
    the first vector's or that holds something other than numbers.
    """
    path = Path(path)
    keep = None if wanted is None else set(wanted)
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim = None
    seen = 0
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                fields = line.rstrip("\n").rstrip(" ").split(" ")
                if number == 1 and _is_header(fields):
                    continue
                if len(fields) < 2:
                    if not line.strip():
                        continue
                    raise DataError(f"{path}:{number}: expected a word and its vector")
                if dim is None:
                    dim = len(fields) - 1
                elif len(fields) - 1 != dim:
                    raise DataError(f"{path}:{number}: {len(fields) - 1} values, the first vector had {dim}")
                seen += 1
                word = fields[0]
                if keep is not None and word not in keep:
                    continue
                try:
                    rows.append(np.array(fields[1:], dtype=np.float32))
                except ValueError:
                    raise DataError(f"{path}:{number}: not a vector of numbers") from None
                words.append(word)
    except OSError as exc:
        raise InputError(f"{path}: cannot read word vectors ({exc.strerror or exc})") from exc
    if dim is None:
        raise DataError(f"{path}: no word vectors in the file")
    vectors = np.stack(rows) if rows else np.zeros((0, dim), np.float32)
    return WordVectors(words, vectors, seen)


def write_vectors(path: Path, words: Sequence[str], vectors: np.ndarray) -> None:
    """Write the text format with a ``<count> <dimension>`` header (what fastText writes)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{len(words)} {vectors.shape[1]}\n")
        f.writelines(
            word + " " + " ".join(f"{v:.5f}" for v in vector.tolist()) + "\n" for word, vector in zip(words, vectors)
        )


def vector_dim(path: str | Path) -> int:
    """The dimension of the vectors in ``path`` (from its header or first vector)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.rstrip("\n").rstrip(" ").split(" ")
                if _is_header(fields):
                    return int(fields[1])
                if len(fields) >= 2:
                    return len(fields) - 1
    except OSError as exc:
        raise InputError(f"{path}: cannot read word vectors ({exc.strerror or exc})") from exc
    raise DataError(f"{path}: no word vectors in the file")
