"""Build the ONNX graph of a ``TextClassifier`` directly from its weights.

The graph is written to run exactly alike in every ONNX runtime (onnxruntime, OpenVINO, tract):
no ``sequence_lens`` (OpenVINO mishandles it for ``Y_h`` on padded batches, tract refuses a
non-constant one), the initial state always given, the state at each text's last real token
read from ``Y`` at ``lengths - 1`` (GatherElements), and the BiLSTM's backward direction a
forward LSTM between two reversals of each row's real steps (GatherElements; tract has no
``ReverseSequence``).
Writing the ~40 nodes here keeps the graph small, and ``validate`` proves it equal to PyTorch.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from edgelstm.config import (
    BIGRAM_HASH,
    FORMAT_VERSION,
    INPUTS,
    METADATA_KEY,
    OUTPUTS,
    STATE_INPUTS,
    STATE_OUTPUTS,
    ModelConfig,
    TensorSpec,
)
from edgelstm.train.model import TextClassifier

__all__ = ["build_onnx", "OPSET"]

OPSET = 17
_DTYPES = {"int64": TensorProto.INT64, "float32": TensorProto.FLOAT}
# PyTorch stacks LSTM gates as (input, forget, cell, output); ONNX as (input, output, forget, cell).
_TORCH_TO_ONNX_GATES = [0, 3, 1, 2]


def _value_info(spec, hidden: int):
    axes = [hidden if axis == "hidden" else axis for axis in spec.axes]
    return helper.make_tensor_value_info(spec.name, _DTYPES[spec.dtype], axes)


def _gates(weight: torch.Tensor, order: list[int] = _TORCH_TO_ONNX_GATES, dtype: type = np.float32) -> np.ndarray:
    """(4H, ...) PyTorch gate rows in ``order`` (ONNX's by default), as ``dtype``."""
    chunks: np.ndarray = weight.detach().cpu().numpy().astype(dtype).reshape(4, -1, *weight.shape[1:])
    return np.concatenate([chunks[i] for i in order])


class _Graph:
    """Collects nodes and initializers; each ``op`` returns its output's name."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def const(self, name: str, value) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attrs))
        return output


def _weights(lstm: torch.nn.LSTM, suffix: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One direction's W (1, 4H, E), R (1, 4H, H) and B (1, 8H) in ONNX gate order."""
    w = _gates(getattr(lstm, f"weight_ih_l0{suffix}"))[None]
    r = _gates(getattr(lstm, f"weight_hh_l0{suffix}"))[None]
    b = np.concatenate([_gates(getattr(lstm, f"bias_ih_l0{suffix}")), _gates(getattr(lstm, f"bias_hh_l0{suffix}"))])
    return w, r, b[None]


def _forward_lstm(g: _Graph, lstm: torch.nn.LSTM, suffix: str, name: str, x: str, h0: str, c0: str) -> str:
    """A forward LSTM over every step: (T, B, E) -> Y (T, 1, B, H); Y_h, Y_c (1, B, H) as name.Y_h/Y_c."""
    w, r, b = _weights(lstm, suffix)
    inputs = [x, g.const(f"{name}.W", w), g.const(f"{name}.R", r), g.const(f"{name}.B", b), "", h0, c0]
    outputs = [f"{name}.Y", f"{name}.Y_h", f"{name}.Y_c"]
    g.nodes.append(helper.make_node("LSTM", inputs, outputs, name=name, hidden_size=lstm.hidden_size))
    return outputs[0]


def _zero_state(g: _Graph, input_ids: str, hidden: int) -> str:
    """Zeros (1, B, H) shaped from the batch: tract needs the initial state given."""
    batch = g.op("Gather", [g.op("Shape", [input_ids], "ids.shape.0"), g.const("zero.1", np.array([0], np.int64))],
                 "batch.1")
    shape = g.op("Concat", [g.const("one.1", np.array([1], np.int64)), batch,
                            g.const("hidden.1", np.array([hidden], np.int64))], "state.shape", axis=0)
    return g.op("ConstantOfShape", [shape], "zero_state", value=numpy_helper.from_array(np.zeros(1, np.float32)))


def _zero_state_from(g: _Graph, lengths_f: str, hidden: int, directions: int = 1) -> str:
    """Zeros (D, B, H) as the float lengths (B, 1) x zeros (D, 1, H): one node where _zero_state
    takes four (Shape, Gather, Concat, ConstantOfShape), for the BiLSTM, which has that column
    anyway (the mean's divisor); a length is finite, so every product is exactly +0. Not for the
    plain LSTM: tract (0.23) fails on it in that graph ("Clashing resolution for expression")."""
    zeros = g.const(f"zeros.{'1' if directions == 1 else directions}1h", np.zeros((directions, 1, hidden), np.float32))
    return g.op("Mul", [lengths_f, zeros], "zero_state")


def _at_last_real_step(g: _Graph, y: str, lengths: str, hidden: int) -> str:
    """Y (T, 1, B, H) -> (B, H): each row's output at step lengths - 1, read in Y's own layout."""
    seq = g.op("Squeeze", [y, g.const("axis.1", np.array([1], np.int64))], "lstm.tbh")  # (T, B, H)
    last = g.op("Sub", [lengths, g.const("one.i", np.array(1, np.int64))], "last_step")  # (B,)
    index = g.op("Reshape", [last, g.const("shape.1b1", np.array([1, -1, 1], np.int64))], "last_step.1b1")
    index = g.op("Expand", [index, g.const("shape.11h", np.array([1, 1, hidden], np.int64))], "last_step.1bh")
    picked = g.op("GatherElements", [seq, index], "lstm.last.1bh", axis=0)  # (1, B, H)
    return g.op("Squeeze", [picked, g.const("axis.0b", np.array([0], np.int64))], "lstm.last")  # (B, H)


def _dense(g: _Graph, layer: torch.nn.Linear, x: str, name: str) -> str:
    """MatMul + Add rather than Gemm: onnxruntime's dynamic int8 quantizer handles MatMul."""
    weight = g.const(f"{name}.weight", layer.weight.detach().cpu().float().numpy().T)  # (in, out)
    bias = g.const(f"{name}.bias", layer.bias.detach().cpu().float().numpy())
    return g.op("Add", [g.op("MatMul", [x, weight], f"{name}.matmul"), bias], name)


def _steps(g: _Graph, ids_tb: str) -> str:
    """T, the padded length, as a scalar."""
    return g.op("Gather", [g.op("Shape", [ids_tb], "ids.shape"), g.const("zero", np.array(0, np.int64))], "steps")


def _real_steps(g: _Graph, steps: str, lengths: str) -> tuple[str, str]:
    """Positions (T, 1) and the mask (T, B) of each text's real steps, time-major like the LSTM."""
    positions = g.op("Range", [g.const("zero.r", np.array(0, np.int64)), steps, g.const("one", np.array(1, np.int64))],
                     "positions")  # (T,)
    positions = g.op("Unsqueeze", [positions, "axis_1"], "positions.t1")
    mask = g.op("Less", [positions, g.op("Unsqueeze", [lengths, g.const("axis_0", np.array([0], np.int64))],
                                         "lengths.1b")], "mask")  # (T, B)
    return positions, mask


def _reversal_index(g: _Graph, positions: str, mask: str) -> str:
    """(T, B): for each row, step t reads step lengths-1-t on real steps, itself on padding.

    ONNX ReverseSequence would do it, but tract (0.23) cannot run it; GatherElements runs everywhere.
    """
    last = g.op("Sub", ["lengths.1b", "one"], "last.1b")  # (1, B)
    return g.op("Where", [mask, g.op("Sub", [last, positions], "reversed_positions"), positions],
                "reversed_index")  # (T, B)


def _masked_pooling(g: _Graph, directions: list[str], mask: str, count: str) -> str:
    """Max and mean over each text's real steps of each direction's Y (T, 1, B, H) -> (B, 4H):
    forward max, backward max, forward mean, backward mean, in Y's own layout (no transpose:
    max and sum over the leading axes read each row's steps in order). Each direction is pooled
    where it lies: no Concat copies the two outputs into one (T, 1, B, 2H) first.

    The mask is arithmetic with two float masks made once for both directions: the sum reads
    Y x 1/0 (padding adds a zero, so the sum is the same to the bit as masking with Where) and
    the max Y + 0/-FLT_MAX (padding reads -FLT_MAX, below every output, and every text has a real
    step). In onnxruntime a broadcast Add or Mul costs about a third of the broadcast Where it
    replaces, and the masks are made on the (T, B) mask, then unsqueezed: the same Cast, Sub and
    Mul on the (T, 1, B, 1) shape took 18x longer (profiled; docs/speed-rounds.md)."""
    real = g.op("Cast", [mask], "mask.real", to=TensorProto.FLOAT)  # (T, B): 1 on real steps, 0 on padding
    padding = g.op("Sub", [real, g.const("one_f.mask", np.array(1.0, np.float32))], "mask.padding")  # 0 or -1
    lowest = g.op("Mul", [padding, g.const("float_max", np.array(np.finfo(np.float32).max, np.float32))],
                  "mask.lowest")  # 0 or -FLT_MAX
    axes_1_3 = g.const("axes_1_3", np.array([1, 3], np.int64))
    real = g.op("Unsqueeze", [real, axes_1_3], "mask.real.t1b1")  # (T, 1, B, 1) like Y
    lowest = g.op("Unsqueeze", [lowest, axes_1_3], "mask.lowest.t1b1")
    axes = g.const("axes_0_1", np.array([0, 1], np.int64))
    largest, means = [], []
    for seq in directions:
        largest.append(g.op("ReduceMax", [g.op("Add", [seq, lowest], f"{seq}.masked")], f"{seq}.max",
                            axes=[0, 1], keepdims=0))  # (B, H)
        total = g.op("ReduceSum", [g.op("Mul", [seq, real], f"{seq}.zeroed"), axes], f"{seq}.sum", keepdims=0)
        means.append(g.op("Div", [total, count], f"{seq}.mean"))  # (B, H)
    return g.op("Concat", largest + means, "features", axis=1)  # (B, 4H)


def _bilstm_features(g: _Graph, model: TextClassifier, ids_tb: str, x: str, lengths: str) -> str:
    """(B, 4H) pooled BiLSTM features; the backward direction is a forward LSTM over each row's
    real steps reversed. One form serves every batch: an If taking one bidirectional node for
    batches without padding ran 1.06x-1.36x faster at batch 1 in onnxruntime, but tract ran that
    graph 12x slower at batch 1 and 3.0x at batch 64 (docs/speed-rounds.md)."""
    count = g.op("Cast", [g.op("Unsqueeze", [lengths, g.const("axis_1", np.array([1], np.int64))], "lengths.col")],
                 "lengths.f", to=TensorProto.FLOAT)  # (B, 1)
    zeros = _zero_state_from(g, count, model.config.hidden)  # (1, B, H)
    positions, mask = _real_steps(g, _steps(g, ids_tb), lengths)
    reversal = _reversal_index(g, positions, mask)  # (T, B)
    y_forward = _forward_lstm(g, model.lstm, "", "lstm.forward", x, zeros, zeros)  # (T, 1, B, H)
    # Reversing the ids and looking them up costs less than reversing the vectors.
    reversed_ids = g.op("GatherElements", [ids_tb, reversal], "input_ids.reversed", axis=0)  # (T, B)
    reversed_x = g.op("Gather", ["embedding.weight", reversed_ids], "embedded.reversed")  # (T, B, E)
    y_reversed = _forward_lstm(g, model.lstm, "_reverse", "lstm.backward", reversed_x, zeros, zeros)
    # Not reversed back: max and mean pooling over the real steps do not depend on their order,
    # and the reversal keeps real steps real and padding in place, so one mask serves both.
    return _masked_pooling(g, [y_forward, y_reversed], mask, count)  # (B, 4H)


def _head(g: _Graph, head: torch.nn.Module, x: str, output: str) -> str:
    layers = list(head) if isinstance(head, torch.nn.Sequential) else [head]
    dense = [m for m in layers if isinstance(m, torch.nn.Linear)]
    for i, layer in enumerate(dense):  # Dropout is the identity at inference
        x = _dense(g, layer, x, output if i == len(dense) - 1 else f"dense{i}")
        if i < len(dense) - 1:
            x = g.op("Relu", [x], f"dense{i}.relu")
    return x


def _wide_term(g: _Graph, model: TextClassifier, ids_tb: str, lengths: str) -> str:
    """The wide bag-of-words term (B, outputs): each real token's row of the table, plus with
    ``wide_bigrams`` each real pair's hashed row, averaged over the text's real tokens (padding
    is masked, whatever id it holds). Gather, Less, Where, ReduceSum, Div, and for the pairs
    int64 Mod/Mul/Add below 2**24: ops onnxruntime, OpenVINO and tract all run alike (tests/test_wide.py); no
    tensor is ever empty (a pair's left token is read at max(t - 1, 0), the first step masked).
    The table is quantized like the embedding (a Gather's weight)."""
    assert model.wide is not None
    config = model.config
    table = g.const("wide.weight", model.wide.weight.detach().cpu().float().numpy())
    weights = g.op("Gather", [table, ids_tb], "wide.gathered")  # (T, B, outputs)
    steps = g.op("Gather", [g.op("Shape", [ids_tb], "wide.ids.shape"), g.const("wide.zero", np.array(0, np.int64))],
                 "wide.steps")
    positions = g.op("Range", [g.const("wide.start", np.array(0, np.int64)), steps,
                               g.const("wide.step", np.array(1, np.int64))], "wide.positions")  # (T,)
    positions_t11 = g.op("Reshape", [positions, g.const("wide.shape.t11", np.array([-1, 1, 1], np.int64))],
                         "wide.positions.t11")
    lengths_1b1 = g.op("Reshape", [lengths, g.const("wide.shape.1b1", np.array([1, -1, 1], np.int64))],
                       "wide.lengths.1b1")
    real = g.op("Less", [positions_t11, lengths_1b1], "wide.real")  # (T, B, 1)
    zero = g.const("wide.zero_f", np.array(0.0, np.float32))
    axis_0 = g.const("wide.axis_0", np.array([0], np.int64))
    total = g.op("ReduceSum", [g.op("Where", [real, weights, zero], "wide.masked"), axis_0],
                 "wide.sum.words", keepdims=0)  # (B, O)
    if config.wide_bigrams:
        previous_step = g.op("Max", [g.op("Sub", [positions, g.const("wide.one", np.array(1, np.int64))],
                                          "wide.positions.minus_1"), "wide.zero"], "wide.previous_step")  # (T,)
        previous = g.op("Gather", [ids_tb, previous_step], "wide.previous_ids", axis=0)  # (T, B)
        buckets = g.const("wide.buckets", np.array(config.wide_bigrams, np.int64))
        left = g.op("Mod", [previous, buckets], "wide.pair.left")
        hashed = g.op("Add", [g.op("Mul", [left, g.const("wide.hash", np.array(BIGRAM_HASH, np.int64))],
                                   "wide.pair.scaled"), ids_tb], "wide.pair")  # below 2**24 (edgelstm.config)
        rows = g.op("Add", [g.op("Mod", [hashed, buckets], "wide.pair.bucket"),
                            g.const("wide.offset", np.array(config.vocab_size, np.int64))], "wide.pair.row")  # (T, B)
        pairs = g.op("Gather", [table, rows], "wide.pairs.gathered")  # (T, B, outputs)
        # real pairs: step t >= 1 of a real token (two Wheres: tract 0.21 misreads And's broadcast)
        after_first = g.op("Less", [g.const("wide.zero.t11", np.zeros((1, 1, 1), np.int64)), positions_t11],
                           "wide.after_first")  # (T, 1, 1)
        masked = g.op("Where", [after_first, g.op("Where", [real, pairs, zero], "wide.pairs.real"), zero],
                      "wide.pairs.masked")
        pair_total = g.op("ReduceSum", [masked, axis_0], "wide.sum.pairs", keepdims=0)
        total = g.op("Add", [total, pair_total], "wide.sum")
    count = g.op("Cast", [g.op("Reshape", [lengths, g.const("wide.shape.b1", np.array([-1, 1], np.int64))],
                               "wide.lengths.b1")], "wide.count", to=TensorProto.FLOAT)  # (B, 1)
    return g.op("Div", [total, count], "wide.mean")


def _outputs(g: _Graph, model: TextClassifier, features: str, wide: str | None = None) -> None:
    """The head on the (B, features), plus the ``wide`` term's (B, outputs) if any: the
    ``logits`` (B, outputs) and ``probabilities`` (B, labels) outputs."""
    probabilities, logits = (spec.name for spec in OUTPUTS)
    if wide is None:
        _head(g, model.head, features, logits)  # (B, outputs)
    else:
        g.op("Add", [_head(g, model.head, features, "deep.logits"), wide], logits)
    if model.config.num_outputs == 1:
        positive = g.op("Sigmoid", [logits], "positive")  # (B, 1)
        negative = g.op("Sub", [g.const("one_f", np.array(1.0, np.float32)), positive], "negative")
        g.op("Concat", [negative, positive], probabilities, axis=1)  # (B, 2)
    else:
        g.op("Softmax", [logits], probabilities, axis=1)


def build_onnx(model: TextClassifier) -> onnx.ModelProto:
    """The model as an ONNX graph with dynamic batch and sequence axes (see edgelstm.config)."""
    config = model.config
    hidden = config.hidden
    g = _Graph()
    input_ids, lengths = (spec.name for spec in INPUTS)
    # Time-major from the start: transposing the ids (T, B) costs less than the vectors (T, B, E).
    ids_tb = g.op("Transpose", [input_ids], "input_ids.tb", perm=[1, 0])  # (T, B)
    x = g.op("Gather", [g.const("embedding.weight", model.embedding.weight.detach().cpu().float().numpy()),
                        ids_tb], "embedded")  # (T, B, E)
    inputs, outputs = list(INPUTS), list(OUTPUTS)
    if config.arch == "lstm" and config.has_state:
        inputs += STATE_INPUTS
        outputs += STATE_OUTPUTS
        axis_0 = g.const("axis.0", np.array([0], np.int64))
        h0, c0 = (g.op("Unsqueeze", [spec.name, axis_0], f"{spec.name}.1bh") for spec in STATE_INPUTS)  # (1, B, H)
        y = _forward_lstm(g, model.lstm, "", "lstm", x, h0, c0)
        for state, spec in zip(("lstm.Y_h", "lstm.Y_c"), STATE_OUTPUTS):
            g.op("Squeeze", [state, axis_0], spec.name)  # (B, H)
        features = _at_last_real_step(g, y, lengths, hidden)  # (B, H)
    elif config.arch == "lstm":  # no state in or out: the wide term reads the whole text at once
        zeros = _zero_state(g, input_ids, hidden)
        y = _forward_lstm(g, model.lstm, "", "lstm", x, zeros, zeros)
        features = _at_last_real_step(g, y, lengths, hidden)  # (B, H)
    else:
        features = _bilstm_features(g, model, ids_tb, x, lengths)  # (B, 4H)
    wide = _wide_term(g, model, ids_tb, lengths) if model.wide is not None else None
    _outputs(g, model, features, wide)
    return _model_proto(g, config, inputs, outputs)


def _model_proto(g: _Graph, config: ModelConfig, inputs: list[TensorSpec], outputs: list[TensorSpec],
                 name: str = "edgelstm") -> onnx.ModelProto:
    """``g`` as a checked model file: the inputs and outputs, the opset, and ``config`` as metadata."""
    graph = helper.make_graph(g.nodes, name, [_value_info(s, config.hidden) for s in inputs],
                              [_value_info(s, config.hidden) for s in outputs], g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="edgelstm")
    proto.ir_version = 8  # readable by onnxruntime >= 1.14
    written = dataclasses.replace(config, format_version=FORMAT_VERSION)  # this graph's format, not the checkpoint's
    helper.set_model_props(proto, {METADATA_KEY: written.to_json()})
    onnx.checker.check_model(proto, full_check=True)
    return proto
