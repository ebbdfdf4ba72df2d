"""Per-label precision, recall and F1, macro-F1 and the confusion matrix (edgelstm.metrics), and
how ``edgelstm evaluate`` prints them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgelstm import Classifier
from edgelstm.metrics import classification_report, format_report
from tests.helpers import TINY_BILSTM, run_cli


def test_report_by_hand():
    # true:      a a a a b b c
    # predicted: a a b c b a c
    report = classification_report(["a", "b", "c"], np.array([0, 0, 0, 0, 1, 1, 2]), np.array([0, 0, 1, 2, 1, 0, 2]))
    assert report["confusion"] == [[2, 1, 1], [1, 1, 0], [0, 0, 1]]
    assert report["accuracy"] == pytest.approx(4 / 7)
    a, b, c = (report["per_label"][k] for k in "abc")
    assert (a["precision"], a["recall"], a["support"]) == (pytest.approx(2 / 3), 0.5, 4)
    assert a["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert (b["precision"], b["recall"]) == (0.5, 0.5)
    assert (c["precision"], c["recall"], c["f1"]) == (0.5, 1.0, pytest.approx(2 / 3))
    assert report["macro_f1"] == pytest.approx((a["f1"] + b["f1"] + c["f1"]) / 3)


def test_a_label_never_predicted_scores_zero_not_nan():
    report = classification_report(["ham", "spam"], np.array([0, 0, 0, 1]), np.array([0, 0, 0, 0]))
    assert report["per_label"]["spam"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["accuracy"] == 0.75
    assert report["macro_f1"] == pytest.approx(report["per_label"]["ham"]["f1"] / 2)  # accuracy hides this


def test_report_agrees_with_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    targets, predicted = rng.integers(0, 4, 500), rng.integers(0, 4, 500)
    predicted[:200] = targets[:200]
    report = classification_report(list("wxyz"), targets, predicted)
    precision, recall, f1, support = metrics.precision_recall_fscore_support(targets, predicted, zero_division=0)
    for i, row in enumerate(report["per_label"].values()):
        assert (row["precision"], row["recall"], row["f1"], row["support"]) == pytest.approx(
            (precision[i], recall[i], f1[i], support[i]))
    assert report["macro_f1"] == pytest.approx(metrics.f1_score(targets, predicted, average="macro"))
    assert report["confusion"] == metrics.confusion_matrix(targets, predicted).tolist()


def test_format_report_shows_every_label_and_the_matrix():
    text = format_report(classification_report(["neg", "pos"], np.array([0, 1, 1]), np.array([0, 1, 0])))
    lines = text.splitlines()
    assert lines[0].split() == ["label", "precision", "recall", "f1", "support"]
    assert lines[1].split() == ["neg", "0.5000", "1.0000", "0.6667", "1"]
    assert lines[2].split() == ["pos", "1.0000", "0.5000", "0.6667", "2"]
    assert lines[3].split() == ["macro", "0.6667"]
    assert lines[-2].split() == ["neg", "1", "0"] and lines[-1].split() == ["pos", "1", "1"]


def _labeled_file(tmp_path):
    texts = ["a wonderful film", "dull and far too long", "I loved it", "awful", "great acting", "boring"]
    labels = ["positive", "negative", "positive", "negative", "neutral", "negative"]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in zip(texts, labels)))
    return data, texts, labels


def test_evaluate_prints_the_report_and_json(tmp_path):
    data, texts, labels = _labeled_file(tmp_path)
    expected = Classifier.load(TINY_BILSTM).evaluate(texts, labels)
    assert set(expected) == {"accuracy", "loss", "examples", "macro_f1", "per_label", "confusion"}
    result = run_cli("evaluate", TINY_BILSTM, data, "--format", "json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["labels"] == ["negative", "neutral", "positive"]
    assert shown["confusion"] == expected["confusion"] and sum(map(sum, shown["confusion"])) == 6
    assert shown["macro_f1"] == pytest.approx(expected["macro_f1"])
    result = run_cli("evaluate", TINY_BILSTM, data)
    assert result.returncode == 0, result.stderr
    first, *table = result.stdout.splitlines()
    assert first.split()[::2] == ["accuracy", "loss", "macro-F1", "examples"]
    assert "\n".join(table) == format_report(expected)
