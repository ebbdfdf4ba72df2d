"""The blend of the trained model with the fitted linear model (train/blend.py, the default
recipe's ``blend``): folded into the same weights it gives exactly ``(1 - a) * model + a * linear``;
``a`` = 0 leaves the model as trained; the choice is recorded, reproduced, and exported."""

from __future__ import annotations

import re

import numpy as np
import pytest

from edgelstm import Classifier
from tests.helpers import needs_text_set, run_cli, write_long_texts

torch = pytest.importorskip("torch")

from edgelstm.config import ModelConfig  # noqa: E402
from edgelstm.train import TextClassifier  # noqa: E402
from edgelstm.train.blend import BLEND_GRID, choose_a, fold  # noqa: E402
from edgelstm.train.linear import IDF_L2_GRID, choose_wide, wide_features  # noqa: E402
from edgelstm.train.trainer import forward_padded  # noqa: E402


def _data(n: int, seed: int, outputs: int, vocab: int = 60) -> tuple[list[list[int]], np.ndarray]:
    rng = np.random.default_rng(seed)
    sequences = [list(rng.integers(2, vocab, rng.integers(1, 12))) for _ in range(n)]
    score = np.array([sum(1 if 2 <= t < 6 else -1 if 6 <= t < 10 else 0 for t in s) for s in sequences])
    labels = ((score + rng.normal(0, 1, n)) > 0).astype(np.int64)
    if outputs > 1:
        labels = labels + (np.array([len(s) for s in sequences]) > 6)  # 0, 1, 2
    return sequences, labels


def _model(arch: str, outputs: int, bigrams: int) -> TextClassifier:
    labels = ["a", "b", "c"][: max(outputs, 2)]
    config = ModelConfig(arch=arch, vocab_size=60, max_len=12, embed_dim=4, hidden=4, dense=0 if arch == "lstm" else 8,
                         wide=True, wide_bigrams=bigrams, labels=labels)
    torch.manual_seed(0)
    model = TextClassifier(config)
    with torch.no_grad():  # a joint table as training leaves it: not zero
        model.wide.weight.normal_(generator=torch.Generator().manual_seed(1))  # type: ignore[union-attr]
        model.wide.weight[0].zero_()  # type: ignore[union-attr]
    return model.eval()


def _logits(model: TextClassifier, sequences: list[list[int]]) -> torch.Tensor:
    lengths = torch.tensor([len(s) for s in sequences])
    ids = torch.zeros((len(sequences), int(lengths.max())), dtype=torch.int64)
    for i, s in enumerate(sequences):
        ids[i, : len(s)] = torch.tensor(s)
    with torch.no_grad():
        return forward_padded(model, ids, lengths).double()


@pytest.mark.parametrize(("arch", "outputs"), [("lstm", 1), ("bilstm", 3)])
@pytest.mark.parametrize(("model_bigrams", "fit_bigrams"), [(0, 0), (0, 16), (16, 16)])
def test_the_folded_model_gives_the_blend(arch, outputs, model_bigrams, fit_bigrams):
    """Folded logits = (1 - a) * the model's + a * the linear model's, within 1e-6 (float32
    weights); a fit with bigram rows the model lacked adds them and says so in the config."""
    sequences, labels = _data(300, 0, outputs)
    fitted = choose_wide(sequences[:200], labels[:200], sequences[200:], labels[200:], 60, outputs,
                         l2_grid=(1e-3,), bigram_rows=(fit_bigrams,))
    model = _model(arch, outputs, model_bigrams)
    deep = _logits(model, sequences)
    linear = torch.sparse.mm(wide_features(sequences, 60, fit_bigrams), fitted.table) + fitted.bias
    fold(model, fitted, 0.3)
    assert model.config.wide_bigrams == fit_bigrams
    assert model.wide.weight.shape == (60 + fit_bigrams, outputs)  # type: ignore[union-attr]
    got = _logits(model, sequences)
    assert float((got - (0.7 * deep + 0.3 * linear)).abs().max()) < 1e-6
    fold(model, fitted, 1.0)  # a = 1: the linear model alone
    assert float((_logits(model, sequences) - linear).abs().max()) < 1e-6


