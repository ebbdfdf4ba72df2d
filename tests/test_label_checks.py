"""Labels: one check for every scorer (evaluate, bench, quantize --data; export --int8 --data is in
test_outputs.py), each model scored with its own labels; labels in metadata fit on a terminal line."""

from __future__ import annotations

import json

import pytest

from edgelstm import Classifier
from edgelstm.bench import run_benchmark
from edgelstm.errors import EXIT_DATA, DataError, ModelError
from tests.helpers import TINY_BILSTM, TINY_LSTM, run_cli

TEXTS = ["a fine film", "bad acting", "the story", "", "x y z", "wonderful and moving", "dull"] * 3


def _with_labels(tmp_path, labels, source=TINY_LSTM):
    """A copy of a tiny model whose metadata names other labels."""
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(str(source))
    for prop in proto.metadata_props:
        if prop.key == "edgelstm":
            config = json.loads(prop.value)
            config["labels"] = labels
            prop.value = json.dumps(config)
    path = tmp_path / "relabeled.onnx"
    onnx.save(proto, str(path))
    return path


def _csv(path, labels):
    path.write_text("text,label\n" + "".join(f"{t or 'empty'},{lab}\n" for t, lab in zip(TEXTS, labels)))
    return path


def test_bench_scores_each_model_with_its_own_labels(tmp_path):
    swapped = _with_labels(tmp_path, ["pos", "neg"])  # same weights, the label order reversed
    labels = [p.label for p in Classifier.load(TINY_LSTM).predict(TEXTS)]
    results, _ = run_benchmark([TINY_LSTM, swapped], TEXTS, labels, cold_start=False)
    assert [r.accuracy for r in results] == [1.0, 0.0]  # the first model's order for both: 1.0, 1.0


@pytest.mark.parametrize("command", ["bench", "quantize", "evaluate"])
def test_labels_the_model_does_not_know_are_a_data_error(tmp_path, command):
    if command == "quantize":
        pytest.importorskip("onnx", reason="quantize needs onnx (the train extra)")
    data = _csv(tmp_path / "test.csv", ["positive", "negative"] * len(TEXTS))
    args = {"bench": ["bench", TINY_LSTM, "--data", data, "--no-cold-start"],
            "quantize": ["quantize", TINY_LSTM, "--data", data, "-o", tmp_path / "q.onnx"],
            "evaluate": ["evaluate", TINY_LSTM, data]}[command]
    result = run_cli(*args)
    assert result.returncode == EXIT_DATA, result.stderr
    assert "labels ['negative', 'positive'] are not among" in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "q.onnx").exists()


def test_bench_of_models_with_other_labels_names_the_model(tmp_path):
    """A neg/pos model benched after a 3-label one: refused (it was a silent 66.67%)."""
    data = _csv(tmp_path / "test.csv", ["neg", "pos"] * len(TEXTS))
    result = run_cli("bench", TINY_LSTM, TINY_BILSTM, "--data", data, "--no-cold-start")
    assert result.returncode == EXIT_DATA and str(TINY_BILSTM) in result.stderr, result.stderr
    with pytest.raises(DataError, match="tiny-bilstm"):
        run_benchmark([TINY_LSTM, TINY_BILSTM], TEXTS, ["neg"] * len(TEXTS), cold_start=False)


@pytest.mark.parametrize("label", ["neg\x1b[31m", "neg\x00", "neg\x7f", "\x1bpos"])
def test_labels_with_control_characters_are_a_model_error(tmp_path, label):
    model = _with_labels(tmp_path, [label, "pos"])
    with pytest.raises(ModelError, match="control character"):
        Classifier.load(model)
    result = run_cli("predict", "--model", model, "-", stdin="a film\n")
    assert result.returncode == 3 and "\x1b" not in result.stdout + result.stderr.replace("\\x1b", "")
