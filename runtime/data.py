"""Labeled text readers: aclImdb (folder or .tar.gz), CSV/TSV, JSONL and fastText lines.

Every reader returns texts and their labels as strings; errors name the file and line.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import os
import re
import tarfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import check_label
from .errors import DataError, InputError

__all__ = ["HELD_OUT_CAP", "LabeledTexts", "Dataset", "aclimdb_files", "is_aclimdb", "label_targets", "load_dataset",
           "load_evaluation", "load_labeled"]

# At most this many held-out texts judge int8 recipes: sampled from --data, or kept in model.pt.
HELD_OUT_CAP = 5000

log = logging.getLogger(__name__)

# aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt; unlabeled train/unsup is not a label.
_ACLIMDB_FILE = re.compile(r"(?:^|/)(train|test)/([^/]+)/[^/]+\.txt$")
_UNLABELED = {"unsup"}
_FASTTEXT_LABEL = "__label__"
csv.field_size_limit(2**31 - 1)  # reviews can be long; the csv module's default is 128 KiB


@dataclass
class LabeledTexts:
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    skipped: int = 0  # bad rows passed over (only with skip_bad_rows)

    def __len__(self) -> int:
        return len(self.texts)

    def add(self, text: str, label: str) -> None:
        self.texts.append(text)
        self.labels.append(label)

    def subset(self, rows: Iterable[int]) -> LabeledTexts:
        return LabeledTexts([self.texts[i] for i in rows], [self.labels[i] for i in rows])

    def sample(self, limit: int, seed: int = 0) -> LabeledTexts:
        """A seeded random sample of at most ``limit`` texts."""
        return self.subset(np.random.default_rng(seed).permutation(len(self))[:limit])


def label_targets(labels: Iterable[str], known: Sequence[str], model: object = "the model") -> np.ndarray:
    """The index of each label among a model's ``known`` labels, as (N,) int64: the one check
    every scorer uses (evaluate, bench, export --int8/quantize --data). A label the model does
    not know is a DataError (exit 5) listing them, never a crash or a silent wrong score."""
    index = {label: i for i, label in enumerate(known)}
    labels = list(labels)
    unknown = sorted(set(labels) - index.keys())
    if unknown:
        raise DataError(f"labels {unknown} are not among {model}'s {list(known)}")
    return np.array([index[label] for label in labels], np.int64)


@dataclass
class Dataset:
    train: LabeledTexts
    test: LabeledTexts | None = None  # aclImdb's own test split, when the data has one

    @property
    def evaluation_split(self) -> LabeledTexts:
        """What evaluation and benchmarks read: the test split if there is one, else all."""
        return self.test if self.test is not None else self.train


def is_aclimdb(path: Path) -> bool:
    """Whether ``path`` is read as the aclImdb layout: a folder, or a (.tar.gz, .tgz, .tar) archive."""
    return path.is_dir() or path.name.endswith((".tar.gz", ".tgz", ".tar"))


def _read_aclimdb(path: Path) -> Dataset:
    splits = {"train": LabeledTexts(), "test": LabeledTexts()}
    for name, read in aclimdb_files(path):
        match = _ACLIMDB_FILE.search(name)
        if not match or match.group(2) in _UNLABELED:
            continue
        splits[match.group(1)].add(read().decode("utf-8", errors="replace"), match.group(2))
    if not splits["train"]:
        raise DataError(f"{path}: no train/<label>/*.txt files (aclImdb layout) found")
    return Dataset(splits["train"], splits["test"] or None)


def aclimdb_files(path: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(name, read) pairs in a stable (sorted) order, from a folder (its .txt files) or straight
    from a tar: the one reader of the aclImdb layout (labeled texts, URL lists, unlabeled texts)."""
    if path.is_dir():
        # Links are skipped, as in archives: a link could point anywhere outside the folder.
        files = []
        for root, _dirs, names in os.walk(path):  # never descends into linked folders
            for name in names:
                file = Path(root, name)
                if name.endswith(".txt") and not file.is_symlink():
                    files.append(file)
        for file in sorted(files):
            yield file.relative_to(path).as_posix(), file.read_bytes
        return
    try:
        with tarfile.open(path) as archive:
            members = sorted((m for m in archive if m.isfile()), key=lambda m: m.name)
            for member in members:
                stream = archive.extractfile(member)
                if stream is not None:  # None only for what is not a regular file
                    yield member.name, stream.read
    except (tarfile.TarError, EOFError, gzip.BadGzipFile) as exc:  # the bytes are not a (whole) archive
        raise DataError(f"{path}: cannot read archive ({exc})") from exc
    except OSError as exc:  # the file itself cannot be read: an input error, as for every input file
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc


Spanning = list[tuple[int, int, dict[str, str]]]  # (first line, last line, row) of multi-line rows


