"""Validation groups: one key per training text, so that related texts stay on one side of the
validation split (``edgelstm train --val-groups``).

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

__all__ = ["read_groups"]

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
