"""int8 models: every recipe offered by default is batch- and thread-invariant on real reviews,
keeps fp32's answers, carries its recipe, and is the same bytes every time; dynamic recipes
only on request."""


import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgelstm import Classifier
from edgelstm.invariance import INVARIANCE_TOLERANCE, batch_invariance
from tests.helpers import run_cli

onnx = pytest.importorskip("onnx")

from edgelstm.export.quantize import (  # noqa: E402
    ACTIVATION_RECIPES,
    RECIPES,
    QuantizationError,
    quantize,
    quantize_checked,
)

AGREEMENT = 0.99  # int8 labels equal to fp32's on at least 99% of reviews


@pytest.fixture(scope="module")
def reviews(imdb):
    return imdb.test.sample(2000, seed=5)


@pytest.fixture(scope="module")
def int8_models(trained, tmp_path_factory):
    root = tmp_path_factory.mktemp("int8")
    models = {}
    for arch in ("lstm", "bilstm"):
        for recipe in RECIPES:
            models[arch, recipe.name] = root / f"{arch}-{recipe.name}.onnx"
            quantize(trained[arch][1], models[arch, recipe.name], recipe)
    return models


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.name)
@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
def test_default_recipes_are_batch_and_thread_invariant(int8_models, reviews, arch, recipe):
    """Each review alone vs inside mixed-length batches of 64, on 1 and 2 threads."""
    path = int8_models[arch, recipe.name]
    sequences = Classifier.load(path).encode(reviews.texts[:1000])
    result = batch_invariance(path, sequences)
    assert result.holds(), result.largest_difference
    assert Classifier.load(path).config.quantization.batch_invariant is True


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.name)
@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
def test_default_recipes_keep_the_fp32_answers(trained, int8_models, reviews, arch, recipe):
    fp32_path, int8_path = trained[arch][1], int8_models[arch, recipe.name]
    ops = {node.op_type for node in onnx.load(str(int8_path)).graph.node}
    assert not {"DynamicQuantizeLSTM", "MatMulInteger", "DynamicQuantizeLinear"} & ops
    fp32, int8 = Classifier.load(fp32_path), Classifier.load(int8_path)
    assert int8.config.quantization.recipe_name == recipe.name
    matrices = {t.name: list(t.dims) for t in onnx.load(str(fp32_path)).graph.initializer  # LSTM biases (1, 8H)
                if len(t.dims) >= 2 and not t.name.endswith(".B") and t.name != "zeros.11h"}  # and zeros stay float32
    stored = {t.name: t for t in onnx.load(str(int8_path)).graph.initializer}
    assert len(matrices) >= 4  # embedding, W and R of each direction, dense layers
    for name, dims in matrices.items():  # every weight matrix is stored as int8 only
        assert name not in stored and stored[f"{name}.int8"].data_type == onnx.TensorProto.INT8
        assert list(stored[f"{name}.int8"].dims) == dims
    assert int8_path.stat().st_size < fp32_path.stat().st_size
    expected, actual = fp32.predict_proba(reviews.texts), int8.predict_proba(reviews.texts)
    agreement = (expected.argmax(1) == actual.argmax(1)).mean()
    assert agreement >= AGREEMENT, f"{recipe.name}: {agreement:.4f}"
    accuracy = (expected.argmax(1) == np.array([fp32.labels.index(x) for x in reviews.labels])).mean()
    assert accuracy > 0.7  # the model is trained enough for agreement to mean something


def test_quantizing_twice_gives_the_same_bytes(trained, tmp_path):
    for name in ("a.onnx", "b.onnx"):
        quantize(trained["bilstm"][1], tmp_path / name, RECIPES[0])
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


def test_checked_quantization_records_accuracy_not_timings(trained, reviews, tmp_path):
    output = tmp_path / "model.int8.onnx"
    texts, labels = reviews.texts[:300], reviews.labels[:300]
    recipe, table = quantize_checked(trained["lstm"][1], output, texts, labels)
    assert recipe == RECIPES[0]
    assert [m.name for m in table] == ["onnxruntime fp32", f"onnxruntime int8 ({RECIPES[0].name})"]
    quantization = Classifier.load(output).config.quantization
    assert quantization.validation_texts == 300 and quantization.batch_invariant is True
    assert set(quantization.to_dict()) == {"recipe", "batch_invariant", "accuracy_budget", "validation_texts",
                                           "fp32_accuracy", "accuracy", "agreement"}  # nothing timed
    result = run_cli("predict", "--model", output, "-", stdin="a wonderful film\nawful\n")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 2


def test_an_int8_model_is_not_quantized_again(int8_models, tmp_path):
    with pytest.raises(QuantizationError, match="already an int8 model"):
        quantize(int8_models["lstm", RECIPES[0].name], tmp_path / "again.onnx", RECIPES[0])
    result = run_cli("quantize", int8_models["lstm", RECIPES[0].name], "-o", tmp_path / "x.onnx")
    assert result.returncode == QuantizationError.exit_code
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.onnx").exists()


