"""The exported graph: portable LSTM nodes, dynamic axes, state for lstm, metadata, a validation that
checks every output and fails loudly, and exports that are the same bytes every run."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

from onnx import numpy_helper  # noqa: E402

from edgelstm.config import (  # noqa: E402
    FORMAT_VERSION,
    INPUTS,
    METADATA_KEY,
    OUTPUTS,
    STATE_INPUTS,
    STATE_OUTPUTS,
    ModelConfig,
)
from edgelstm.export import OPSET, ExportValidationError, build_onnx, validate_onnx  # noqa: E402
from edgelstm.export.validate import sample_sequences  # noqa: E402
from edgelstm.train import TextClassifier  # noqa: E402


def small_model(arch, labels=("neg", "pos")):
    torch.manual_seed(0)
    config = ModelConfig(arch=arch, vocab_size=50, max_len=20, embed_dim=6, hidden=5, dense=7,
                         labels=list(labels), vocabulary=[f"w{i}" for i in range(48)])
    return TextClassifier(config).eval()


def direction(lstm):
    return next((a.s.decode() for a in lstm.attribute if a.name == "direction"), "forward")


@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
def test_graph_is_portable_dynamic_and_self_describing(arch):
    model = small_model(arch)
    proto = build_onnx(model)
    onnx.checker.check_model(proto, full_check=True)
    ops = [n.op_type for n in proto.graph.node]
    # no If either: tract ran a graph with one 12x slower at batch 1 (docs/speed-rounds.md)
    assert not {"Loop", "Scan", "ReverseSequence", "If"} & set(ops)
    lstms = [n for n in proto.graph.node if n.op_type == "LSTM"]
    for lstm in lstms:
        assert lstm.input[4] == "" and lstm.input[5] and lstm.input[6]  # no sequence_lens, state given
    # the bilstm's backward direction is a forward pass over each row's reversed real steps
    assert [direction(n) for n in lstms] == ["forward"] * (1 if arch == "lstm" else 2)
    assert proto.opset_import[0].version >= 17 == OPSET
    inputs, outputs = list(INPUTS), list(OUTPUTS)
    if arch == "lstm":
        inputs += STATE_INPUTS
        outputs += STATE_OUTPUTS
    values = list(proto.graph.input) + list(proto.graph.output)
    assert [v.name for v in values] == [spec.name for spec in inputs + outputs]
    for value, spec in zip(values, inputs + outputs):
        dims = [d.dim_value if d.dim_value else d.dim_param for d in value.type.tensor_type.shape.dim]
        assert dims == [model.config.hidden if a == "hidden" else a for a in spec.axes]
    metadata = {p.key: p.value for p in proto.metadata_props}
    config = ModelConfig.from_json(metadata[METADATA_KEY])
    assert config.arch == arch and config.vocabulary[:2] == ["w0", "w1"] and config.max_len == 20
    assert config.format_version == FORMAT_VERSION == 2


@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
def test_graph_moves_no_float_tensor_between_layouts(arch):
    """Time-major from the ids on: the one Transpose is of the (B, T) int64 ids; the LSTM's output
    is read in its own (T, 1, B, H) layout (profiled: each float Transpose cost 5-6% of a run)."""
    proto = build_onnx(small_model(arch))
    transposes = [n.input[0] for n in proto.graph.node if n.op_type == "Transpose"]
    assert transposes == [INPUTS[0].name]


def pooling_ops(proto):
    """The op types that read the LSTM outputs Y, and what the pooling's float masks are made from."""
    nodes = list(proto.graph.node)
    outputs = {n.output[0] for n in nodes if n.op_type == "LSTM"}
    readers = sorted(n.op_type for n in nodes if outputs & set(n.input))
    producer = {out: n for n in nodes for out in n.output}
    casts = [n for n in nodes if n.op_type == "Cast" and producer.get(n.input[0]) is not None]
    return readers, sorted(producer[n.input[0]].op_type for n in casts if n.output[0].startswith("mask"))


def test_the_bilstm_pooling_masks_by_arithmetic_made_on_the_time_batch_mask():
    """Y + 0/-FLT_MAX for the max and Y x 1/0 for the sum, not a broadcast Where (onnxruntime:
    Where cost about 3x an Add); the float masks made on the (T, B) mask from Less, not on its
    (T, 1, B, 1) form (18x slower there) -- docs/speed-rounds.md."""
    proto = build_onnx(small_model("bilstm"))
    readers, mask_sources = pooling_ops(proto)
    assert readers == ["Add", "Add", "Mul", "Mul"]
    assert mask_sources == ["Less"]
    # the zero state is lengths x zeros, not Shape, Gather, Concat and ConstantOfShape: 3 nodes fewer per call
    assert "ConstantOfShape" not in {n.op_type for n in proto.graph.node}