@pytest.mark.parametrize("fit_bigrams", [0, 16])
def test_a_model_without_a_wide_term_gets_one_from_the_fold(fit_bigrams):
    """Long texts (a BiLSTM, no wide term trained): the fold adds the term, the joint part zero,
    and the logits are the blend's, within 1e-6; a = 0 adds nothing."""
    sequences, labels = _data(300, 2, 1)
    fitted = choose_wide(sequences[:200], labels[:200], sequences[200:], labels[200:], 60, 1,
                         l2_grid=(1e-3,), bigram_rows=(fit_bigrams,))
    config = ModelConfig(arch="bilstm", vocab_size=60, max_len=12, embed_dim=4, hidden=4, dense=8, labels=["a", "b"])
    torch.manual_seed(0)
    model = TextClassifier(config).eval()
    assert model.wide is None
    fold(model, fitted, 0.0)
    assert model.wide is None and model.config == config
    deep = _logits(model, sequences)
    linear = torch.sparse.mm(wide_features(sequences, 60, fit_bigrams), fitted.table) + fitted.bias
    fold(model, fitted, 0.4)
    assert model.config.wide and model.config.wide_bigrams == fit_bigrams
    assert model.wide is not None and model.wide.weight.shape == (60 + fit_bigrams, 1)
    assert float((_logits(model, sequences) - (0.6 * deep + 0.4 * linear)).abs().max()) < 1e-6
    reloaded = TextClassifier(model.config)  # what a checkpoint of it loads into
    reloaded.load_state_dict(model.state_dict())
    assert float((_logits(reloaded.eval(), sequences) - _logits(model, sequences)).abs().max()) == 0.0


def test_a_of_0_is_the_model_bit_for_bit():
    """a = 0 changes no weight and no setting, even where the fit chose bigram rows."""
    sequences, labels = _data(300, 1, 1)
    fitted = choose_wide(sequences[:200], labels[:200], sequences[200:], labels[200:], 60, 1,
                         l2_grid=(1e-3,), bigram_rows=(16,))
    model = _model("lstm", 1, 0)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    config = model.config.to_dict()
    fold(model, fitted, 0.0)
    after = model.state_dict()
    assert set(after) == set(before) and all(torch.equal(after[name], before[name]) for name in before)
    assert model.config.to_dict() == config


def test_an_l2_normed_fit_does_not_fold():
    """The graph's term divides by the token count: a fit with linear.py's ``norm="l2"`` (measured,
    never built) is refused, not folded into weights that would compute something else."""
    sequences, labels = _data(300, 1, 1)
    fitted = choose_wide(sequences[:200], labels[:200], sequences[200:], labels[200:], 60, 1,
                         l2_grid=(1e-3,), bigram_rows=(0,), norm="l2")
    with pytest.raises(ValueError, match="norm 'l2'"):
        fold(_model("lstm", 1, 0), fitted, 0.5)


def test_choose_a_takes_the_lowest_log_loss_and_the_smaller_a_on_ties():
    targets = np.array([0, 1, 1, 0])
    right = np.array([[-2.0], [2.0], [2.0], [-2.0]])
    assert choose_a(right, right, targets)[0] == 0.0  # every a the same: the model as trained
    assert choose_a(-right, right, targets)[0] == 1.0  # the model wrong, the linear model right
    a, losses = choose_a(np.zeros((4, 1)), right, targets)
    assert a == 1.0 and list(losses) == [f"{x:.1f}" for x in BLEND_GRID]
    assert losses["1.0"] < losses["0.5"] < losses["0.0"]


