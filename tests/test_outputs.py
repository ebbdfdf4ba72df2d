"""Nothing edgelstm writes overwrites an input or a file that is not its own artifact
(edgelstm.files.check_output); a folder an export writes is always one model's set."""

from __future__ import annotations

import shutil

import pytest

from edgelstm import Classifier
from edgelstm.errors import EXIT_INPUT, InputError
from edgelstm.files import check_output
from tests.helpers import TINY_LSTM, run_cli


def _labeled_csv(path, labels=("neg", "pos"), rows=20):
    path.write_text("text,label\n" + "".join(f"review {i} good bad,{labels[i % len(labels)]}\n" for i in range(rows)))
    return path


def _refused(result, message):
    assert result.returncode == EXIT_INPUT, result.stderr
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_check_output_is_one_rule(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("x")
    (tmp_path / "dir").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        check_output(tmp_path / "dir", replaceable=lambda p: True, what="a file")
    with pytest.raises(InputError, match="inputs; refusing"):
        check_output(data, inputs=[data], replaceable=lambda p: True, what="a file")
    link = tmp_path / "link.csv"
    link.symlink_to(data)
    with pytest.raises(InputError, match="inputs; refusing"):  # through a link too
        check_output(link, inputs=[data], replaceable=lambda p: True, what="a file")
    with pytest.raises(InputError, match="exists and is not a model; refusing"):
        check_output(data, replaceable=lambda p: False, what="a model")
    assert check_output(data, replaceable=lambda p: True, what="a file") is True
    assert check_output(tmp_path / "new", replaceable=lambda p: False, what="a file") is False


# --- 1. quantize -o -------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["the labeled data", "the fp32 model", "a user's file"])
def test_quantize_never_overwrites_its_inputs_or_other_files(tmp_path, target):
    pytest.importorskip("onnx")
    model = shutil.copy(TINY_LSTM, tmp_path / "model.onnx")
    data = _labeled_csv(tmp_path / "test.csv")
    output = {"the labeled data": data, "the fp32 model": model, "a user's file": tmp_path / "notes.txt"}[target]
    if target == "a user's file":
        output.write_text("my notes\n")
    before = output.read_bytes()
    result = run_cli("quantize", model, "--data", data, "-o", output)
    _refused(result, "inputs; refusing to overwrite it" if target != "a user's file"
             else "exists and is not an edgelstm model; refusing to overwrite it")
    assert output.read_bytes() == before


def test_quantize_replaces_an_earlier_int8_model_and_says_so(tmp_path):
    pytest.importorskip("onnx")
    model = shutil.copy(TINY_LSTM, tmp_path / "model.onnx")
    for run in range(2):
        result = run_cli("quantize", model, "-o", tmp_path / "model.int8.onnx")
        assert result.returncode == 0, result.stderr
        assert ("overwriting" in result.stderr) == (run == 1), result.stderr
    assert Classifier.load(tmp_path / "model.int8.onnx").config.quantization is not None


# --- 2. train -o X.pt: X.history.json and X.history.png ------------------------------------------

@pytest.mark.parametrize("case", ["history.json is the data", "history.json is a user's file",
                                  "history.png is a user's file"])
def test_train_never_overwrites_a_history_that_is_not_one(tmp_path, case):
    pytest.importorskip("torch")
    data = tmp_path / "two.ft"
    data.write_text("".join(f"__label__{'pos' if i % 2 else 'neg'} review {i} good bad\n" for i in range(20)))
    victim = tmp_path / ("m.history.png" if "png" in case else "m.history.json")
    if case == "history.json is the data":
        shutil.copy(data, victim)
        data = victim  # `cp two.ft m.history.json; edgelstm train m.history.json -o m.pt`
    else:
        victim.write_bytes(b"my own notes\n")
    before = victim.read_bytes()
    result = run_cli("train", data, "--epochs", 1, "--no-progress", "-o", tmp_path / "m.pt")
    _refused(result, "refusing to overwrite it")
    assert victim.read_bytes() == before and not (tmp_path / "m.pt").exists()


def test_train_library_checks_its_outputs_too(tmp_path):
    pytest.importorskip("torch")
    from edgelstm.train import TrainOptions, train
    from tests.test_train import small_config, toy_dataset

    history = tmp_path / "m.history.json"
    history.write_text("[1, 2, 3]")
    with pytest.raises(InputError, match="not a training history"):
        train(toy_dataset(), small_config(), TrainOptions(epochs=1), tmp_path / "m.pt", show_progress=False)
    assert history.read_text() == "[1, 2, 3]"
    history.unlink()
    train(toy_dataset(), small_config(), TrainOptions(epochs=1), tmp_path / "m.pt", show_progress=False)
    train(toy_dataset(), small_config(), TrainOptions(epochs=1), tmp_path / "m.pt", show_progress=False)  # replaces


# --- 3. export into a folder: one consistent set --------------------------------------------------

@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory):
    """A 2-label and a 3-label checkpoint (trained in seconds)."""
    pytest.importorskip("torch")
    from edgelstm.data import Dataset, LabeledTexts
    from edgelstm.train import TrainOptions, train
    from tests.test_train import small_config, toy_dataset

    root = tmp_path_factory.mktemp("checkpoints")
    two = toy_dataset()
    texts = two.train.texts[:60]
    three = Dataset(LabeledTexts(texts, [("a", "b", "c")[i % 3] for i in range(len(texts))]))
    paths = {}
    for name, dataset in (("two", two), ("three", three)):
        paths[name] = root / f"{name}.pt"
        train(dataset, small_config(), TrainOptions(epochs=1, batch_size=16), paths[name], show_progress=False)
    return paths


def test_export_removes_the_stale_int8_model_of_another_model(two_checkpoints, tmp_path):
    out = tmp_path / "out"
    result = run_cli("export", two_checkpoints["three"], "-o", out, "--int8")
    assert result.returncode == 0, result.stderr
    assert Classifier.load(out / "model.int8.onnx").labels == ["a", "b", "c"]
    result = run_cli("export", two_checkpoints["two"], "-o", out)
    assert result.returncode == 0, result.stderr
    assert "removed the earlier export's int8 model" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", "tokenizer.json"]
    assert Classifier.load(out / "model.onnx").labels == ["neg", "pos"]


@pytest.mark.parametrize("name", ["model.onnx", "model.int8.onnx", "tokenizer.json"])
def test_export_never_overwrites_a_file_that_is_not_its_own(two_checkpoints, tmp_path, name):
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_text("my notes\n")
    result = run_cli("export", two_checkpoints["two"], "-o", out)
    _refused(result, "refusing to")
    assert (out / name).read_text() == "my notes\n"
    assert sorted(p.name for p in out.iterdir()) == [name]


def test_export_into_an_existing_file_is_an_input_error(two_checkpoints, tmp_path):
    existing = tmp_path / "notes.txt"
    existing.write_text("mine\n")
    result = run_cli("export", two_checkpoints["two"], "-o", existing)
    _refused(result, "exists and is not a folder")
    assert existing.read_text() == "mine\n"


# --- 4. labels the model does not know: one check (edgelstm.data.label_targets), exit 5 -----------

def test_export_int8_with_labels_the_model_does_not_know_is_a_data_error(two_checkpoints, tmp_path):
    data = _labeled_csv(tmp_path / "test.csv", labels=("negative", "positive"))
    result = run_cli("export", two_checkpoints["two"], "-o", tmp_path / "out", "--int8", "--data", data)
    assert result.returncode == 5, result.stderr
    assert "labels ['negative', 'positive'] are not among" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "out" / "model.onnx").exists()
