"""The fitted wide term (train/linear.py, trainer ``wide_fit``): stage 1 reaches the optimum of its
convex problem on exactly the graph's features; stage 2 starts from the linear model alone
("epoch 0") and keeps it when no LSTM epoch beats it on validation."""

from __future__ import annotations

import numpy as np
import pytest

from edgelstm import Classifier
from edgelstm.data import Dataset, LabeledTexts
from tests.helpers import needs_text_set, run_cli, write_long_texts

torch = pytest.importorskip("torch")

from edgelstm.config import ModelConfig  # noqa: E402
from edgelstm.train import TextClassifier, TrainOptions, train  # noqa: E402
from edgelstm.train.linear import IDF_L2_GRID, WideFit, choose_wide, fit_wide, idf_of, wide_features  # noqa: E402


def _sequences(n: int, seed: int, vocab: int = 60) -> tuple[list[list[int]], np.ndarray]:
    rng = np.random.default_rng(seed)
    sequences = [list(rng.integers(2, vocab, rng.integers(1, 12))) for _ in range(n)]
    # labels mostly from words 2..9 (noisy), so the optimum is finite and not trivial
    score = np.array([sum(1 if 2 <= t < 6 else -1 if 6 <= t < 10 else 0 for t in s) for s in sequences])
    labels = ((score + rng.normal(0, 1, n)) > 0).astype(np.int64)
    return sequences, labels


def _objective(features, targets, table, bias, l2):
    logits = torch.sparse.mm(features, table) + bias
    if table.shape[1] == 1:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], targets.double())
    else:
        loss = torch.nn.functional.cross_entropy(logits, targets)
    return loss + 0.5 * l2 * (table * table).sum()


