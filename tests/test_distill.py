"""Learning from unlabeled texts labeled by teachers (train --unlabeled, --teacher) and keeping
the last epoch (--keep last)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edgelstm import Classifier
from edgelstm.config import ModelConfig
from edgelstm.data import LabeledTexts
from edgelstm.errors import EXIT_INPUT, EXIT_USAGE, DataError
from edgelstm.train import TextClassifier, TrainOptions, load_checkpoint, train
from edgelstm.train.trainer import Encoded, _tensors
from tests.helpers import IMDB
from tests.test_train import NEGATIVE, POSITIVE, small_config, toy_dataset
from tests.test_train_vectors import URLS, run_cli, unlabeled_reviews  # noqa: F401 (a fixture)


def _sklearn():
    return pytest.importorskip("sklearn", reason="the ngram teacher needs scikit-learn (distill extra)")


def test_soft_targets_of_labeled_texts_give_the_same_loss_as_their_labels():
    torch.manual_seed(0)
    for outputs, labels in ((1, ["neg", "pos"]), (3, ["a", "b", "c"])):
        model = TextClassifier(ModelConfig(arch="lstm", vocab_size=20, embed_dim=4, hidden=4, dense=0,
                                           labels=labels, vocabulary=[str(i) for i in range(18)]))
        assert model.config.num_outputs == outputs
        logits = torch.randn(6, outputs)
        ids = torch.tensor([0, 1, 1, 0, len(labels) - 1, 0])
        one_hot = torch.eye(len(labels))[ids]  # (B, L)
        torch.testing.assert_close(model.loss(logits, one_hot), model.loss(logits, ids))
        teacher = torch.full((6, len(labels)), 1 / len(labels))
        assert model.loss(logits, teacher) != model.loss(logits, ids)


def test_teacher_labeled_texts_join_training_with_their_probabilities():
    labeled = Encoded([[5, 6], [7]], np.array([1, 0]))
    both = labeled.with_teacher_labeled([[8, 9, 10]], np.array([[0.3, 0.7]], np.float32))
    assert both.sequences == [[5, 6], [7], [8, 9, 10]] and both.teacher_labeled == 1
    np.testing.assert_array_equal(both.targets, [1, 0, 1])
    np.testing.assert_array_equal(both.soft_targets, np.array([[0, 1], [1, 0], [0.3, 0.7]], np.float32))
    more = both.with_teacher_labeled([[11]], np.array([[0.9, 0.1]], np.float32))  # keeps the earlier ones
    np.testing.assert_array_equal(more.soft_targets[2:], np.array([[0.3, 0.7], [0.9, 0.1]], np.float32))
    assert more.teacher_labeled == 2 and list(more.targets) == [1, 0, 1, 0]
    _, _, targets = _tensors(both, np.array([2, 0]), "cpu")
    torch.testing.assert_close(targets, torch.tensor([[0.3, 0.7], [0.0, 1.0]]))


def test_ngram_teacher_is_fitted_on_training_texts_only_and_gives_label_ordered_columns():
    _sklearn()
    from edgelstm.train.distill import teacher_probabilities

    train_part = toy_dataset(300).train
    texts = [" ".join(POSITIVE[:4]), " ".join(NEGATIVE[:4])]
    probabilities = teacher_probabilities(["ngram"], train_part, ["neg", "pos"], texts)
    assert probabilities.shape == (2, 2) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-6)
    assert probabilities[0, 1] > 0.8 and probabilities[1, 0] > 0.8  # pos text -> "pos" column
    swapped = teacher_probabilities(["ngram"], train_part, ["pos", "neg"], texts)
    np.testing.assert_allclose(swapped, probabilities[:, ::-1], atol=1e-6)


def test_model_teachers_are_checked(tmp_path):
    from edgelstm.train.distill import teacher_probabilities

    with pytest.raises(DataError, match="no such teacher"):
        teacher_probabilities([str(tmp_path / "missing.pt")], LabeledTexts(), ["neg", "pos"], ["a"])
    model, _ = train(toy_dataset(), small_config(), TrainOptions(epochs=1, batch_size=16), tmp_path / "t.pt",
                     show_progress=False)
    with pytest.raises(DataError, match="the teacher's labels"):
        teacher_probabilities([str(tmp_path / "t.pt")], LabeledTexts(), ["bad", "good"], ["a"])
    texts = ["great film", "awful plot"]
    averaged = teacher_probabilities([str(tmp_path / "t.pt")] * 2, LabeledTexts(), model.config.labels, texts)
    np.testing.assert_allclose(averaged, Classifier.load(tmp_path / "t.pt").predict_proba(texts), atol=1e-6)


def test_unlabeled_texts_train_with_a_teacher_and_leave_out_labeled_ones(tmp_path, caplog):
    _sklearn()
    dataset = toy_dataset(300)
    validation = toy_dataset(60, seed=9).train
    fresh = toy_dataset(200, seed=4).train.texts
    leaking = validation.texts[:5] + dataset.test.texts[:5] + dataset.train.texts[:5]
    options = TrainOptions(epochs=3, batch_size=16, keep="last", patience=1)
    with caplog.at_level("INFO"):
        model, history = train(dataset, small_config("bilstm"), options, tmp_path / "m.pt", show_progress=False,
                               validation=validation, unlabeled=fresh + leaking)
    assert "15 unlabeled texts are also labeled texts; left out" in caplog.text
    metrics = model.config.metrics
    assert metrics["teacher_labeled_examples"] == len(set(fresh) - set(leaking))
    assert metrics["train_examples"] == len(dataset.train) + metrics["teacher_labeled_examples"]
    assert metrics["teachers"] == ["ngram"]
    assert len(history) == 3 and metrics["best_epoch"] == 3  # keep="last": no early stop, last epoch kept
    assert metrics["val_accuracy"] == history[-1]["val_accuracy"]


def test_keep_must_be_a_known_choice(tmp_path):
    with pytest.raises(ValueError, match="keep must be one of"):
        train(toy_dataset(), small_config(), TrainOptions(epochs=1, keep="worst"), tmp_path / "m.pt",
              show_progress=False)


# --- end to end on real reviews --------------------------------------------------------------

def test_teacher_needs_unlabeled_texts_and_is_never_overwritten(tmp_path):
    result = run_cli("train", IMDB, "-o", tmp_path / "m.pt", "--teacher", "ngram")
    assert result.returncode == EXIT_USAGE and "give those too" in result.stderr
    teacher = tmp_path / "t.pt"
    train(toy_dataset(), small_config(), TrainOptions(epochs=1, batch_size=16), teacher, show_progress=False)
    before = teacher.read_bytes()
    result = run_cli("train", IMDB, "-o", teacher, "--unlabeled", IMDB, "--teacher", teacher)
    assert result.returncode == EXIT_INPUT and "refusing to overwrite" in result.stderr
    assert teacher.read_bytes() == before


def test_distillation_on_real_reviews_end_to_end(unlabeled_reviews, tmp_path):  # noqa: F811
    """Stage 1 (no unlabeled texts) teaches stage 2 with the n-gram teacher; the student exports
    with parity like every model."""
    _sklearn()
    common = ["--val-groups", URLS, "--limit", 1200, "--hidden", 8, "--embed-dim", 16, "--max-len", 100,
              "--no-progress"]
    stage1 = run_cli("train", IMDB, "-o", tmp_path / "teacher.pt", "--epochs", 1, *common)
    assert stage1.returncode == 0, stage1.stderr
    student = tmp_path / "student.pt"
    result = run_cli("train", IMDB, "-o", student, "--epochs", 2, "--keep", "last", "--unlabeled", unlabeled_reviews,
                     "--teacher", "ngram", "--teacher", tmp_path / "teacher.pt", *common)
    assert result.returncode == 0, result.stderr
    assert "teacher ngram labeled 600 texts" in result.stderr
    metrics = load_checkpoint(student)["config"]["metrics"]
    assert metrics["teacher_labeled_examples"] == 600 and metrics["teachers"] == ["ngram", "teacher.pt"]
    assert metrics["best_epoch"] == 2 and 0.5 < metrics["test_accuracy"] <= 1

    result = run_cli("export", student, "-o", tmp_path / "out", "--int8", "--data", IMDB)  # checks parity itself
    assert result.returncode == 0, result.stderr
    info = run_cli("info", tmp_path / "out" / "model.int8.onnx")
    assert info.returncode == 0 and "ngram, teacher.pt" in info.stdout, info.stderr
    reviews = unlabeled_reviews.read_text().splitlines()[:64]
    onnx = Classifier.load(tmp_path / "out" / "model.onnx").predict_proba(reviews)
    np.testing.assert_allclose(onnx, Classifier.load(student).predict_proba(reviews), atol=1e-5)
