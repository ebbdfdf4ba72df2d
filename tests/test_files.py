"""edgelstm.files: atomic replacement, umask-honouring permissions, checksums."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from edgelstm.files import atomic_write, file_sha256


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_atomic_write_honours_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        target = tmp_path / "sub" / "model.onnx"
        atomic_write(target, lambda tmp: tmp.write_bytes(b"weights"))
        plain = tmp_path / "plain"
        plain.write_bytes(b"x")  # what open() gives under the same umask
    finally:
        os.umask(old)
    assert target.read_bytes() == b"weights"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask == stat.S_IMODE(plain.stat().st_mode)


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "model.pt"
    target.write_bytes(b"old")

    def fail(tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left


def test_file_sha256(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc" * 1_000_000)
    assert file_sha256(path) == hashlib.sha256(b"abc" * 1_000_000).hexdigest()
