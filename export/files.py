"""Putting finished files in place: whole, and as a consistent set (needs nothing but the OS)."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

__all__ = ["publish", "staging_folder"]

@contextmanager
def staging_folder(beside: Path) -> Iterator[Path]:
    """A private folder inside ``beside`` (same file system, so renames are atomic), removed on exit."""
    beside.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".edgelstm-", dir=beside))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def publish(files: Mapping[Path, Path]) -> None:
    """Rename each staged file (value) onto its target (key), all under one lock per folder.

    Each target is always whole (old or new); two processes publishing into the same folder
    never interleave, so a set written together (model.onnx + model.int8.onnx) stays a pair.
    """
    folders = sorted({target.parent.resolve() for target in files})
    locks = []
    try:
        for folder in folders:
            lock = os.open(folder, os.O_RDONLY)  # the folder itself is the lock: nothing left behind
            locks.append(lock)
            fcntl.flock(lock, fcntl.LOCK_EX)
        for target, staged in files.items():
            with open(staged, "rb") as f:
                os.fsync(f.fileno())
            os.replace(staged, target)
    finally:
        for lock in locks:
            os.close(lock)
