"""The format-1 graph (edgelstm <= 0.x): the fused LSTM with ``sequence_lens``, for the benchmark only.

bench_runtime.py builds it from the same checkpoint as the portable format-2 graph, so their
onnxruntime speeds can be compared side by side in one run. Not part of the package.
"""

from __future__ import annotations

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

from edgelstm.config import INPUTS, METADATA_KEY, OUTPUTS
from edgelstm.export.graph import OPSET, _gates, _Graph, _outputs  # what both formats share
from edgelstm.train.model import TextClassifier

__all__ = ["build_legacy_onnx"]

_DTYPES = {"int64": TensorProto.INT64, "float32": TensorProto.FLOAT}


def _value_info(spec):
    return helper.make_tensor_value_info(spec.name, _DTYPES[spec.dtype], list(spec.axes))


def _lstm(g: _Graph, lstm: torch.nn.LSTM, x: str, lengths: str) -> tuple[str, str]:
    """The (bi)LSTM as one fused ONNX LSTM node: (T, B, E) -> Y (T, D, B, H), Y_h (D, B, H)."""
    suffixes = [""] + (["_reverse"] if lstm.bidirectional else [])
    w = np.stack([_gates(getattr(lstm, f"weight_ih_l0{s}")) for s in suffixes])  # (D, 4H, E)
    r = np.stack([_gates(getattr(lstm, f"weight_hh_l0{s}")) for s in suffixes])  # (D, 4H, H)
    b = np.stack([  # (D, 8H): input biases then recurrent biases
        np.concatenate([_gates(getattr(lstm, f"bias_ih_l0{s}")), _gates(getattr(lstm, f"bias_hh_l0{s}"))])
        for s in suffixes
    ])
    seq_lens = g.op("Cast", [lengths], "sequence_lens", to=TensorProto.INT32)  # (B,)
    inputs = [x, g.const("lstm.W", w), g.const("lstm.R", r), g.const("lstm.B", b), seq_lens]
    node = helper.make_node(
        "LSTM", inputs, ["lstm.Y", "lstm.Y_h"], name="lstm", hidden_size=lstm.hidden_size,
        direction="bidirectional" if lstm.bidirectional else "forward",
    )
    g.nodes.append(node)
    return "lstm.Y", "lstm.Y_h"


def _masked_pooling(g: _Graph, y: str, input_ids: str, lengths: str) -> str:
    """Max and mean over each text's real steps: Y (T, 2, B, H) -> (B, 4H)."""
    seq = g.op("Transpose", [y], "seq.btdh", perm=[2, 0, 1, 3])  # (B, T, 2, H)
    seq = g.op("Reshape", [seq, g.const("shape.bt_", np.array([0, 0, -1], np.int64))], "seq")  # (B, T, 2H)
    steps = g.op("Gather", [g.op("Shape", [input_ids], "ids.shape"), g.const("one", np.array(1, np.int64))], "steps")
    positions = g.op("Range", [g.const("zero", np.array(0, np.int64)), steps, "one"], "positions")  # (T,)
    axis_1 = g.const("axis_1", np.array([1], np.int64))
    mask = g.op("Less", [g.op("Unsqueeze", [positions, g.const("axis_0", np.array([0], np.int64))], "positions.1t"),
                         g.op("Unsqueeze", [lengths, axis_1], "lengths.b1")], "mask")  # (B, T)
    mask = g.op("Unsqueeze", [mask, g.const("axis_2", np.array([2], np.int64))], "mask.bt1")  # (B, T, 1)
    lowest = g.const("minus_inf", np.array(-np.inf, np.float32))
    largest = g.op("ReduceMax", [g.op("Where", [mask, seq, lowest], "seq.masked")], "pool.max",
                   axes=[1], keepdims=0)  # (B, 2H)
    zero = g.const("zero_f", np.array(0.0, np.float32))
    total = g.op("ReduceSum", [g.op("Where", [mask, seq, zero], "seq.zeroed"), axis_1], "pool.sum", keepdims=0)
    count = g.op("Cast", [g.op("Unsqueeze", [lengths, axis_1], "lengths.col")], "lengths.f", to=TensorProto.FLOAT)
    mean = g.op("Div", [total, count], "pool.mean")  # (B, 2H)
    return g.op("Concat", [largest, mean], "features", axis=1)  # (B, 4H)


def build_legacy_onnx(model: TextClassifier) -> onnx.ModelProto:
    """The model as an ONNX graph with dynamic batch and sequence axes (see edgelstm.config)."""
    config = model.config
    g = _Graph()
    input_ids, lengths = (spec.name for spec in INPUTS)
    embedded = g.op("Gather", [g.const("embedding.weight", model.embedding.weight.detach().cpu().float().numpy()),
                               input_ids], "embedded")  # (B, T, E)
    x = g.op("Transpose", [embedded], "embedded.tbe", perm=[1, 0, 2])  # (T, B, E)
    y, y_h = _lstm(g, model.lstm, x, lengths)
    if config.arch == "lstm":
        features = g.op("Squeeze", [y_h, g.const("axis0", np.array([0], np.int64))], "features")  # (B, H)
    else:
        features = _masked_pooling(g, y, input_ids, lengths)  # (B, 4H)
    _outputs(g, model, features)
    graph = helper.make_graph(
        g.nodes, "edgelstm", [_value_info(s) for s in INPUTS], [_value_info(s) for s in OUTPUTS],
        g.initializers,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="edgelstm")
    proto.ir_version = 8  # readable by onnxruntime >= 1.14
    import dataclasses

    helper.set_model_props(proto, {METADATA_KEY: dataclasses.replace(config, format_version=1).to_json()})
    onnx.checker.check_model(proto, full_check=True)
    return proto
