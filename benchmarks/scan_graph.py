"""A candidate graph for issue 19, for the benchmark only: the LSTM as one ONNX ``Scan`` over
precomputed input gates, instead of onnxruntime's ``LSTM`` kernel.

    python benchmarks/scan_graph.py runs/shipped/model.pt -o /tmp/scan.onnx
    python benchmarks/graph_ab.py runs/shipped/model.onnx /tmp/scan.onnx \\
        --data ../shared/datasets/aclImdb_v1_labeled.tar.gz --limit 1280   # also --runtime openvino / tract

Why it can be faster: the input projection (embedding x W_ih, 4H x E per token and direction:
76% of the shipped BiLSTM's arithmetic) depends on the token id alone, so it is computed once per
vocabulary word at build time (in float64, then rounded: closer to the float64 model than a
float32 product) and looked up, one Gather for both directions; each step is then only the
recurrent product and the gates, both directions in one batched MatMul. The cost is size: the
gate table has 4H columns per direction where the embedding has E (the shipped BiLSTM: 2 x 128
against 100, 25.6 MB in float32 against 10 MB). ``--projection matmul`` writes the same Scan
without the table (the embedding projected per batch, one MatMul per direction), to measure what
the table buys (README, issue 19: at batch 64 it ran 0.54x the table's Scan).

The rest is export/graph.py's (its helpers are imported): the time-major ids, the reversed ids
of the backward direction, the masked max and mean pooling, the wide term, the head and outputs,
and the same metadata, so ``Classifier.load`` reads the file. BiLSTM models and LSTM models
without state inputs; the streaming form (``initial_h``/``final_h``) is not written here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from edgelstm.config import INPUTS, OUTPUTS
from edgelstm.export.graph import (  # what this graph shares with the exported one
    _at_last_real_step,
    _gates,
    _Graph,
    _masked_pooling,
    _model_proto,
    _outputs,
    _real_steps,
    _reversal_index,
    _steps,
    _wide_term,
    _zero_state_from,
)
from edgelstm.train.checkpoint import load_model
from edgelstm.train.model import TextClassifier

__all__ = ["build_scan_onnx"]

# the gate table's and recurrent weights' column order: the three sigmoid gates, then the cell's
# candidate, so one Split gives (sigmoid part, tanh part); PyTorch stacks (i, f, g, o)
_TORCH_TO_SCAN_GATES = [0, 1, 3, 2]


def _reordered(weight: torch.Tensor) -> np.ndarray:
    """(4H, ...) PyTorch gate rows -> (4H, ...) float64 in (i, f, o, g) order."""
    return _gates(weight, _TORCH_TO_SCAN_GATES, np.float64)


def _input_bias(model: TextClassifier, suffix: str) -> np.ndarray:
    """(4H,) float64: both biases of a direction, which the input gates carry."""
    lstm = model.lstm
    return _reordered(getattr(lstm, f"bias_ih_l0{suffix}")) + _reordered(getattr(lstm, f"bias_hh_l0{suffix}"))


def _gate_table(model: TextClassifier, suffix: str) -> np.ndarray:
    """(V, 4H) float32: every word's input gates, embedding x W_ih^T + both biases, in float64."""
    embedding = model.embedding.weight.detach().cpu().double().numpy()  # (V, E)
    weight = _reordered(getattr(model.lstm, f"weight_ih_l0{suffix}"))
    return (embedding @ weight.T + _input_bias(model, suffix)).astype(np.float32)


def _step_body(hidden: int, directions: int, recurrent: str) -> onnx.GraphProto:
    """One step for all directions at once: state h, c (D, B, H), input gates x (D, B, 4H) ->
    the next h, c and h again as the step's output; ``recurrent`` (D, H, 4H) is the outer graph's."""
    def value(name: str, width: int) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, [directions, "batch", width])

    split_gates = numpy_helper.from_array(np.array([3 * hidden, hidden], np.int64), "split.gates")
    split_sigmoid = numpy_helper.from_array(np.array([hidden] * 3, np.int64), "split.sigmoid")
    nodes = [
        helper.make_node("MatMul", ["h", recurrent], ["hr"]),  # (D, B, 4H)
        helper.make_node("Add", ["x", "hr"], ["gates"]),
        helper.make_node("Split", ["gates", "split.gates"], ["ifo.pre", "g.pre"], axis=2),
        helper.make_node("Sigmoid", ["ifo.pre"], ["ifo"]),
        helper.make_node("Split", ["ifo", "split.sigmoid"], ["i", "f", "o"], axis=2),  # (D, B, H) each
        helper.make_node("Tanh", ["g.pre"], ["g"]),
        helper.make_node("Mul", ["f", "c"], ["fc"]),
        helper.make_node("Mul", ["i", "g"], ["ig"]),
        helper.make_node("Add", ["fc", "ig"], ["c.next"]),
        helper.make_node("Tanh", ["c.next"], ["c.tanh"]),
        helper.make_node("Mul", ["o", "c.tanh"], ["h.next"]),
        helper.make_node("Identity", ["h.next"], ["y"]),  # a graph output cannot be listed twice
    ]
    return helper.make_graph(
        nodes, "lstm.step",
        [value("h", hidden), value("c", hidden), value("x", 4 * hidden)],
        [value("h.next", hidden), value("c.next", hidden), value("y", hidden)],
        [split_gates, split_sigmoid],
    )


