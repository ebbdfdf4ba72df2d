"""model.pt keeps no raw training texts unless asked (train --keep-validation-texts)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("torch", reason="training needs the train extra")

from edgelstm.train.checkpoint import load_checkpoint, load_held_out  # noqa: E402

TINY = ["--vocab-size", "30", "--max-len", "20", "--embed-dim", "8", "--hidden", "8", "--dense", "8",
        "--epochs", "1", "--no-progress"]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "edgelstm.cli", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def toy_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("toy") / "toy.csv"
    rows = ["text,label"] + [f"secret review number {i} {'great' if i % 2 else 'awful'},{'pos' if i % 2 else 'neg'}"
                             for i in range(60)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_checkpoint_has_no_texts_by_default_and_export_int8_asks_for_data(toy_csv, tmp_path):
    checkpoint = tmp_path / "model.pt"
    result = cli("train", toy_csv, "-o", checkpoint, *TINY)
    assert result.returncode == 0, result.stderr
    assert load_held_out(checkpoint) is None
    assert "secret review" not in repr(load_checkpoint(checkpoint))

    result = cli("export", checkpoint, "-o", tmp_path / "out", "--int8")
    assert result.returncode == 2
    assert "--keep-validation-texts" in result.stderr and "--data" in result.stderr
    assert not (tmp_path / "out").exists()  # refused before any work


def test_keep_validation_texts_stores_the_validation_split(toy_csv, tmp_path):
    checkpoint = tmp_path / "model.pt"
    result = cli("train", toy_csv, "-o", checkpoint, *TINY, "--keep-validation-texts", "--val-split", "0.2")
    assert result.returncode == 0, result.stderr
    held_out = load_held_out(checkpoint)
    assert held_out is not None and len(held_out) == 12
    assert all(text.startswith("secret review") for text in held_out.texts)