def test_a_bilstm_text_gets_one_answer_alone_and_in_any_batch(tmp_path):
    """Alone, in a batch of equal lengths and in padded batches, with the neighbours reversed:
    the same probabilities within float32 rounding."""
    import onnxruntime as ort

    from edgelstm.tokenizer import pad_batch

    model = small_model("bilstm")
    session = ort.InferenceSession(build_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"])
    sequences = sample_sequences(50, batch=9, longest=17, rng=np.random.default_rng(3))
    sequences += [sequences[0][::-1], sequences[0][1:] + [4]]  # two more of the longest length

    def run(batch):
        input_ids, lengths = pad_batch(batch)
        return session.run(["probabilities"], {"input_ids": input_ids, "lengths": lengths})[0]

    alone = np.concatenate([run([s]) for s in sequences])
    padded = run(sequences)
    backwards = run(sequences[::-1])[::-1]
    longest = [i for i, s in enumerate(sequences) if len(s) == 17]
    equal = run([sequences[i] for i in longest])
    assert len(longest) >= 3 and len({len(s) for s in sequences}) > 2
    assert np.abs(padded - alone).max() <= 1e-6 and np.abs(backwards - alone).max() <= 1e-6
    assert np.abs(equal - alone[longest]).max() <= 1e-6


def test_the_shipped_model_is_on_todays_graph():
    from edgelstm.classifier import SHIPPED_DIR, SHIPPED_MODEL

    shipped = onnx.load(str(SHIPPED_DIR / SHIPPED_MODEL))
    transposes = [n for n in shipped.graph.node if n.op_type == "Transpose"]
    assert [n.input[0] for n in transposes] == [INPUTS[0].name]
    assert [direction(n) for n in shipped.graph.node if n.op_type == "LSTM"] == ["forward", "forward"]
    assert "If" not in {n.op_type for n in shipped.graph.node}
    assert pooling_ops(shipped) == (["Add", "Add", "Mul", "Mul"], ["Less"])
    assert "ConstantOfShape" not in {n.op_type for n in shipped.graph.node}


def test_validation_checks_the_state_path_and_keeps_the_mode(tmp_path):
    model = small_model("lstm").train()
    path = tmp_path / "m.onnx"
    path.write_bytes(build_onnx(model).SerializeToString())
    validated = validate_onnx(model, path)
    assert max(validated.graph, validated.onnxruntime) < 1e-6
    assert model.training  # the caller's mode is restored
    # final_c is checked too: a graph whose final_c is wrong fails, though probabilities are right
    proto = build_onnx(model)
    squeeze = next(n for n in proto.graph.node if n.output[0] == "final_c")
    squeeze.input[0] = "lstm.Y_h"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ExportValidationError, match="final_c"):
        validate_onnx(model, path)


def test_validation_compares_a_non_zero_initial_state(tmp_path):
    model = small_model("lstm")
    proto = build_onnx(model)
    for node in proto.graph.node:  # ignore the given state: right only when it is zero
        if node.op_type == "LSTM":
            node.input[5] = node.input[6] = ""
    path = tmp_path / "m.onnx"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ExportValidationError, match="non-zero state"):
        validate_onnx(model, path)


def test_forward_with_state_starts_from_the_given_state():
    model = small_model("lstm")
    ids, lengths = torch.tensor([[3, 4, 5, 6]]), torch.tensor([4])
    whole, (h, c) = model.forward_with_state(ids, lengths)
    _, state = model.forward_with_state(ids[:, :2], torch.tensor([2]))
    continued, (h2, c2) = model.forward_with_state(ids[:, 2:], torch.tensor([2]), state)
    assert torch.allclose(whole, continued, atol=1e-6) and torch.allclose(h, h2, atol=1e-6)
    assert torch.equal(model(ids, lengths), whole)


@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
def test_validation_passes_for_a_correct_graph(arch, tmp_path):
    model = small_model(arch, labels=("a", "b", "c"))
    path = tmp_path / "m.onnx"
    path.write_bytes(build_onnx(model).SerializeToString())
    validated = validate_onnx(model, path)
    assert max(validated.graph, validated.onnxruntime) < 1e-6


def test_validation_raises_with_the_max_difference(tmp_path):
    model = small_model("bilstm")
    proto = build_onnx(model)
    weights = next(t for t in proto.graph.initializer if t.name == "lstm.backward.R")
    weights.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weights) * 1.01, "lstm.backward.R"))
    path = tmp_path / "broken.onnx"
    path.write_bytes(proto.SerializeToString())
    message = r"graph \(evaluated exactly\): probabilities differ from PyTorch by [0-9.e-]+ > ATOL 1e-05"
    with pytest.raises(ExportValidationError, match=message):
        validate_onnx(model, path)


def test_sampled_sequences_look_like_text():
    rng = np.random.default_rng(0)
    sequences = sample_sequences(100, batch=5, longest=30, rng=rng)
    assert max(map(len, sequences)) == 30 and min(map(len, sequences)) >= 1
    assert all(1 <= i < 100 for s in sequences for i in s)


@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
def test_two_int8_exports_are_the_same_bytes(trained, tmp_path, arch):
    """No timing decides the artifact: export --int8 twice, compare the files."""
    from tests.helpers import run_cli

    checkpoint = trained[arch][0]
    for run in ("a", "b"):
        result = run_cli("export", checkpoint, "-o", tmp_path / run, "--int8")
        assert result.returncode == 0, result.stderr
    for name in ("model.onnx", "model.int8.onnx"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["model.int8.onnx", "model.onnx", "tokenizer.json"]


def test_concurrent_exports_into_one_folder_leave_a_matching_pair(trained, tmp_path):
    """Two checkpoints exported at once into one folder: model.onnx and model.int8.onnx agree."""
    import subprocess
    import sys

    from edgelstm import Classifier

    runs = [subprocess.Popen([sys.executable, "-m", "edgelstm.cli", "export", str(trained[arch][0]), "-o",
                              str(tmp_path), "--int8"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for arch in ("lstm", "bilstm")]
    errors = [run.communicate()[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    fp32, int8 = Classifier.load(tmp_path / "model.onnx"), Classifier.load(tmp_path / "model.int8.onnx")
    assert fp32.config.arch == int8.config.arch
    # no scratch left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.int8.onnx", "model.onnx", "tokenizer.json"]
