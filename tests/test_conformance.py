"""The same model file gives the same answers in onnxruntime, OpenVINO and tract: fp32 and the
default int8 recipe, both architectures, batch 1 and padded mixed-length batches of real reviews."""

import numpy as np
import pytest

from edgelstm import Classifier
from edgelstm.tokenizer import pad_batch

onnx = pytest.importorskip("onnx")

from edgelstm.export.quantize import DEFAULT_RECIPE, RECIPES_BY_NAME, quantize

TOLERANCE = 1e-5  # largest |runtime - onnxruntime-Python| on the answers
# The outputs on a bounded scale: the answers (probabilities) and the LSTM's h state (tanh). The
# unbounded ones (logits, final_c) carry the same float32 rounding scaled by their magnitude
# (OpenVINO's int8 bilstm logits: 7.5e-5 off at a logit of -1.97, its probability 8e-6 off);
# they are checked for presence and shape.
BOUNDED_OUTPUTS = {"probabilities", "final_h"}


@pytest.fixture(scope="module")
def models(trained, tmp_path_factory):
    root = tmp_path_factory.mktemp("conformance")
    paths = {}
    for arch in ("lstm", "bilstm"):
        paths[arch, "fp32"] = trained[arch][1]
        paths[arch, "int8"] = root / f"{arch}.int8.onnx"
        quantize(trained[arch][1], paths[arch, "int8"], RECIPES_BY_NAME[DEFAULT_RECIPE])
    return paths


@pytest.fixture(scope="module")
def batches(imdb):
    """Batch 1 (a long review) and a padded batch of 16 reviews of mixed lengths."""
    texts = imdb.test.sample(16, seed=11).texts
    return {"batch 1": texts[:1], "padded batch 16": texts}


def feeds(path, texts):
    classifier = Classifier.load(path)
    input_ids, lengths = pad_batch(classifier.encode(texts))
    feed = {"input_ids": input_ids, "lengths": lengths}
    if classifier.config.arch == "lstm":  # zero state: whole texts
        zeros = np.zeros((len(texts), classifier.config.hidden), np.float32)
        feed |= {"initial_h": zeros, "initial_c": zeros}
    assert len(texts) == 1 or len(set(lengths.tolist())) > 1
    return feed


def onnxruntime_outputs(path, feed):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))


def openvino_outputs(path, feed):
    ov = pytest.importorskip("openvino", reason="OpenVINO is not installed (pip install openvino)")
    # f32: its default on AMX CPUs is bf16; no dynamic quantization of activations, which it
    # otherwise applies to int8-weight MatMuls (3.7e-4 off, measured)
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                          "DYNAMIC_QUANTIZATION_GROUP_SIZE": "0"})
    result = compiled(feed)
    return {output.get_any_name(): result[output] for output in compiled.outputs}


def tract_outputs(path, feed):
    tract = pytest.importorskip("tract", reason="tract is not installed (pip install tract)")
    model = tract.onnx().load(str(path))
    names = [model.input_name(i) for i in range(model.input_count())]
    output_names = [model.output_name(i) for i in range(model.output_count())]
    runnable = model.into_model().into_runnable()
    result = runnable.run([feed[name] for name in names])
    return {name: result[i].to_numpy() for i, name in enumerate(output_names)}


@pytest.mark.parametrize("batch", ["batch 1", "padded batch 16"])
@pytest.mark.parametrize("precision", ["fp32", "int8"])
@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
@pytest.mark.parametrize("runtime", [openvino_outputs, tract_outputs], ids=["openvino", "tract"])
def test_runtime_matches_onnxruntime(models, batches, runtime, arch, precision, batch):
    path = models[arch, precision]
    feed = feeds(path, batches[batch])
    expected = onnxruntime_outputs(path, feed)
    actual = runtime(path, feed)
    assert set(actual) == set(expected)
    for name, value in expected.items():
        if name.startswith("final_") and batch != "batch 1":
            rows = feed["lengths"] == feed["input_ids"].shape[1]  # defined on unpadded rows only
            value, other = value[rows], actual[name][rows]
        else:
            other = actual[name]
        assert other.shape == value.shape, name
        if name in BOUNDED_OUTPUTS:
            assert float(np.abs(other - value).max()) <= TOLERANCE, name
