"""Reading documents to classify: one per line (as fastText does) or one per file.

Everything is streamed: a file of any size is read a line at a time, so memory stays bounded
by the longest line (and the caller's batch), and every document keeps its position.
"""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path
from typing import cast

from .errors import InputError

__all__ = ["Document", "read_documents", "split_lines"]

log = logging.getLogger(__name__)

STDIN = "-"
_BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 8192  # a NUL byte in the first 8 KiB marks a binary file


@dataclass(frozen=True)
class Document:
    source: str  # file name, or "<stdin>"
    line: int  # 1-based line number; 0 for a whole-file document
    text: str


def _stdin() -> BufferedReader:
    """Standard input's byte stream; InputError when the process was started without one
    (``<&-``: Python then has ``sys.stdin is None``)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise InputError("<stdin>: standard input is closed")
    if not hasattr(stream, "peek"):  # a replaced stdin (a test runner's, an embedding app's)
        return BufferedReader(stream)
    return cast(BufferedReader, stream)  # a BufferedReader, typed as BinaryIO


def _open(name: str) -> BufferedReader:
    if name == STDIN:
        return _stdin()
    path = Path(name)
    if path.is_dir():
        raise InputError(f"{name}: is a directory")
    try:
        return open(path, "rb")
    except FileNotFoundError as exc:
        raise InputError(f"{name}: no such file") from exc
    except PermissionError as exc:
        raise InputError(f"{name}: permission denied") from exc
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror})") from exc


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        log.warning("%s: not valid UTF-8; undecodable bytes replaced", where)
        return raw.decode("utf-8", errors="replace")


def _check_binary(stream: BufferedReader, name: str, force: bool) -> None:
    if not force and b"\x00" in stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]:
        raise InputError(f"{name}: looks like a binary file (NUL bytes); use --force to read it anyway")


def _lines(source: str, stream: BufferedReader) -> Iterator[Document]:
    for number, raw in enumerate(stream, 1):
        if number == 1:
            raw = raw.removeprefix(_BOM)
        yield Document(source, number, _decode(raw.rstrip(b"\r\n"), f"{source}:{number}"))


def _whole(source: str, stream: BufferedReader) -> Iterator[Document]:
    yield Document(source, 0, _decode(stream.read().removeprefix(_BOM), source))


def read_documents(
    names: Iterable[str | os.PathLike[str]], *, per_file: bool = False, force: bool = False
) -> Iterator[Document | InputError]:
    """Documents of each input in order; an input that cannot be read yields its InputError
    in its place (and reading goes on with the next), so nothing is silently skipped."""
    for name in map(str, names):
        try:
            stream = _open(name)
        except InputError as exc:
            yield exc
            continue
        source = "<stdin>" if name == STDIN else name
        try:
            _check_binary(stream, source, force)
            yield from (_whole if per_file else _lines)(source, stream)
        except InputError as exc:
            yield exc
        except OSError as exc:
            yield InputError(f"{name}: read failed ({exc.strerror or exc})")
        finally:
            if name != STDIN:
                stream.close()


def split_lines(source: str, data: bytes, *, force: bool = False) -> Iterator[Document]:
    """The documents of a file's bytes, one per line, exactly as ``read_documents`` reads the file
    (the same lines, numbers, decoding and binary check): for readers that have the bytes, not the file."""
    stream = cast(BufferedReader, io.BufferedReader(io.BytesIO(data)))  # as _open's files are
    _check_binary(stream, source, force)
    yield from _lines(source, stream)
