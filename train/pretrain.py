"""Word vectors from unlabeled texts of the user's domain, on the words-v1 tokenizer.

``edgelstm pretrain UNLABELED... -o vectors.vec`` trains skip-gram word2vec (gensim, the
``pretrain`` extra) and writes the common text format that ``edgelstm train --vectors`` reads.
Words are split exactly as the classifier splits them, so every vocabulary word can find its
vector. Deterministic for a seed: one worker thread and a hash that does not change between
Python processes (gensim's default, ``hash``, is salted per process).
"""

from __future__ import annotations

import logging
import re
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgelstm.data import aclimdb_files, is_aclimdb
from edgelstm.errors import DataError, InputError, MissingExtraError
from edgelstm.files import atomic_write
from edgelstm.tokenizer import words

from .vectors import write_vectors

__all__ = ["PretrainOptions", "pretrain_vectors", "read_unlabeled"]

log = logging.getLogger(__name__)

# aclImdb: every review of the train split, labeled or not (train/pos, train/neg, train/unsup).
# The test split is never read, so vectors made for a model never saw its test texts.
_ACLIMDB_TRAIN_FILE = re.compile(r"(?:^|/)train/[^/]+/[^/]+\.txt$")


@dataclass
class PretrainOptions:
    dim: int = 100
    window: int = 5
    min_count: int = 3  # words rarer than this get no vector
    epochs: int = 5
    negative: int = 5
    sample: float = 1e-4  # down-sampling of frequent words
    seed: int = 0


def _aclimdb_texts(path: Path) -> Iterator[str]:
    for name, read in aclimdb_files(path):
        if _ACLIMDB_TRAIN_FILE.search(name):
            yield read().decode("utf-8", errors="replace")


def read_unlabeled(paths: Sequence[str | Path]) -> Iterator[str]:
    """Texts, in order: aclImdb folders or archives (their train split, labeled and unlabeled),
    else plain text files with one text per line."""
    for path in map(Path, paths):
        if not path.exists():
            raise InputError(f"{path}: no such file")
        if is_aclimdb(path):
            yield from _aclimdb_texts(path)
            continue
        try:
            with open(path, encoding="utf-8-sig", errors="replace") as f:
                yield from (line for line in f if line.strip())
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def pretrain_vectors(paths: Sequence[str | Path], output: Path, options: PretrainOptions) -> dict[str, float]:
    """Train skip-gram word vectors on the texts of ``paths``; write them to ``output``."""
    try:
        from gensim.models import Word2Vec
    except ImportError:
        raise MissingExtraError("pretraining needs gensim: pip install 'edgelstm[pretrain]'") from None

    start = time.perf_counter()
    corpus = [tokens for tokens in map(words, read_unlabeled(paths)) if tokens]
    if not corpus:
        raise DataError("no words in the unlabeled texts")
    n_tokens = sum(map(len, corpus))
    log.info("%d texts, %d words; training word2vec (skip-gram, dim %d, %d epochs)",
             len(corpus), n_tokens, options.dim, options.epochs)
    model = Word2Vec(
        corpus, vector_size=options.dim, window=options.window, min_count=options.min_count,
        sg=1, negative=options.negative, sample=options.sample, epochs=options.epochs,
        seed=options.seed, workers=1, hashfxn=_stable_hash,
    )
    vocabulary = list(model.wv.index_to_key)  # most frequent first
    vectors = np.asarray(model.wv.vectors, np.float32)
    atomic_write(output, lambda tmp: write_vectors(tmp, vocabulary, vectors))
    return {"texts": len(corpus), "tokens": n_tokens, "words": len(vocabulary),
            "seconds": round(time.perf_counter() - start, 1)}