def _train(data, checkpoint, *flags):
    result = run_cli("train", data, "-o", checkpoint, "--limit", "1500", "--epochs", "1", "--hidden", "8",
                     "--embed-dim", "8", "--no-progress", *flags)
    assert result.returncode == 0, result.stderr
    return result


def test_the_default_recipe_blends_records_and_reproduces_it(tmp_path):
    """On a small real set: the blend is chosen, recorded in the recipe, the same in two runs
    (byte-identical ONNX), exported with parity checked, and ``--no-blend`` is the same training
    without the fold."""
    pytest.importorskip("onnx")
    data = needs_text_set("mpqa")
    exported = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        result = _train(data, tmp_path / run / "model.pt")
        assert "blended with the linear model fitted alone: a" in result.stderr
        result = run_cli("export", tmp_path / run / "model.pt", "-o", tmp_path / run)  # validates parity
        assert result.returncode == 0, result.stderr
        exported.append((tmp_path / run / "model.onnx").read_bytes())
    assert exported[0] == exported[1]
    config = Classifier.load(tmp_path / "a" / "model.onnx").config
    recipe = config.metrics["recipe"]
    a = recipe["chosen"]["blend_a"]
    assert a in BLEND_GRID and a > 0  # MPQA's phrases: the linear model helps (it did on validation)
    assert recipe["chosen"]["blend_l2"] in IDF_L2_GRID and recipe["chosen"]["blend_idf"] is True
    assert recipe["chosen"]["blend_bigrams"] == config.wide_bigrams
    assert min(recipe["blend_losses"].values()) == recipe["blend_losses"][f"{a:.1f}"]
    assert set(recipe["why"]) == set(recipe["chosen"])
    shown = run_cli("info", tmp_path / "a" / "model.onnx")
    assert "recipe: blend_a" in shown.stdout
    _train(data, tmp_path / "plain.pt", "--no-blend")
    plain = torch.load(tmp_path / "plain.pt", weights_only=False)
    blended = torch.load(tmp_path / "a" / "model.pt", weights_only=False)
    assert "blend_a" not in plain["config"]["metrics"]["recipe"]["chosen"]
    # the same training, then the fold: the deep part's last layer scaled by exactly 1 - a
    name = [key for key in plain["state_dict"] if key.startswith("head") and key.endswith("weight")][-1]
    assert torch.equal(blended["state_dict"][name], plain["state_dict"][name] * (1 - a))


def test_long_texts_get_no_wide_term_and_no_blend_for_an_lstm(tmp_path, caplog):
    """IMDB-like long texts and an LSTM: the recipe has no wide term and adds none (the LSTM keeps
    its state inputs), so nothing is blended, and a refit asked for is skipped with a warning."""
    from edgelstm.train.run import train_files

    data = write_long_texts(tmp_path / "long.txt")  # no wide term for these
    settings = {"epochs": 1, "hidden": 4, "embed_dim": 4, "dense": 0, "vocab_size": 50, "arch": "lstm", "refit": True}
    with caplog.at_level("WARNING", logger="edgelstm"):
        model = train_files(data, tmp_path / "m.pt", settings=settings, show_progress=False)
    assert model.wide is None and "blend_a" not in model.config.metrics["recipe"]["chosen"]
    assert "refit" not in model.config.metrics["recipe"]["chosen"]
    assert "refit skipped: it needs the blend" in caplog.text
    assert model.config.metrics["recipe"]["chosen"]["blend_without_wide"] is False