def _scan(g: _Graph, model: TextClassifier, gate_ids: str, zeros: str, directions: int,
          projection: str = "table") -> str:
    """Y (T, D, B, H) of the LSTM over ``gate_ids`` (T, D, B): rows of the (D V, 4H) gate table
    (``projection`` "table"), or word ids whose embeddings one MatMul per direction projects
    ("matmul": the exported file's weights, no table)."""
    hidden = model.config.hidden
    suffixes = ["", "_reverse"][:directions]
    recurrent = g.const("lstm.R", np.stack([  # (D, H, 4H)
        _reordered(getattr(model.lstm, f"weight_hh_l0{s}")).T.astype(np.float32) for s in suffixes]))
    if projection == "table":
        table = g.const("lstm.gates", np.concatenate([_gate_table(model, s) for s in suffixes]))
        x = g.op("Gather", [table, gate_ids], "lstm.x")  # (T, D, B, 4H)
    else:
        # per direction: (T, B, E) x (E, 4H), which onnxruntime runs as one (T B, E) GEMM
        embedding = g.const("embedding", model.embedding.weight.detach().cpu().numpy().astype(np.float32))
        axis_1 = g.const("scan.axis_1", np.array([1], np.int64))
        parts = []
        for d, s in enumerate(suffixes):
            w = g.const(f"lstm.W.{d}", _reordered(getattr(model.lstm, f"weight_ih_l0{s}")).T.astype(np.float32))
            bias = g.const(f"lstm.B.{d}", _input_bias(model, s).astype(np.float32))  # (4H,)
            ids = g.op("Gather", [gate_ids, g.const(f"direction.{d}", np.array(d, np.int64))], f"ids.{d}",
                       axis=1)  # (T, B)
            embedded = g.op("Gather", [embedding, ids], f"embedded.{d}")  # (T, B, E)
            projected = g.op("Add", [g.op("MatMul", [embedded, w], f"lstm.xw.{d}"), bias], f"lstm.x.{d}")
            parts.append(g.op("Unsqueeze", [projected, axis_1], f"lstm.x.{d}.1"))  # (T, 1, B, 4H)
        x = g.op("Concat", parts, "lstm.x", axis=1) if len(parts) > 1 else parts[0]  # (T, D, B, 4H)
    g.nodes.append(helper.make_node("Scan", [zeros, zeros, x], ["lstm.h", "lstm.c", "lstm.Y"], name="lstm",
                                    num_scan_inputs=1, body=_step_body(hidden, directions, recurrent)))
    return "lstm.Y"


def build_scan_onnx(model: TextClassifier, projection: str = "table") -> onnx.ModelProto:
    """``model`` (bilstm, or lstm without state) as the Scan graph, with the exported file's
    inputs, outputs and metadata; ``projection``: _scan's."""
    config = model.config
    if config.arch == "lstm" and config.has_state:
        raise ValueError("the streaming form (state inputs) is not written by this benchmark graph")
    hidden, directions = config.hidden, 2 if config.arch == "bilstm" else 1
    g = _Graph()
    input_ids, lengths = (spec.name for spec in INPUTS)
    ids_tb = g.op("Transpose", [input_ids], "input_ids.tb", perm=[1, 0])  # (T, B)
    axis_1 = g.const("axis_1", np.array([1], np.int64))
    count = g.op("Cast", [g.op("Unsqueeze", [lengths, axis_1], "lengths.col")], "lengths.f",
                 to=TensorProto.FLOAT)  # (B, 1)
    zeros = _zero_state_from(g, count, hidden, directions)  # (D, B, H)
    positions, mask = _real_steps(g, _steps(g, ids_tb), lengths)
    gate_ids = g.op("Unsqueeze", [ids_tb, axis_1], "gate_ids.forward")  # (T, 1, B)
    if directions == 2:  # the backward direction reads each row's real steps reversed, rows V.. of the table
        reversed_ids = g.op("GatherElements", [ids_tb, _reversal_index(g, positions, mask)], "input_ids.reversed",
                            axis=0)
        shifted = (g.op("Add", [reversed_ids, g.const("vocab", np.array(config.vocab_size, np.int64))],
                        "gate_ids.backward.tb") if projection == "table" else reversed_ids)
        gate_ids = g.op("Concat", [gate_ids, g.op("Unsqueeze", [shifted, axis_1], "gate_ids.backward")],
                        "gate_ids", axis=1)  # (T, 2, B)
    y = _scan(g, model, gate_ids, zeros, directions, projection)  # (T, D, B, H)
    if directions == 2:
        forward, backward = (g.op("Slice", [y, g.const(f"start.{d}", np.array([d], np.int64)),
                                            g.const(f"end.{d}", np.array([d + 1], np.int64)), axis_1],
                                  f"lstm.Y.{d}") for d in (0, 1))  # (T, 1, B, H) each
        features = _masked_pooling(g, [forward, backward], mask, count)  # (B, 4H)
    else:
        features = _at_last_real_step(g, y, lengths, hidden)  # (B, H)
    wide = _wide_term(g, model, ids_tb, lengths) if model.wide is not None else None
    _outputs(g, model, features, wide)
    return _model_proto(g, config, list(INPUTS), list(OUTPUTS), "edgelstm-scan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a model.pt")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--projection", choices=("table", "matmul"), default="table", help="the input gates "
                        "looked up per word (a table of 4H columns per direction), or the embedding projected by "
                        "one batched MatMul per batch (the exported file's size)")
    args = parser.parse_args()
    model = load_model(args.checkpoint).eval()
    onnx.save(build_scan_onnx(model, args.projection), str(args.output))
    print(f"wrote {args.output} ({args.output.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
