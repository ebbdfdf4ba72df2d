"""Files written safely, and read by checksum. Used by every room (runtime, train, export, scripts).

Public on purpose: ``edgelstm.train``, ``edgelstm.export`` and the benchmarks write their
artifacts through :func:`atomic_write`, and the shipped-model check, ``edgelstm info`` and
the tests identify files by :func:`file_sha256`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

from .errors import InputError

__all__ = ["atomic_write", "check_output", "file_sha256", "publish", "staging_folder"]


def check_output(
    target: str | os.PathLike[str],
    *,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    replaceable: Callable[[Path], bool],
    what: str,
) -> bool:
    """The one rule for every file edgelstm writes (train -o and its history, export, quantize -o):
    ``target`` may replace an earlier artifact of its own kind, nothing else.

    Refused with an :class:`~edgelstm.errors.InputError` (exit 4), before any work: a folder,
    any of the command's ``inputs`` (also through a link), an existing file for which
    ``replaceable(target)`` is false (``what`` names the kind: "an edgelstm checkpoint").
    Returns True when an earlier artifact will be replaced (the caller says so).
    """
    target = Path(target)
    if target.is_dir():
        raise InputError(f"{target}: is a directory; give a file name")
    if not target.exists():
        return False
    for source in inputs:
        if source is not None and Path(source).exists() and target.samefile(source):
            raise InputError(f"{target}: is one of this command's inputs; refusing to overwrite it")
    if not replaceable(target):
        raise InputError(f"{target}: exists and is not {what}; refusing to overwrite it")
    return True


def _umask() -> int:
    """The process umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> None:
    """Call ``write(tmp_path)``, then rename into place: ``path`` is always old or new, whole.

    The file gets the permissions a plain ``open(path, "w")`` would give (0666 less the umask);
    the temporary file ``mkstemp`` makes is 0600, which would otherwise hide artifacts from
    other users and services.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def staging_folder(beside: Path) -> Iterator[Path]:
    """A private folder inside ``beside`` (same file system, so renames are atomic), removed on exit."""
    beside.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".edgelstm-", dir=beside))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def publish(files: Mapping[Path, Path], remove: Iterable[Path] = ()) -> None:
    """Rename each staged file (value) onto its target (key), and delete ``remove`` (stale
    members of the set), all under one lock per folder.

    Each target is always whole (old or new); two processes publishing into the same folder
    never interleave, so a set written together (model.onnx + model.int8.onnx) stays a pair.
    """
    remove = list(remove)
    folders = sorted({target.parent.resolve() for target in [*files, *remove]})
    with ExitStack() as locks:
        for folder in folders:
            locks.enter_context(_folder_lock(folder))
        for stale in remove:  # first: a reader meanwhile sees the old model alone, never a mixed pair
            Path(stale).unlink(missing_ok=True)
        for target, staged in files.items():
            with open(staged, "rb") as f:
                os.fsync(f.fileno())
            os.replace(staged, target)


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` between processes, with the platform's own call
    (imported here, so ``import edgelstm`` works on every OS)."""
    if sys.platform == "win32":  # a folder cannot be opened on Windows: lock a file in it (left there)
        import msvcrt

        with open(folder / ".edgelstm.lock", "a+b") as f:
            msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)  # retries for 10 s, then OSError
            try:
                yield
            finally:
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    lock = os.open(folder, os.O_RDONLY)  # the folder itself is the lock: nothing left behind
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)  # closing releases the lock