def test_dynamic_recipes_need_the_explicit_option_and_say_so(trained, tmp_path):
    model = trained["lstm"][1]
    refused = subprocess.run([sys.executable, "-m", "edgelstm.cli", "quantize", str(model), "-o",
                              str(tmp_path / "d.onnx"), "--recipe", ACTIVATION_RECIPES[1].name],
                             capture_output=True, text=True)
    assert refused.returncode != 0 and "--activation-int8" in refused.stderr
    allowed = subprocess.run([sys.executable, "-m", "edgelstm.cli", "quantize", str(model), "-o",
                              str(tmp_path / "d.onnx"), "--recipe", ACTIVATION_RECIPES[1].name,
                              "--activation-int8"], capture_output=True, text=True)
    assert allowed.returncode == 0, allowed.stderr
    assert "WARNING" not in allowed.stderr  # onnxruntime's quantizer logs stay quiet
    assert Classifier.load(tmp_path / "d.onnx").config.quantization.batch_invariant is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.onnx"]  # no scratch files left beside it


def test_invariance_detects_a_batch_dependent_model(trained, reviews, tmp_path):
    """The check can fail: onnxruntime's dynamic recipe depends on the batch."""
    path = tmp_path / "dynamic.onnx"
    quantize(trained["lstm"][1], path, ACTIVATION_RECIPES[1])
    result = batch_invariance(path, Classifier.load(path).encode(reviews.texts[:300]))
    assert result.worst > INVARIANCE_TOLERANCE


@pytest.mark.parametrize("recipe", ACTIVATION_RECIPES, ids=lambda r: r.name)
def test_dynamic_recipes_quantize_a_bilstm(trained, reviews, tmp_path, recipe):
    """onnxruntime's dynamic quantizer takes the bilstm's graph and keeps its labels."""
    path = tmp_path / "dynamic.onnx"
    quantize(trained["bilstm"][1], path, recipe)
    fp32, int8 = Classifier.load(trained["bilstm"][1]), Classifier.load(path)
    texts = reviews.texts[:300]
    agreement = (fp32.predict_proba(texts).argmax(1) == int8.predict_proba(texts).argmax(1)).mean()
    # a loose floor: these recipes are lossy by design (per-channel agreed on 92.7% here)
    assert agreement >= 0.9, agreement


def test_quantize_and_bench_need_no_torch(tmp_path):
    """`edgelstm quantize` needs onnx only, `edgelstm bench` onnxruntime only (tiny test model)."""
    from pathlib import Path

    tiny = Path(__file__).parent / "data" / "tiny-lstm.onnx"
    block_torch = (
        "import sys\n"
        "class BlockTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError('torch is blocked in this test')\n"
        "sys.meta_path.insert(0, BlockTorch())\n"
        "from edgelstm.cli import main\n"
        f"sys.argv = ['edgelstm', 'quantize', {str(tiny)!r}, '-o', {str(tmp_path / 'tiny.int8.onnx')!r}]\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", block_torch], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert Classifier.load(tmp_path / "tiny.int8.onnx").config.quantization.batch_invariant is True
    import edgelstm.bench  # noqa: F401 - the measuring module lives in the runtime room


def test_quantize_file_judges_on_data_and_warns_without(tmp_path, caplog):
    """What `edgelstm quantize` decides (judging texts, the target's name, staging) is the
    library's quantize_file; without labeled texts the int8 file is written with a warning."""
    import logging
    import shutil

    from edgelstm.export.quantize import judging_texts, quantize_file
    from tests.helpers import TINY_LSTM

    model = Path(shutil.copy(TINY_LSTM, tmp_path / "model.onnx"))
    data = tmp_path / "reviews.txt"
    data.write_text("".join(f"__label__{'pos' if i % 2 else 'neg'} review {i}\n" for i in range(40)))
    assert len(judging_texts(data)) == 40
    target, recipe, table = quantize_file(model, data=data, timings=False)
    assert target == tmp_path / "model.int8.onnx" and recipe == RECIPES[0] and table == []
    assert Classifier.load(target).config.quantization.validation_texts == 40
    with caplog.at_level(logging.WARNING, logger="edgelstm"):
        quantize_file(model, tmp_path / "unchecked.onnx", timings=False)
    assert "int8 accuracy not checked" in caplog.text
    assert Classifier.load(tmp_path / "unchecked.onnx").config.quantization.validation_texts is None


def test_an_error_is_the_only_line_a_refused_quantize_prints(tmp_path):
    """The "accuracy not checked" warning comes once every check has passed, never before an error."""
    from tests.helpers import TINY_LSTM

    first = run_cli("quantize", TINY_LSTM, "-o", tmp_path / "tiny.int8.onnx")
    assert first.returncode == 0 and "int8 accuracy not checked" in first.stderr, first.stderr
    again = run_cli("quantize", tmp_path / "tiny.int8.onnx", "-o", tmp_path / "again.onnx")
    assert again.returncode == QuantizationError.exit_code
    assert again.stderr.strip().splitlines() == [
        f"edgelstm: error: {tmp_path / 'tiny.int8.onnx'}: already an int8 model; quantize its fp32 model.onnx"]
