"""The torch-free runtime on the tiny committed models (see make_tiny_model.py)."""


import numpy as np
import pytest

import edgelstm
from edgelstm import Classifier, ModelError, Prediction
from tests.helpers import NO_TORCH, TINY_BILSTM, TINY_LSTM, run_python

PUBLIC_API = [
    "Classifier", "DataError", "EdgelstmError", "InputError", "ModelConfig", "ModelError",
    "Prediction", "Tokenizer", "__version__",
]



def test_public_api_is_exact():
    assert sorted(edgelstm.__all__) == sorted(PUBLIC_API)
    for name in PUBLIC_API:
        assert hasattr(edgelstm, name)


@pytest.mark.parametrize("model", [TINY_LSTM, TINY_BILSTM])
def test_predict_returns_one_result_per_text_in_order(model):
    clf = Classifier.load(model)
    texts = ["good movie", "", "awful worst film " * 20, "great", "😀"]
    predictions = clf.predict(texts)
    assert len(predictions) == len(texts)
    probabilities = clf.predict_proba(texts)
    for prediction, row in zip(predictions, probabilities):
        assert isinstance(prediction, Prediction)
        assert list(prediction.probabilities) == clf.labels
        assert prediction.label == clf.labels[int(np.argmax(row))]
        assert prediction.probability == pytest.approx(row.max())
        assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    # each text's answer is the same alone
    for text, row in zip(texts, probabilities):
        np.testing.assert_allclose(clf.predict_proba([text])[0], row, rtol=0, atol=1e-6)


def test_predict_rejects_a_bare_string():
    with pytest.raises(TypeError):
        Classifier.load(TINY_LSTM).predict("a text")


def test_metadata_carries_what_inference_needs():
    config = Classifier.load(TINY_BILSTM).config
    assert config.arch == "bilstm" and config.labels == ["negative", "neutral", "positive"]
    assert config.max_len == 16 and len(config.vocabulary) == config.vocab_size - 2
    assert config.format_version == 2 and config.tokenizer == "words-v1"


def test_runtime_and_predict_never_import_torch(tmp_path):
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("a great movie\nthe worst film\n")
    code = NO_TORCH + f"""
from edgelstm import Classifier
Classifier.load({str(TINY_LSTM)!r}).predict(["good"])
from edgelstm.cli import main
sys.argv = ["edgelstm", "predict", "--model", {str(TINY_LSTM)!r}, {str(reviews)!r}]
main()
"""
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2


def test_a_checkpoint_without_torch_is_a_clear_model_error(tmp_path):
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"not really a checkpoint")
    code = NO_TORCH + f"""
from edgelstm import Classifier, ModelError
try:
    Classifier.load({str(checkpoint)!r})
except ModelError as exc:
    print(exc)
"""
    result = run_python("-c", code)
    assert "needs PyTorch" in result.stdout and "edgelstm[train]" in result.stdout, result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "not found"), (b"", "empty"), (b"\x08\x01garbage", "not a loadable ONNX model")],
)
def test_bad_model_files_raise_model_error(tmp_path, content, message):
    path = tmp_path / "model.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        Classifier.load(path)


def test_one_json_form_and_one_accuracy():
    from edgelstm.predictions import accuracy

    prediction = Classifier.load(TINY_LSTM).predict(["good"])[0]
    assert prediction.to_dict() == {"label": prediction.label, "probability": prediction.probability,
                                    "probabilities": prediction.probabilities}
    assert accuracy(np.array([[0.2, 0.8], [0.9, 0.1], [0.6, 0.4]]), np.array([1, 0, 1])) == pytest.approx(2 / 3)
