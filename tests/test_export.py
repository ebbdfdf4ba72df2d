"""The exported graph: fused LSTM nodes, dynamic axes, metadata, and a validation that fails loudly."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

from onnx import numpy_helper  # noqa: E402

from edgelstm.config import INPUTS, METADATA_KEY, OUTPUTS, STATE_INPUTS, STATE_OUTPUTS, ModelConfig  # noqa: E402
from edgelstm.export import OPSET, ExportValidationError, build_onnx, validate_onnx  # noqa: E402
from edgelstm.export.validate import sample_sequences  # noqa: E402
from edgelstm.train import TextClassifier  # noqa: E402


def small_model(arch, labels=("neg", "pos")):
    torch.manual_seed(0)
    config = ModelConfig(arch=arch, vocab_size=50, max_len=20, embed_dim=6, hidden=5, dense=7,
                         labels=list(labels), vocabulary=[f"w{i}" for i in range(48)])
    return TextClassifier(config).eval()


@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
def test_graph_is_fused_dynamic_and_self_describing(arch):
    proto = build_onnx(small_model(arch))
    onnx.checker.check_model(proto, full_check=True)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("LSTM") == 1
    assert not {"Loop", "Scan", "If"} & set(ops)
    lstm = next(n for n in proto.graph.node if n.op_type == "LSTM")
    assert lstm.input[4] == "sequence_lens"  # real lengths reach the recurrent node
    assert proto.opset_import[0].version >= 17 == OPSET
    state_in, state_out = (STATE_INPUTS, STATE_OUTPUTS) if arch == "lstm" else ((), ())
    values = list(proto.graph.input) + list(proto.graph.output)
    specs = INPUTS + state_in + OUTPUTS + state_out
    assert [v.name for v in values] == [spec.name for spec in specs]
    for value, spec in zip(values, specs):
        dims = [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        assert dims == [small_model(arch).config.hidden if a == "hidden" else a for a in spec.axes]
    metadata = {p.key: p.value for p in proto.metadata_props}
    config = ModelConfig.from_json(metadata[METADATA_KEY])
    assert config.arch == arch and config.vocabulary[:2] == ["w0", "w1"] and config.max_len == 20


@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
def test_validation_passes_for_a_correct_graph(arch, tmp_path):
    model = small_model(arch, labels=("a", "b", "c"))
    path = tmp_path / "m.onnx"
    path.write_bytes(build_onnx(model).SerializeToString())
    assert validate_onnx(model, path) < 1e-6


def test_validation_raises_with_the_max_difference(tmp_path):
    model = small_model("bilstm")
    proto = build_onnx(model)
    weights = next(t for t in proto.graph.initializer if t.name == "lstm.R")
    weights.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weights) * 1.01, "lstm.R"))
    path = tmp_path / "broken.onnx"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ExportValidationError, match=r"differs from PyTorch by [0-9.e-]+ > ATOL 1e-05"):
        validate_onnx(model, path)


def test_sampled_sequences_look_like_text():
    rng = np.random.default_rng(0)
    sequences = sample_sequences(100, batch=5, longest=30, rng=rng)
    assert max(map(len, sequences)) == 30 and min(map(len, sequences)) >= 1
    assert all(1 <= i < 100 for s in sequences for i in s)
