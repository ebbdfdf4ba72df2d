"""Shared fixtures: the real IMDB archive, small models trained on it, the tiny test models."""

from __future__ import annotations

import pytest

from tests.helpers import IMDB, SMALL, needs_imdb


@pytest.fixture(scope="session")
def imdb():
    needs_imdb()
    from edgelstm.data import load_labeled

    return load_labeled(IMDB)


@pytest.fixture(scope="session")
def trained(imdb, tmp_path_factory):
    """{arch: (checkpoint path, onnx path)}: 4 epochs on 6,000 real reviews (the best kept), ~76-82% accurate."""
    pytest.importorskip("torch")
    from edgelstm.config import ModelConfig
    from edgelstm.export import export_checkpoint
    from edgelstm.train import DEFAULT_DROPOUT, TrainOptions, train

    root = tmp_path_factory.mktemp("trained")
    models = {}
    for arch in ("lstm", "bilstm"):
        config = ModelConfig(arch=arch, dropout=DEFAULT_DROPOUT[arch], **SMALL)
        checkpoint = root / f"{arch}.pt"
        # group_similar=False: the random split these models were always trained on. With the
        # similar-text split (train's default since issue 17) seed 1 gives a BiLSTM whose
        # onnxruntime logits are 1.65e-5 from PyTorch at batch 17 x 120 (onnxruntime's approximate
        # LSTM gates): export refused it under one 1e-5 bound and accepts it under today's two
        # checks (its graph, evaluated exactly, is 6e-7 from PyTorch).
        # 4 epochs: after 2 (the fixture until the 33rd stop) a small LSTM is still on IMDB's early
        # plateau, and whether it has left it depends on the CPU's rounding: on an AVX-512 machine
        # the BiLSTM read 68% and the LSTM 71% on int8's 2,000 test reviews (below the 70% that
        # makes agreement mean something); after 4, 82% and 76% there
        options = TrainOptions(epochs=4, limit=6000, learning_rate=0.003, seed=1, group_similar=False)
        train(imdb, config, options, checkpoint, show_progress=False)
        models[arch] = (checkpoint, export_checkpoint(checkpoint, root / arch)[0][0])
    return models


@pytest.fixture(autouse=True)
def _edgelstm_logger():
    """The CLI, run in-process (CliRunner), points the ``edgelstm`` logger at its own stream and
    stops propagation; give the next test the logger as it was (caplog sees library logs)."""
    import logging

    logger = logging.getLogger("edgelstm")
    saved = logger.handlers[:], logger.level, logger.propagate
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


SLOW_FIXTURES = {"imdb", "trained"}  # read the 50k-review archive or train on it


def pytest_collection_modifyitems(items):
    """Tests on real data are slow by what they use: `-m "not slow"` is the fast inner loop."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
