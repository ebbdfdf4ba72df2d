"""The default recipe adapts to the data (train/presets.py: adapt), and the validation split does
not leak: similar texts stay on one side (train/groups.py), test texts shared with training are
reported; class weights and the cross-fitted n-gram teacher."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from edgelstm import Classifier
from edgelstm.data import Dataset, LabeledTexts
from edgelstm.tokenizer import words
from tests.helpers import needs_text_set, run_cli

torch = pytest.importorskip("torch")

from edgelstm.train import TrainOptions  # noqa: E402
from edgelstm.train.groups import similar_text_groups  # noqa: E402
from edgelstm.train.presets import (  # noqa: E402
    PRESETS,
    SHORT_TEXT_ENSEMBLE_TEACHERS,
    SMALL_DATA_BATCH,
    SMALL_DATA_MIN_COUNT,
    SMALL_DATA_TOKENS,
    adapt,
)
from edgelstm.train.trainer import Encoded, _class_weights, _prepare, _weighted_loss  # noqa: E402


def _same_group(groups, i, j):
    return groups[i] == groups[j]


def test_similar_texts_share_a_group():
    texts = [
        "The battery lasts all day, great!",  # 0
        "the battery lasts all day great",  # 1: same words
        "battery lasts all day",  # 2: 4 words inside 0
        "not bad",  # 3: too short to count as contained
        "this phone is not bad at all",  # 4
        "Call 0800 now to claim your prize",  # 5
        "URGENT call 0800 now to claim your prize today",  # 6: holds 5
        "a completely different sentence here",  # 7
    ]
    groups = similar_text_groups(texts)
    assert _same_group(groups, 0, 1) and _same_group(groups, 0, 2)
    assert not _same_group(groups, 3, 4)
    assert _same_group(groups, 5, 6)
    assert len({groups[i] for i in (0, 3, 4, 5, 7)}) == 5


def _phrases_dataset():
    """Sentences and phrases cut from them, each phrase after its sentence: a random split puts
    many phrases in validation whose sentence is in training."""
    rng = np.random.default_rng(0)
    vocabulary = [f"w{i}" for i in range(300)]
    data = LabeledTexts()
    for i in range(150):
        sentence = list(rng.choice(vocabulary, 14))
        label = "pos" if i % 2 else "neg"
        data.add(" ".join(sentence), label)
        for start in (0, 3, 6):
            data.add(" ".join(sentence[start : start + 5]), label)
    return Dataset(data)


def _leaks(val_texts, train_texts):
    train_words = [" ".join(words(t)) for t in train_texts]
    return sum(any(" ".join(words(v)) in t for t in train_words) for v in val_texts)


def test_validation_split_keeps_phrases_with_their_sentences():
    from edgelstm.config import ModelConfig

    dataset = _phrases_dataset()
    config = ModelConfig(arch="lstm", vocab_size=400, max_len=20, embed_dim=4, hidden=4, dense=0)
    _, encoded, val_part = _prepare(dataset, config, TrainOptions(val_split=0.2), None, None)
    train_texts = [t for t in dataset.train.texts if t not in set(val_part.texts)]
    assert len(val_part) >= 0.2 * len(dataset.train) and _leaks(val_part.texts, train_texts) == 0
    _, _, leaky = _prepare(dataset, config, TrainOptions(val_split=0.2, group_similar=False), None, None)
    assert _leaks(leaky.texts, [t for t in dataset.train.texts if t not in set(leaky.texts)]) > 20


def test_test_texts_shared_with_training_are_reported(caplog):
    from edgelstm.config import ModelConfig

    dataset = _phrases_dataset()
    dataset.test = LabeledTexts(dataset.train.texts[:10] + ["w1 w2 w3 unseen", "w9 w8"],
                                dataset.train.labels[:10] + ["pos", "neg"])
    config = ModelConfig(arch="lstm", vocab_size=400, max_len=20, embed_dim=4, hidden=4, dense=0)
    with caplog.at_level(logging.WARNING, logger="edgelstm"):
        _prepare(dataset, config, TrainOptions(), None, None)
    assert "10 of 12 test texts (83.3%) are also training or validation texts" in caplog.text
    caplog.clear()
    dataset.test = LabeledTexts(["w1 w2 w3 unseen"], ["pos"])
    with caplog.at_level(logging.WARNING, logger="edgelstm"):
        _prepare(dataset, config, TrainOptions(), None, None)
    assert "test texts" not in caplog.text


def test_balanced_class_weights():
    data = Encoded([[1]] * 8, np.array([0, 0, 0, 0, 0, 0, 1, 1]))
    np.testing.assert_allclose(_class_weights(data, 2, "balanced").numpy(), [8 / 12, 8 / 4])
    assert _class_weights(data, 2, "none") is None

    from edgelstm.config import ModelConfig
    from edgelstm.train import TextClassifier

    torch.manual_seed(0)
    model = TextClassifier(ModelConfig(arch="lstm", vocab_size=20, embed_dim=4, hidden=4, dense=0,
                                       labels=["a", "b", "c"], vocabulary=[str(i) for i in range(18)]))
    logits, targets = torch.randn(5, 3), torch.tensor([0, 1, 2, 2, 0])
    weights = torch.tensor([1.0, 2.0, 0.5])
    expected = torch.nn.functional.cross_entropy(logits, targets, weight=weights)  # torch's own weighting
    torch.testing.assert_close(_weighted_loss(model, logits, targets, weights), expected)
    one_hot = torch.eye(3)[targets]  # probability targets weigh the same as their labels
    torch.testing.assert_close(_weighted_loss(model, logits, one_hot, weights), expected)
    torch.testing.assert_close(_weighted_loss(model, logits, targets, None), model.loss(logits, targets))


def test_crossfit_teacher_never_labels_a_text_it_was_fitted_on(monkeypatch):
    pytest.importorskip("sklearn")
    from edgelstm.train import distill

    # each text has one word of its own, labels at random: a teacher that saw a text answers its
    # label back; one that did not can only guess
    monkeypatch.setattr(distill.NgramOptions, "min_df", 1)
    rng = np.random.default_rng(0)
    labels = list(rng.choice(["neg", "pos"], 200))
    texts = [f"the word{i}" for i in range(200)]
    train = LabeledTexts(texts, labels)
    seen = distill.teacher_probabilities(["ngram"], train, ["neg", "pos"], texts)
    assert (seen.argmax(axis=1) == (np.array(labels) == "pos")).mean() == 1.0
    crossfit = distill.crossfit_probabilities(train, ["neg", "pos"])
    assert crossfit.shape == (200, 2)
    np.testing.assert_allclose(crossfit.sum(axis=1), 1, atol=1e-6)
    # no text's own label leaked into its target: the folds' teachers know only the label shares
    assert (crossfit.argmax(axis=1) == (np.array(labels) == "pos")).mean() < 0.65
    assert len(np.unique(crossfit[:, 1])) <= 5  # one answer per fold


def test_adapt_on_short_texts_and_keeps_long_review_values():
    short = adapt(["a b c"] * 196 + ["a " * 40] * 3 + ["a " * 300], ["x", "y"] * 100)
    # 99% have at most 40 tokens; short texts: the wide term; few texts: small batches
    # few short texts: every word in the vocabulary
    assert short["chosen"] == {"max_len": 40, "wide": True, "batch_size": SMALL_DATA_BATCH,
                               "min_count": SMALL_DATA_MIN_COUNT, "blend_without_wide": False,
                               "ensemble_teachers": SHORT_TEXT_ENSEMBLE_TEACHERS}
    assert short["why"]["max_len"] == "99% of the texts have at most 40 tokens"
    assert short["why"]["wide"].startswith("median 3 tokens: short texts")
    lstm = adapt(["a b c"] * 196 + ["a " * 40] * 3 + ["a " * 300], ["x", "y"] * 100, arch="lstm")
    assert lstm["chosen"] == {"max_len": 40, "wide": True, "batch_size": PRESETS["default"]["batch_size"],
                              "min_count": SMALL_DATA_MIN_COUNT, "blend_without_wide": False,
                              "ensemble_teachers": SHORT_TEXT_ENSEMBLE_TEACHERS}
    # more short texts (SMALL_DATA_TOKENS or more): words seen once are left out again
    many = adapt(["a b c"] * (SMALL_DATA_TOKENS // 3 + 2), ["x", "y"] * (SMALL_DATA_TOKENS // 6 + 1))
    assert many["chosen"]["min_count"] == PRESETS["default"]["min_count"] and many["chosen"]["wide"] is True
    assert short["data"] == {"texts": 200, "labels": 2, "tokens": 196 * 3 + 3 * 40 + 300, "median_tokens": 3,
                             "p99_tokens": 40, "smallest_label_share": 0.5}
    n = 2 * (SMALL_DATA_TOKENS // 1200 + 1)  # reviews of 600 tokens: more tokens than SMALL_DATA_TOKENS
    long = adapt(["word " * 600] * n, ["x", "y"] * (n // 2))
    assert long["chosen"] == {**{name: PRESETS["default"][name]  # one run on long texts: no teachers
                                 for name in ("max_len", "wide", "batch_size", "min_count", "ensemble_teachers")},
                              "blend_without_wide": True}  # a BiLSTM on long texts: blended all the same
    assert long["why"]["max_len"] == "99% of the texts have at most 600 tokens; at most 500"
    long_lstm = adapt(["word " * 600] * n, ["x", "y"] * (n // 2), arch="lstm")
    assert long_lstm["chosen"]["blend_without_wide"] is False  # an LSTM keeps its state inputs


def test_adapt_on_imdb_keeps_the_tuned_values(imdb):
    texts = imdb.train.texts[::5]
    chosen = adapt(texts, imdb.train.labels[::5])["chosen"]
    assert chosen.pop("blend_without_wide") is True  # the default BiLSTM: the blend adds the linear term
    assert chosen == {name: PRESETS["default"][name] for name in chosen}


def test_adaptive_recipe_on_real_data_is_recorded_and_reproduced(tmp_path):
    pytest.importorskip("onnx")
    data = needs_text_set("cr")
    exported = []
    for run in ("a", "b"):
        checkpoint = tmp_path / run / "model.pt"
        checkpoint.parent.mkdir()
        result = run_cli("train", data, "-o", checkpoint, "--limit", "300", "--epochs", "1", "--hidden", "8",
                         "--embed-dim", "8", "--no-progress")
        assert result.returncode == 0, result.stderr
        assert "recipe default adapted to 3389 texts, 2 labels, median 16 tokens: max_len 60" in result.stderr
        last = SHORT_TEXT_ENSEMBLE_TEACHERS
        assert f"ensemble teacher {last} of {last} (seed {last - 1})" in result.stderr
        result = run_cli("export", checkpoint, "-o", tmp_path / run)
        assert result.returncode == 0, result.stderr
        exported.append((tmp_path / run / "model.onnx").read_bytes())
    assert exported[0] == exported[1]
    config = Classifier.load(tmp_path / "a" / "model.onnx").config
    recipe = config.metrics["recipe"]
    assert config.max_len == recipe["chosen"]["max_len"] == 60
    # short sentences: the wide term; 60,014 tokens: batches of 16 and every word in the vocabulary
    assert config.wide is True is recipe["chosen"]["wide"] and recipe["chosen"]["batch_size"] == SMALL_DATA_BATCH
    assert recipe["chosen"]["min_count"] == SMALL_DATA_MIN_COUNT
    assert recipe["data"]["texts"] == 3389 and recipe["overridden"] == []
    # short texts: the model is the student of teachers of other seeds, trained first
    assert recipe["chosen"]["ensemble_teachers"] == SHORT_TEXT_ENSEMBLE_TEACHERS
    assert config.metrics["ensemble_teachers"] == SHORT_TEXT_ENSEMBLE_TEACHERS
    assert set(recipe["why"]) == set(recipe["chosen"])
    shown = run_cli("info", tmp_path / "a" / "model.onnx")
    assert "recipe: max_len" in shown.stdout and "99% of the texts have at most" in shown.stdout
    assert "recipe: wide" in shown.stdout and "wide bag-of-words term" in shown.stdout


def test_flags_and_keras_preset_win_over_the_adaptive_recipe(tmp_path):
    data = needs_text_set("cr")
    result = run_cli("train", data, "-o", tmp_path / "m.pt", "--limit", "200", "--epochs", "1", "--hidden", "4",
                     "--embed-dim", "4", "--max-len", "33", "--no-wide", "--batch-size", "64", "--ensemble-teachers",
                     "0", "--min-count", "2", "--no-progress")
    assert result.returncode == 0, result.stderr
    config = Classifier.load(tmp_path / "m.pt").config
    assert config.max_len == 33 and config.wide is False
    recipe = config.metrics["recipe"]
    # --no-wide: no bag-of-words term at all, so the blend adds none either
    assert recipe["overridden"] == ["batch_size", "blend_without_wide", "ensemble_teachers", "max_len", "min_count",
                                    "wide"]
    assert recipe["chosen"] == {} and "ensemble_teachers" not in config.metrics
    # the user's own --distill-weight: the recipe's teachers step aside (they would set it)
    result = run_cli("train", data, "-o", tmp_path / "d.pt", "--limit", "200", "--epochs", "1", "--hidden", "4",
                     "--embed-dim", "4", "--distill-weight", "0.3", "--no-progress")
    assert result.returncode == 0, result.stderr
    recipe = Classifier.load(tmp_path / "d.pt").config.metrics["recipe"]
    assert recipe["overridden"] == ["ensemble_teachers"] and "ensemble teacher" not in result.stderr
    result = run_cli("train", data, "-o", tmp_path / "k.pt", "--limit", "200", "--epochs", "1", "--preset",
                     "keras-imdb", "--no-progress")
    assert result.returncode == 0, result.stderr
    config = Classifier.load(tmp_path / "k.pt").config
    assert config.max_len == PRESETS["keras-imdb"]["max_len"] and "recipe" not in config.metrics
    assert config.wide is False
