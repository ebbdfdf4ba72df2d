"""The edgelstm command, end to end: train on real reviews, export, predict, evaluate."""

import json

import pytest

from tests.helpers import IMDB, TINY_BILSTM, TINY_LSTM, needs_imdb
from tests.helpers import run_cli as edgelstm


def test_help_of_every_command():
    for command in ["", "train", "export", "evaluate", "predict"]:
        result = edgelstm(*command.split(), "--help")
        assert result.returncode == 0 and "Usage" in result.stdout


def test_predict_prints_one_line_per_document_in_order(tmp_path):
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("good movie\n\nbad film\n", encoding="utf-8")
    result = edgelstm("predict", "--model", TINY_LSTM, reviews)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    for line in lines:
        label, probability = line.split("\t")
        assert label in ("neg", "pos") and 0.5 <= float(probability) <= 1


def test_predict_jsonl_from_stdin_and_per_file(tmp_path):
    result = edgelstm("predict", "--model", TINY_BILSTM, "--format", "jsonl", "-", stdin="great\nawful\n")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2 and set(rows[0]["probabilities"]) == {"negative", "neutral", "positive"}
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("line one\nline two\n")
    result = edgelstm("predict", "--model", TINY_LSTM, "--per-file", tmp_path / "a.txt", tmp_path / "b.txt")
    assert len(result.stdout.splitlines()) == 2


def test_errors_are_one_line_without_traceback(tmp_path):
    result = edgelstm("predict", "--model", tmp_path / "missing.onnx", "x.txt")
    assert result.returncode == 3
    assert result.stderr.strip() == f"edgelstm: error: {tmp_path / 'missing.onnx'}: model file not found"


@pytest.mark.slow
def test_train_export_predict_evaluate_on_real_reviews(tmp_path):
    needs_imdb()
    pytest.importorskip("torch")
    checkpoint = tmp_path / "model.pt"
    result = edgelstm("train", IMDB, "-o", checkpoint, "--limit", 4000, "--epochs", 2, "--lr", 0.003,
                      "--max-len", 150, "--vocab-size", 2000)
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout and "epoch 2" in result.stderr
    result = edgelstm("export", checkpoint, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    exported = tmp_path / "out" / "model.onnx"
    assert result.stdout.strip() == str(exported)

    reviews = tmp_path / "reviews.txt"
    reviews.write_text("One of the best films I have ever seen, wonderful acting and a great story.\n"
                       "Terrible. The worst movie ever made, boring and awful.\n")
    for model in (exported, checkpoint):
        result = edgelstm("predict", "--model", model, reviews)
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.splitlines()) == 2

    result = edgelstm("evaluate", exported, IMDB)  # the full 25,000-review test split
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split()[1])
    assert accuracy > 0.7, result.stdout  # clearly above chance (0.5) after 2 short epochs
