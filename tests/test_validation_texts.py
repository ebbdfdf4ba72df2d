"""model.pt keeps no raw training texts unless asked (train --keep-validation-texts)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="training needs the train extra")

from edgelstm.config import ModelConfig  # noqa: E402
from edgelstm.data import Dataset, LabeledTexts  # noqa: E402
from edgelstm.train import TrainOptions, train  # noqa: E402
from edgelstm.train.checkpoint import load_checkpoint, load_held_out  # noqa: E402
from tests.helpers import cli_defaults, run_cli  # noqa: E402

TINY = ModelConfig(vocab_size=30, max_len=20, embed_dim=8, hidden=8, dense=8)


def _secret_reviews() -> Dataset:
    data = LabeledTexts()
    for i in range(60):
        data.add(f"secret review number {i} {'great' if i % 2 else 'awful'}", "pos" if i % 2 else "neg")
    return Dataset(data)


def _train(path, **options):
    train(_secret_reviews(), TINY, TrainOptions(epochs=1, val_split=0.2, **options), path, show_progress=False)
    return path


def test_checkpoint_has_no_texts_by_default_and_export_int8_says_its_accuracy_is_unchecked(tmp_path):
    checkpoint = _train(tmp_path / "model.pt")
    assert load_held_out(checkpoint) is None
    assert "secret review" not in repr(load_checkpoint(checkpoint))

    result = run_cli("export", checkpoint, "-o", tmp_path / "out", "--int8")
    assert result.returncode == 0, result.stderr
    assert "not checked" in result.stderr
    assert "--keep-validation-texts" in result.stderr and "--data" in result.stderr
    assert (tmp_path / "out" / "model.int8.onnx").exists()


def test_keep_validation_texts_stores_the_validation_split(tmp_path):
    held_out = load_held_out(_train(tmp_path / "model.pt", keep_validation_texts=True))
    assert held_out is not None and len(held_out) == 12
    assert all(text.startswith("secret review") for text in held_out.texts)


def test_the_cli_keeps_no_validation_texts_by_default():
    assert cli_defaults("train")["keep_validation_texts"] is False