def test_long_texts_blend_a_bilstm_all_the_same(tmp_path, caplog):
    """IMDB's long reviews and a BiLSTM: no wide term is trained, but the blend is chosen and
    recorded as on short texts; a small, briefly trained model leans on the linear model (a > 0),
    so it carries the term the fold added, and it exports with parity checked."""
    pytest.importorskip("onnx")
    from edgelstm.train.run import train_files
    from tests.helpers import IMDB, needs_imdb

    needs_imdb()
    settings = {"epochs": 1, "hidden": 4, "embed_dim": 4, "dense": 8, "arch": "bilstm", "limit": 1500}
    with caplog.at_level("INFO", logger="edgelstm"):
        model = train_files(IMDB, tmp_path / "m.pt", settings=settings, show_progress=False)
    recipe = model.config.metrics["recipe"]
    assert recipe["chosen"]["wide"] is False and recipe["chosen"]["blend_without_wide"] is True
    assert "blended with the linear model fitted alone" in caplog.text
    assert recipe["chosen"]["blend_a"] > 0 and model.wide is not None and model.config.wide
    result = run_cli("export", tmp_path / "m.pt", "-o", tmp_path / "out")  # validates parity
    assert result.returncode == 0, result.stderr


def test_refit_trains_again_on_all_training_texts_with_validations_choices(tmp_path):
    """On a small real set: with ``--refit``, after validation has chosen, the recipe trains
    again on the training texts plus the validation split, for exactly the kept epoch count, with
    the same blend; the choices and validation scores are the choosing run's (the default, which
    stops there), the weights and the test score the refit's, and two refits give the same weights
    and metadata; with ``--no-blend`` the refit is skipped with a warning."""
    data = needs_text_set("mpqa")
    test = data.with_name("mpqa.test.jsonl")
    result = _train(data, tmp_path / "refit.pt", "--epochs", "2", "--test", test, "--refit")
    split_result = _train(data, tmp_path / "split.pt", "--epochs", "2", "--test", test)
    _train(data, tmp_path / "again.pt", "--epochs", "2", "--test", test, "--refit")
    first, second = (torch.load(tmp_path / name, weights_only=False) for name in ("refit.pt", "again.pt"))
    assert first["config"] == second["config"]  # the metrics hold no wall time
    assert all(torch.equal(first["state_dict"][key], second["state_dict"][key]) for key in first["state_dict"])
    refit = torch.load(tmp_path / "refit.pt", weights_only=False)["config"]["metrics"]
    split = torch.load(tmp_path / "split.pt", weights_only=False)["config"]["metrics"]
    chosen, split_chosen = refit["recipe"]["chosen"], split["recipe"]["chosen"]
    assert chosen.pop("refit") is True and "refit" not in split_chosen
    assert chosen == split_chosen  # the same choices: made before the refit
    assert "all 1500 training texts" in refit["recipe"]["why"]["refit"]
    for key in ("best_epoch", "epochs_run", "val_accuracy", "val_macro_f1"):
        assert refit[key] == split[key], key
    assert refit["train_examples"] == 1500 and refit["split_train_examples"] == split["train_examples"] < 1500
    epochs = refit["best_epoch"]
    assert f"refit: the recipe again on training + validation texts, {epochs} epochs" in result.stderr
    assert "refit:" not in split_result.stderr
    # the test text shared with training is reported once, by the run that chose, not again by the refit
    assert result.stderr.count("test texts") == split_result.stderr.count("test texts") == 1
    # the default recipe's student on short texts: its teachers' epochs come first
    teachers = refit["ensemble_teachers"]
    student_log = result.stderr.split(f"ensemble teacher {teachers} of {teachers}")[-1]
    assert len(re.findall(r"epoch \d+: loss", student_log)) == split["epochs_run"] + epochs
    weights = torch.load(tmp_path / "refit.pt", weights_only=False)["state_dict"]
    split_weights = torch.load(tmp_path / "split.pt", weights_only=False)["state_dict"]
    assert not torch.equal(weights["embedding.weight"], split_weights["embedding.weight"])
    assert refit["test_loss"] != split["test_loss"]  # scored: the refit model, not the one that chose
    plain = _train(data, tmp_path / "plain.pt", "--epochs", "2", "--no-blend", "--refit")
    assert "refit:" not in plain.stderr and "refit skipped: it needs the blend" in plain.stderr
