"""int8 models: they keep fp32's answers on real reviews, carry their recipe, and serve as usual."""


import numpy as np
import pytest

from edgelstm import Classifier
from tests.helpers import run_cli

onnx = pytest.importorskip("onnx")
pytest.importorskip("torch")

from edgelstm.export.quantize import (  # noqa: E402
    RECIPES,
    Measurement,
    choose,
    quantize,
    quantize_measured,
)

AGREEMENT = 0.99  # int8 labels equal to fp32's on at least 99% of reviews
QUANTIZED_OP = {"Gather": "DequantizeLinear", "MatMul": "MatMulInteger", "LSTM": "DynamicQuantizeLSTM"}


@pytest.fixture(scope="module")
def reviews(imdb):
    return imdb.test.sample(2000, seed=5)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.name)
@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
def test_every_recipe_keeps_the_fp32_answers(trained, reviews, tmp_path, arch, recipe):
    fp32_path = trained[arch][1]
    int8_path = tmp_path / "model.int8.onnx"
    quantize(fp32_path, int8_path, recipe)
    ops = {node.op_type for node in onnx.load(str(int8_path)).graph.node}
    for op_type in recipe.op_types:
        assert QUANTIZED_OP[op_type] in ops
    if "LSTM" not in recipe.op_types:
        assert "LSTM" in ops and "DynamicQuantizeLSTM" not in ops
    fp32, int8 = Classifier.load(fp32_path), Classifier.load(int8_path)
    assert int8.config.quantization["recipe"]["name"] == recipe.name
    assert int8_path.stat().st_size < fp32_path.stat().st_size
    expected, actual = fp32.predict_proba(reviews.texts), int8.predict_proba(reviews.texts)
    agreement = (expected.argmax(1) == actual.argmax(1)).mean()
    assert agreement >= AGREEMENT, f"{recipe.name}: {agreement:.4f}"
    accuracy = (expected.argmax(1) == np.array([fp32.labels.index(x) for x in reviews.labels])).mean()
    assert accuracy > 0.7  # the model is trained enough for agreement to mean something


def test_measured_choice_is_written_with_its_table(trained, reviews, tmp_path):
    fp32_path = trained["lstm"][1]
    output = tmp_path / "model.int8.onnx"
    texts, labels = reviews.texts[:300], reviews.labels[:300]
    winner, table = quantize_measured(fp32_path, output, texts, labels, recipe="embedding")
    assert winner.name == "embedding" and [m.name for m in table] == ["fp32", "embedding"]
    quantization = Classifier.load(output).config.quantization
    assert quantization["chosen_by"] == "forced" and quantization["validation_texts"] == 300
    assert [m["name"] for m in quantization["measurements"]] == ["fp32", "embedding"]
    result = run_cli("predict", "--model", output, "-", stdin="a wonderful film\nawful\n")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 2


def m(name, size, latency, throughput, accuracy):
    return Measurement(name, size, latency, latency * 2, throughput, accuracy, 1.0)


def test_choose_takes_the_smallest_that_is_not_slower_and_accurate():
    fp32 = m("fp32", 1000, 1.0, 100, 0.880)
    small_but_slow = m("slow", 200, 1.5, 100, 0.880)
    small_but_worse = m("worse", 250, 1.0, 100, 0.870)
    slower_throughput = m("batchslow", 260, 1.0, 80, 0.880)
    good = m("good", 300, 1.04, 99, 0.878)
    bigger_good = m("bigger", 400, 0.9, 120, 0.881)
    candidates = [small_but_slow, small_but_worse, slower_throughput, good, bigger_good]
    assert choose(fp32, candidates).name == "good"
    assert choose(fp32, [small_but_slow, small_but_worse]) is None
    assert choose(fp32, [small_but_worse], budget=0.02).name == "worse"
