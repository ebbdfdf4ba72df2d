"""Shared fixtures: the real IMDB archive, small models trained on it, the tiny test models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
IMDB = Path(os.environ.get("EDGELSTM_IMDB", REPO.parent / "shared/datasets/aclImdb_v1_labeled.tar.gz"))
TINY_LSTM = DATA / "tiny-lstm.onnx"
TINY_BILSTM = DATA / "tiny-bilstm.onnx"

# Small enough to train in seconds, with the example's max length so that lengths 380 and
# beyond are exercised for real.
SMALL = {"vocab_size": 2000, "max_len": 380, "embed_dim": 16, "hidden": 16, "dense": 32}


def needs_imdb() -> None:
    if not IMDB.exists():
        pytest.skip(f"IMDB archive not found at {IMDB} (set EDGELSTM_IMDB)")


@pytest.fixture(scope="session")
def imdb():
    needs_imdb()
    from edgelstm.data import load_labeled

    return load_labeled(IMDB)


@pytest.fixture(scope="session")
def trained(imdb, tmp_path_factory):
    """{arch: (checkpoint path, onnx path)}: 2 epochs on 6,000 real reviews, ~80% accurate."""
    pytest.importorskip("torch")
    from edgelstm.config import ModelConfig
    from edgelstm.export import export_checkpoint
    from edgelstm.train import DEFAULT_DROPOUT, TrainOptions, train

    root = tmp_path_factory.mktemp("trained")
    models = {}
    for arch in ("lstm", "bilstm"):
        config = ModelConfig(arch=arch, dropout=DEFAULT_DROPOUT[arch], **SMALL)
        checkpoint = root / f"{arch}.pt"
        options = TrainOptions(epochs=2, limit=6000, learning_rate=0.003, seed=1)
        train(imdb, config, options, checkpoint, show_progress=False)
        models[arch] = (checkpoint, export_checkpoint(checkpoint, root / arch)[0][0])
    return models
