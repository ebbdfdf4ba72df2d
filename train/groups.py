"""Validation groups: one key per training text, so that related texts stay on one side of the
validation split (``edgelstm train --val-groups``; without it, ``similar_text_groups``).

For aclImdb the dataset's own URL lists give the key: line i of ``train/urls_<label>.txt`` is
the movie of review ``train/<label>/<i>_<rating>.txt``. A random split puts reviews of one movie
on both sides and validation then overrates words that name the movie; IMDB's test set holds
other movies.
"""

from __future__ import annotations

import re
from pathlib import Path

from edgelstm.data import aclimdb_files, is_aclimdb
from edgelstm.errors import DataError
from edgelstm.tokenizer import words

__all__ = ["read_groups", "similar_text_groups"]

# A text of at least this many words found inside a longer text shares its group: a phrase cut
# from a sentence, a template filled in. Shorter ones ("good", "not bad") occur inside thousands
# of texts by chance, and grouping them would chain most of the data into one group.
CONTAINED_MIN_WORDS = 4
# Contained texts are looked for among texts of at most this many words: finding them costs one
# set entry per word n-gram of that length, and a phrase of a long review is no leak.
CONTAINED_MAX_WORDS = 12

_URL_LIST = re.compile(r"(?:^|/)train/urls_([^/]+)\.txt$")
_TRAIN_REVIEW = re.compile(r"(?:^|/)train/([^/]+)/(\d+)_[^/]*\.txt$")
_UNLABELED = "unsup"


def _files(path: Path, keep: re.Pattern[str], read: bool) -> list[tuple[str, bytes]]:
    """(name, bytes or b"") of the files whose name matches, in the order (and by the rules) in
    which edgelstm reads an aclImdb folder or archive."""
    return [(name, read_file() if read else b"") for name, read_file in aclimdb_files(path) if keep.search(name)]


def read_groups(groups: str | Path, data: str | Path) -> list[str]:
    """One group key per training text of ``data``, in the order edgelstm reads them.

    ``groups`` is either the aclImdb URL lists (folder or archive holding
    ``train/urls_<label>.txt``; then ``data`` must be an aclImdb folder or archive), or a text
    file with one key per line, line i for training text i.
    """
    groups, data = Path(groups), Path(data)
    if not groups.exists():
        raise DataError(f"{groups}: not found")
    if not is_aclimdb(groups):
        with open(groups, encoding="utf-8-sig") as f:
            return [line.rstrip("\n") for line in f]
    urls = {}
    for name, content in _files(groups, _URL_LIST, read=True):
        label = _URL_LIST.search(name).group(1)  # type: ignore[union-attr]
        urls[label] = content.decode("utf-8").splitlines()
    if not urls:
        raise DataError(f"{groups}: no train/urls_<label>.txt (the aclImdb URL lists)")
    keys = []
    for name, _ in _files(data, _TRAIN_REVIEW, read=False):
        label, number = _TRAIN_REVIEW.search(name).groups()  # type: ignore[union-attr]
        if label == _UNLABELED:
            continue
        try:
            keys.append(urls[label][int(number)])
        except (KeyError, IndexError):
            raise DataError(f"{groups}: no URL for {name} of {data}") from None
    return keys


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def similar_text_groups(texts: list[str]) -> list[str]:
    """One group key per text: texts with the same words (case, punctuation and spacing aside)
    share a key, and so does a text of ``CONTAINED_MIN_WORDS`` to ``CONTAINED_MAX_WORDS`` words
    with a longer text that contains its words in order. A random validation split that puts
    such texts on both sides (a training file holding phrases of its own sentences, repeated SMS
    templates) scores memory, not generalization."""
    normalized = [tuple(words(text)) for text in texts]
    parent = list(range(len(texts)))
    first: dict[tuple[str, ...], int] = {}
    for i, key in enumerate(normalized):
        if key in first:
            parent[_find(parent, i)] = _find(parent, first[key])
        else:
            first[key] = i
    wanted = {len(key) for key in first if CONTAINED_MIN_WORDS <= len(key) <= CONTAINED_MAX_WORDS}
    if wanted:
        # each word n-gram (of a length some short text has) -> the first longer text holding it
        holder: dict[int, int] = {}
        for i, key in enumerate(normalized):
            for n in wanted:
                if n >= len(key):
                    continue
                for start in range(len(key) - n + 1):
                    holder.setdefault(hash(key[start : start + n]), i)
        for key, i in first.items():
            j = holder.get(hash(key)) if len(key) in wanted else None
            if j is not None and normalized[j] != key and _contains(normalized[j], key):  # not a hash collision
                parent[_find(parent, i)] = _find(parent, j)
    return [str(_find(parent, i)) for i in range(len(texts))]


def _contains(longer: tuple[str, ...], shorter: tuple[str, ...]) -> bool:
    n = len(shorter)
    return any(longer[start : start + n] == shorter for start in range(len(longer) - n + 1))