@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("bigrams", [0, 16])
def test_stage_1_reaches_the_convex_optimum(outputs, bigrams):
    sequences, labels = _sequences(400, 0)
    if outputs == 3:
        labels = labels + (np.array([len(s) for s in sequences]) > 6)  # 0, 1, 2
    features = wide_features(sequences, 60, bigrams)
    targets = torch.from_numpy(labels)
    l2 = 1e-3
    table, bias = fit_wide(features, targets, outputs, l2)
    table.requires_grad_(True)
    bias.requires_grad_(True)
    gradient = torch.autograd.grad(_objective(features, targets, table, bias, l2), [table, bias])
    # the optimum: the objective's gradient vanishes (KKT of an unconstrained convex problem)
    assert max(float(g.abs().max()) for g in gradient) < 1e-6
    with torch.no_grad():  # and no point nearby is lower
        best = _objective(features, targets, table, bias, l2)
        for seed in range(3):
            step = torch.randn(table.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
            assert _objective(features, targets, table + 1e-3 * step, bias, l2) > best


def test_stage_1_matches_scikit_learn():
    linear_model = pytest.importorskip("sklearn.linear_model")
    sequences, labels = _sequences(400, 1)
    features = wide_features(sequences, 60)
    l2 = 1e-3
    table, bias = fit_wide(features, torch.from_numpy(labels), 1, l2)
    # scikit-learn: C * sum(loss) + ||w||^2 / 2, the intercept unpenalized: C = 1 / (l2 * N)
    reference = linear_model.LogisticRegression(C=1 / (l2 * len(labels)), tol=1e-10, max_iter=10000)
    reference.fit(features.to_dense().numpy(), labels)
    assert np.abs(table[:, 0].numpy() - reference.coef_[0]).max() < 1e-4
    assert abs(float(bias[0]) - reference.intercept_[0]) < 1e-4


def test_features_are_the_graphs_wide_term():
    """The fit's features times a table are what TextClassifier.wide_logits (the graph's term) gives."""
    config = ModelConfig(arch="lstm", vocab_size=60, max_len=12, embed_dim=4, hidden=4, dense=0, wide=True,
                         wide_bigrams=16, labels=["a", "b", "c"])
    model = TextClassifier(config)
    with torch.no_grad():
        model.wide.weight.normal_(generator=torch.Generator().manual_seed(0))  # type: ignore[union-attr]
        model.wide.weight[0].zero_()  # type: ignore[union-attr]
    sequences, _ = _sequences(30, 2)
    lengths = torch.tensor([len(s) for s in sequences])
    ids = torch.zeros((len(sequences), int(lengths.max())), dtype=torch.int64)
    for i, s in enumerate(sequences):
        ids[i, : len(s)] = torch.tensor(s)
    expected = model.wide_logits(ids, lengths).double()
    table = model.wide.weight.detach().double()  # type: ignore[union-attr]
    got = torch.sparse.mm(wide_features(sequences, 60, 16), table)
    assert torch.allclose(got, expected, atol=1e-6)


def test_choose_wide_keeps_the_best_validation_accuracy():
    sequences, labels = _sequences(600, 3)
    fitted = choose_wide(sequences[:500], labels[:500], sequences[500:], labels[500:], 60, 1,
                         l2_grid=(1e-1, 1e-3), bigram_rows=(0, 16))
    assert len(fitted.scores) == 4 and fitted.val_accuracy == max(fitted.scores.values())
    assert fitted.scores[WideFit.score_key(fitted.l2, fitted.bigrams, fitted.idf)] == round(fitted.val_accuracy, 4)
    assert fitted.table.shape == (60 + fitted.bigrams, 1)


def test_idf_of_counts_texts_not_tokens():
    """scikit-learn's smoothed idf, ln((1 + N) / (1 + df)) + 1, df counting a text once however
    often it repeats the word."""
    features = wide_features([[1, 2], [2, 2, 3], [3]], 5)
    df = torch.tensor([0.0, 1.0, 2.0, 2.0, 0.0], dtype=torch.float64)
    assert torch.allclose(idf_of(features), torch.log(4.0 / (1.0 + df)) + 1.0)


def test_idf_fit_is_folded_into_the_graph_table():
    """The weights are fitted on idf-scaled features and the table carries weights times idf: the
    graph's features times the table give the fitted model's logits, and each column's penalty is
    its idf-scaled weight's (the plain fit's table differs)."""
    sequences, labels = _sequences(600, 3)
    train, val = sequences[:500], sequences[500:]
    fitted = choose_wide(train, labels[:500], val, labels[500:], 60, 1, l2_grid=(1e-3,), bigram_rows=(16,))
    assert fitted.idf is True
    x_train, x_val = (wide_features(part, 60, 16).to_dense() for part in (train, val))
    idf = idf_of(wide_features(train, 60, 16))
    weights, bias = fit_wide((x_train * idf).to_sparse(), torch.from_numpy(labels[:500]), 1, 1e-3)
    expected = ((x_val * idf) @ weights + bias).numpy()
    assert np.allclose(fitted.logits(val, 60), expected, atol=1e-8)
    plain = choose_wide(train, labels[:500], val, labels[500:], 60, 1, l2_grid=(1e-3,), bigram_rows=(16,),
                        idf_options=(False,))
    assert plain.idf is False and not torch.allclose(plain.table, fitted.table, atol=1e-3)


def test_l2_normed_fit_uses_tfidf_rows():
    """``norm="l2"`` (the fourteenth round): without repeated words each text's features are
    scikit-learn's TF-IDF rows (smoothed idf, L2 norm), the fit is fitted and scored on exactly
    those, and its logits are the rows times the fitted weights."""
    text_module = pytest.importorskip("sklearn.feature_extraction.text")
    rng = np.random.default_rng(4)
    sequences = [list(rng.choice(np.arange(2, 60), rng.integers(1, 12), replace=False)) for _ in range(600)]
    labels = np.array([int(sum(t < 20 for t in s) * 2 > len(s)) for s in sequences])
    train, val = sequences[:500], sequences[500:]
    fitted = choose_wide(train, labels[:500], val, labels[500:], 60, 1, l2_grid=(1e-3,), bigram_rows=(0,),
                         norm="l2")
    assert fitted.norm == "l2" and fitted.idf_values is not None
    transformer = text_module.TfidfTransformer(norm="l2", smooth_idf=True)
    counts = wide_features(train, 60).to_dense().numpy() * np.array([len(s) for s in train])[:, None]
    transformer.fit(counts)
    val_counts = wide_features(val, 60).to_dense().numpy() * np.array([len(s) for s in val])[:, None]
    rows = transformer.transform(val_counts).toarray()  # (N, 60) unit rows
    weights, bias = fit_wide(torch.from_numpy(transformer.transform(counts).toarray()).to_sparse(),
                             torch.from_numpy(labels[:500]), 1, 1e-3)
    expected = rows @ weights.numpy() + bias.numpy()
    assert np.allclose(fitted.logits(val, 60), expected, atol=1e-8)
    assert fitted.val_accuracy == np.mean((expected[:, 0] > 0) == labels[500:])
    with pytest.raises(ValueError, match="norm"):
        choose_wide(train, labels[:500], val, labels[500:], 60, 1, idf_options=(False,), norm="l2")


def _separable_dataset() -> Dataset:
    """Each text holds a word that tells its label: the linear model alone is right on every
    validation text, so no LSTM epoch can beat it."""
    rng = np.random.default_rng(0)
    data = LabeledTexts()
    filler = [f"f{i}" for i in range(40)]
    for i in range(400):
        label = "pos" if i % 2 else "neg"
        text = list(rng.choice(filler, 5)) + ["good" if label == "pos" else "bad"]
        rng.shuffle(text)
        data.add(" ".join(text), label)
    return Dataset(data)


def test_epoch_0_is_kept_when_the_lstm_does_not_beat_it(tmp_path):
    config = ModelConfig(arch="bilstm", vocab_size=100, max_len=10, embed_dim=8, hidden=8, wide=True)
    options = TrainOptions(epochs=3, patience=1, seed=0, wide_fit=True, lr_schedule="cosine",
                           recipe={"preset": "default", "data": {}, "chosen": {}, "why": {}})
    model, history = train(_separable_dataset(), config, options, tmp_path / "m.pt", show_progress=False)
    assert history[0]["epoch"] == 0 and history[0]["val_accuracy"] == 1.0
    metrics = model.config.metrics
    assert metrics["best_epoch"] == 0 and metrics["recipe"]["chosen"]["wide_epoch_0"] is True
    # the kept weights are the linear model alone: the deep part's contribution is exactly 0
    assert float(model.head[-1].weight.detach().abs().max()) == 0.0
    assert "wide_l2" in metrics["recipe"]["chosen"] and metrics["recipe"]["wide_scores"]
    # the LSTM did train in stage 2, did not win, and early stopping counted from epoch 0
    assert [h["epoch"] for h in history] == [0, 1]


def test_without_wide_fit_the_term_trains_jointly(tmp_path):
    config = ModelConfig(arch="lstm", vocab_size=100, max_len=10, embed_dim=8, hidden=8, dense=0, wide=True)
    model, history = train(_separable_dataset(), config, TrainOptions(epochs=1, seed=0), tmp_path / "m.pt",
                           show_progress=False)
    assert [h["epoch"] for h in history] == [1] and "recipe" not in model.config.metrics


def test_fitted_wide_term_on_real_data_is_recorded_and_reproduced(tmp_path):
    """``--wide-fit`` on a small real set: the fit's choice in the metadata, two runs alike."""
    data = needs_text_set("mpqa")
    files = []
    for run in ("a", "b"):
        checkpoint = tmp_path / f"{run}.pt"
        result = run_cli("train", data, "-o", checkpoint, "--limit", "1500", "--epochs", "1", "--hidden", "8",
                         "--embed-dim", "8", "--wide-fit", "--no-progress")
        assert result.returncode == 0, result.stderr
        assert "wide term fitted alone" in result.stderr and "epoch 0 (the fitted wide term alone)" in result.stderr
        files.append(checkpoint)
    first, second = (Classifier.load(f).config for f in files)
    assert first.to_dict() == second.to_dict()
    saved = [torch.load(f, weights_only=False) for f in files]
    weights = [state["state_dict"] for state in saved]
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])
    recipe = first.metrics["recipe"]
    assert recipe["chosen"]["wide_l2"] in IDF_L2_GRID and recipe["chosen"]["wide_idf"] is True
    assert recipe["chosen"]["wide_bigrams"] == first.wide_bigrams
    assert isinstance(recipe["chosen"]["wide_epoch_0"], bool) and set(recipe["why"]) == set(recipe["chosen"])
    epoch_0 = saved[0]["history"][0]
    assert epoch_0["epoch"] == 0 and first.metrics["val_accuracy"] >= epoch_0["val_accuracy"]
    # short texts: a student of teachers, whose training targets are probabilities; epoch 0 scores
    # its training texts against their most probable label
    assert first.metrics["ensemble_teachers"] > 0 and 0.5 < epoch_0["train_accuracy"] <= 1
    shown = run_cli("info", files[0])
    assert "recipe: wide_l2" in shown.stdout and "recipe: wide_epoch_0" in shown.stdout


def test_wide_fit_asks_for_the_wide_term(tmp_path):
    """``--wide-fit`` turns the wide term on where the data (long texts) or the preset would
    not, and is refused with ``--no-wide`` before any work, never silently ignored."""
    from edgelstm.train.run import train_files

    data = write_long_texts(tmp_path / "long.txt")  # no wide term for these
    with pytest.raises(ValueError, match="not with wide off"):
        train_files(data, tmp_path / "m.pt", settings={"wide": False, "wide_fit": True})
    assert not (tmp_path / "m.pt").exists()
    settings = {"epochs": 1, "hidden": 4, "embed_dim": 4, "dense": 0, "vocab_size": 50, "arch": "lstm",
                "wide_fit": True}
    model = train_files(data, tmp_path / "m.pt", settings=settings, show_progress=False)
    assert model.config.wide and model.wide is not None
    assert "wide" in model.config.metrics["recipe"]["overridden"]
