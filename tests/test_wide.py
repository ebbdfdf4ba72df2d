"""The wide bag-of-words term (``ModelConfig.wide``): PyTorch's packed and padded forward passes
agree, the graph equals PyTorch at export's tolerance, padding is masked whatever id it holds,
the table is quantized like the embedding, and onnxruntime, OpenVINO and tract agree on it."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

from onnx import numpy_helper  # noqa: E402

from edgelstm import Classifier  # noqa: E402
from edgelstm.config import BIGRAM_HASH, INPUTS, STATE_INPUTS, ModelConfig  # noqa: E402
from edgelstm.export import build_onnx, validate_onnx  # noqa: E402
from edgelstm.export.quantize import DEFAULT_RECIPE, RECIPES_BY_NAME, quantize  # noqa: E402
from edgelstm.tokenizer import pad_batch  # noqa: E402
from edgelstm.train import TextClassifier  # noqa: E402
from edgelstm.train.trainer import forward_padded  # noqa: E402

from .test_conformance import TOLERANCE, onnxruntime_outputs, openvino_outputs, tract_outputs  # noqa: E402


def wide_model(arch, labels=("neg", "pos"), bigrams=0, words=48):
    torch.manual_seed(0)
    config = ModelConfig(arch=arch, vocab_size=words + 2, max_len=20, embed_dim=6, hidden=5, dense=7, wide=True,
                         wide_bigrams=bigrams, labels=list(labels), vocabulary=[f"w{i}" for i in range(words)])
    model = TextClassifier(config).eval()
    with torch.no_grad():  # trained weights: the term starts at zero, which would hide a missing term
        model.wide.weight.normal_(0, 1.0)
        model.wide.weight[0].zero_()
    return model


def batch(rows=5, longest=9, seed=3, ids=50):
    rng = np.random.default_rng(seed)
    sequences = [rng.integers(1, ids, size=int(n)).tolist() for n in rng.integers(1, longest + 1, size=rows)]
    sequences[0] = rng.integers(1, ids, size=longest).tolist()  # one unpadded row
    return pad_batch(sequences)


@pytest.mark.parametrize("labels", [("neg", "pos"), ("a", "b", "c")])
@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
def test_the_term_is_in_the_logits_and_both_forward_passes_agree(arch, labels):
    model = wide_model(arch, labels)
    ids, lengths = (torch.from_numpy(a) for a in batch())
    with torch.no_grad():
        packed, padded = model(ids, lengths), forward_padded(model, ids, lengths)
        expected = torch.stack([model.wide.weight[row[:n]].mean(dim=0) for row, n in zip(ids, lengths)])
        table, model.wide = model.wide, None
        deep = model(ids, lengths)  # the same model without the term
        model.wide = table
    assert torch.allclose(packed, padded, atol=1e-6)
    assert torch.allclose(packed, deep + expected, atol=1e-6) and float(expected.abs().max()) > 0.1


def test_bigrams_add_each_real_pair_of_neighbours_hashed_after_the_words():
    model = wide_model("bilstm", ("a", "b", "c"), bigrams=16)
    ids, lengths = (torch.from_numpy(a) for a in batch())
    table = model.wide.weight.detach()
    expected = []
    for row, n in zip(ids.tolist(), lengths.tolist()):
        pairs = [50 + (a % 16 * BIGRAM_HASH + b) % 16 for a, b in zip(row[: n - 1], row[1:n])]
        expected.append((table[row[:n]].sum(dim=0) + table[pairs].sum(dim=0)) / n)
    with torch.no_grad():
        assert torch.allclose(model.wide_logits(ids, lengths), torch.stack(expected), atol=1e-6)
        assert torch.allclose(model(ids, lengths), forward_padded(model, ids, lengths), atol=1e-6)


@pytest.mark.parametrize("bigrams", [0, 16])
@pytest.mark.parametrize("labels", [("neg", "pos"), ("a", "b", "c")])
@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
def test_the_graph_equals_pytorch(arch, labels, bigrams, tmp_path):
    model = wide_model(arch, labels, bigrams)
    path = tmp_path / "m.onnx"
    proto = build_onnx(model)
    path.write_bytes(proto.SerializeToString())
    validated = validate_onnx(model, path)
    assert max(validated.graph, validated.onnxruntime) < 1e-5
    # the whole text at once: no state in or out (a stream's pieces would each average their own words)
    assert [i.name for i in proto.graph.input] == [spec.name for spec in INPUTS]
    assert not model.config.has_state and STATE_INPUTS[0].name not in {i.name for i in proto.graph.input}


@pytest.mark.parametrize("bigrams", [0, 16])
@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
def test_padding_is_masked_whatever_id_it_holds(arch, bigrams, tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(build_onnx(wide_model(arch, bigrams=bigrams)).SerializeToString())
    ids, lengths = batch()
    junk = ids.copy()
    junk[np.arange(ids.shape[1])[None, :] >= lengths[:, None]] = 7  # a word's id where padding is
    feed = {"input_ids": ids, "lengths": lengths}
    clean = onnxruntime_outputs(path, feed)["logits"]
    dirty = onnxruntime_outputs(path, feed | {"input_ids": junk})["logits"]
    assert np.abs(clean - dirty).max() < 1e-6


def test_int8_quantizes_the_table_per_word(tmp_path):
    fp32, int8 = tmp_path / "m.onnx", tmp_path / "m.int8.onnx"
    fp32.write_bytes(build_onnx(wide_model("bilstm")).SerializeToString())
    quantize(fp32, int8, RECIPES_BY_NAME[DEFAULT_RECIPE])
    tensors = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(int8)).graph.initializer}
    assert "wide.weight" not in tensors
    assert tensors["wide.weight.int8"].dtype == np.int8 and tensors["wide.weight.scale"].shape == (50, 1)


# (bigrams, words): the largest table with ids near its top: hashed values near 2**24
@pytest.mark.parametrize("bigrams, words", [(0, 48), (16, 48), (2**16, 70_000)])
@pytest.mark.parametrize("precision", ["fp32", "int8"])
@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
@pytest.mark.parametrize("runtime", [openvino_outputs, tract_outputs], ids=["openvino", "tract"])
def test_runtimes_agree_on_the_term(runtime, arch, precision, bigrams, words, tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(build_onnx(wide_model(arch, ("a", "b", "c"), bigrams, words)).SerializeToString())
    if precision == "int8":
        quantize(path, tmp_path / "m.int8.onnx", RECIPES_BY_NAME[DEFAULT_RECIPE])
        path = tmp_path / "m.int8.onnx"
    ids, lengths = batch(rows=8, longest=12, ids=words + 2)
    feed = {"input_ids": ids, "lengths": lengths}
    expected, actual = onnxruntime_outputs(path, feed), runtime(path, feed)
    assert float(np.abs(actual["probabilities"] - expected["probabilities"]).max()) <= TOLERANCE
    assert Classifier.load(path).predict(["w3 w4 w5"])[0].label in ("a", "b", "c")


def test_a_wide_lstm_cannot_stream_and_says_why(tmp_path):
    from edgelstm.errors import ModelError
    from edgelstm.stream import check_streamable

    path = tmp_path / "m.onnx"
    path.write_bytes(build_onnx(wide_model("lstm")).SerializeToString())
    with pytest.raises(ModelError, match="without the wide term"):
        check_streamable(Classifier.load(path))


@pytest.mark.parametrize("change, message", [
    ({"wide": "yes"}, "wide must be true or false"),
    ({"wide": True, "wide_bigrams": 100}, "wide_bigrams must be 0 or a power of two"),
    ({"wide": False, "wide_bigrams": 16}, "with wide"),
    ({"wide": True, "wide_bigrams": 2**17}, "up to 65536"),
])
def test_metadata_with_a_bad_wide_term_is_refused(change, message):
    from edgelstm.errors import ModelError

    data = wide_model("bilstm").config.to_dict() | change
    with pytest.raises(ModelError, match=message):
        ModelConfig.from_dict(data)