def _read_delimited(path: Path, text_column: str, label_column: str, skip: bool) -> LabeledTexts:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    data = LabeledTexts()
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        missing = [c for c in (text_column, label_column) if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(
                f"{path}: no column {missing[0]!r} in the header {reader.fieldnames}; "
                "choose columns with --text-column/--label-column"
            )
        spanning: Spanning = []  # rows whose quoted fields span lines
        first = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise DataError(f"{path}:{reader.line_num}: malformed row ({exc})") from exc
            text, label = row.get(text_column), row.get(label_column)
            if text is None or not (label or "").strip() or None in row:
                if not skip:
                    raise DataError(f"{path}:{first}: malformed row (missing text or label)")
                data.skipped += 1
            else:
                data.add(text, (label or "").strip())
                if reader.line_num > first:
                    spanning.append((first, reader.line_num, row))
            first = reader.line_num + 1
    _check_stray_quotes(path, spanning, set(data.labels), len(reader.fieldnames or ()), label_column, delimiter)
    return data


def _check_stray_quotes(path: Path, spanning: Spanning, labels: set[str], columns: int, label_column: str,
                        delimiter: str) -> None:
    """A quote opened in one row and closed many lines later swallows the rows in between
    into one field. A field spanning lines is fine (reviews have line breaks), unless one of
    its lines reads as a whole row of this file: the header's column count, and a label of
    the data in the label column's place."""
    if not spanning or columns < 2:
        return
    for first, last, row in spanning:
        label_index = list(row).index(label_column)
        for value in row.values():
            if not isinstance(value, str) or "\n" not in value:
                continue
            for line in value.splitlines()[1:]:
                fields = next(csv.reader([line], delimiter=delimiter), [])
                if len(fields) == columns and fields[label_index].strip() in labels:
                    raise DataError(
                        f"{path}:{first}: a quoted field runs from line {first} to line {last} "
                        "and swallows lines that look like rows (a stray quote?)"
                    )


def _read_lines(path: Path, parse: Callable[[str], tuple[str, str]], skip: bool) -> LabeledTexts:
    data = LabeledTexts()
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                data.add(*parse(line))
            except ValueError as exc:
                if skip:
                    data.skipped += 1
                    continue
                raise DataError(f"{path}:{number}: {exc}") from exc
    return data


def _parse_jsonl(text_column: str, label_column: str) -> Callable[[str], tuple[str, str]]:
    def parse(line: str) -> tuple[str, str]:
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise ValueError("not a JSON object")
        text, label = row.get(text_column), row.get(label_column)
        if not isinstance(text, str) or label is None or isinstance(label, (dict, list)):
            raise ValueError(f"needs a string {text_column!r} and a {label_column!r}")
        return text, str(label)

    return parse


def _parse_fasttext(line: str) -> tuple[str, str]:
    head, _, text = line.strip().partition(" ")
    if not head.startswith(_FASTTEXT_LABEL) or len(head) == len(_FASTTEXT_LABEL):
        raise ValueError(f"expected '{_FASTTEXT_LABEL}LABEL text'")
    return text, head[len(_FASTTEXT_LABEL) :]


def load_labeled(
    path: str | Path,
    *,
    text_column: str = "text",
    label_column: str = "label",
    skip_bad_rows: bool = False,
) -> Dataset:
    """Read labeled texts from any supported format (chosen by the path)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if is_aclimdb(path):
        return _read_aclimdb(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        data = _read_delimited(path, text_column, label_column, skip_bad_rows)
    elif suffix in (".jsonl", ".ndjson"):
        data = _read_lines(path, _parse_jsonl(text_column, label_column), skip_bad_rows)
    else:
        data = _read_lines(path, _parse_fasttext, skip_bad_rows)
    if data.skipped:
        log.warning("%s: skipped %d malformed rows", path, data.skipped)
    return Dataset(data)


def load_evaluation(path: str | Path, **options: Any) -> LabeledTexts:
    """The labeled texts to score a model on: the test split if the data has one, else all of it
    (``edgelstm evaluate``, ``bench``, the int8 check); no texts at all is a DataError."""
    split = load_labeled(path, **options).evaluation_split
    if not split:
        raise DataError(f"{path}: no labeled examples")
    return split


def load_dataset(path: str | Path, test: str | Path | None = None, **options: Any) -> Dataset:
    """Training data, checked: at least two labels; ``test`` replaces any own test split."""
    dataset = load_labeled(path, **options)
    if not dataset.train:
        raise DataError(f"{path}: no labeled examples")
    labels = set(dataset.train.labels)
    for label in sorted(labels):
        try:
            check_label(label)
        except ValueError as exc:
            raise DataError(f"{path}: {exc}; labels are printed one per line") from None
    if len(labels) < 2:
        raise DataError(f"{path}: only one label ({labels.pop()!r}); a classifier needs two")
    if test is not None:
        dataset.test = load_labeled(test, **options).train
    if dataset.test is not None:
        unknown = set(dataset.test.labels) - labels
        if unknown:
            raise DataError(f"{test or path}: test labels {sorted(unknown)} are not in training")
    return dataset
