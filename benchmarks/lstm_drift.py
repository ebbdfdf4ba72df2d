"""Why onnxruntime's LSTM drifts from float64 more than PyTorch's: a float32 NumPy LSTM of the same
checkpoint with correctly rounded gate activations, and with onnxruntime's own ``Sigmoid`` and
``Tanh`` (MLAS's approximations, which its LSTM kernel calls), each against float64 PyTorch, on
export's validation cases.

    python benchmarks/lstm_drift.py runs/some-bilstm/model.pt

Prints, per case, the largest |logit - float64 logit| of PyTorch float32, onnxruntime (the
exported graph), the same graph in onnx's reference evaluator (export's exact check), and the
NumPy LSTM with exact gates / onnxruntime's gates / only its Sigmoid / only its Tanh; then each
activation's largest error on [-12, 12].
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np

Activation = Callable[[np.ndarray], np.ndarray]


def onnxruntime_activation(op: str) -> Activation:
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node(op, ["x"], ["y"])], op,
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"x": np.ascontiguousarray(x, np.float32)})[0]


def _exact_sigmoid(x: np.ndarray) -> np.ndarray:
    return (1 / (1 + np.exp(-x.astype(np.float64)))).astype(np.float32)


def _exact_tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x.astype(np.float64)).astype(np.float32)


def main() -> None:
    import onnxruntime as ort
    import torch

    from edgelstm.export import build_onnx
    from edgelstm.export.validate import reference_evaluator, sample_sequences, validation_cases
    from edgelstm.tokenizer import pad_batch
    from edgelstm.train import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a bilstm checkpoint (.pt)")
    args = parser.parse_args()
    loaded = load_model(args.checkpoint)
    model = (loaded[0] if isinstance(loaded, tuple) else loaded).eval()
    if model.config.arch != "bilstm":
        raise SystemExit("a bilstm checkpoint, please (the NumPy LSTM here pools both directions)")
    double = copy.deepcopy(model).double()
    proto = build_onnx(model)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    exact = reference_evaluator(proto)
    lstm, hidden = model.lstm, model.config.hidden
    table = model.embedding.weight.detach().numpy()
    sigmoid, tanh = onnxruntime_activation("Sigmoid"), onnxruntime_activation("Tanh")

    def direction(xs: np.ndarray, suffix: str, f: Activation, g: Activation) -> np.ndarray:
        w = getattr(lstm, f"weight_ih_l0{suffix}").detach().numpy()
        r = getattr(lstm, f"weight_hh_l0{suffix}").detach().numpy()
        b = (getattr(lstm, f"bias_ih_l0{suffix}") + getattr(lstm, f"bias_hh_l0{suffix}")).detach().numpy()
        h, c, out = np.zeros(hidden, np.float32), np.zeros(hidden, np.float32), []
        projected = xs @ w.T  # every step at once, as onnxruntime does
        for step in projected:
            z = step + h @ r.T + b  # PyTorch's gate order: input, forget, cell, output
            i, forget, cell, o = f(z[:hidden]), f(z[hidden:2 * hidden]), g(z[2 * hidden:3 * hidden]), f(z[3 * hidden:])
            c = forget * c + i * cell
            h = o * g(c)
            out.append(h)
        return np.array(out)

    def features(ids: list[int], f: Activation, g: Activation) -> np.ndarray:
        xs = table[ids]
        y = np.concatenate([direction(xs, "", f, g), direction(xs[::-1], "_reverse", f, g)[::-1]], axis=1)
        return np.concatenate([y.max(0), y.sum(0, dtype=np.float32) / np.float32(len(ids))])

    gates = {"exact gates": (_exact_sigmoid, _exact_tanh), "onnxruntime's gates": (sigmoid, tanh),
             "its Sigmoid only": (sigmoid, _exact_tanh), "its Tanh only": (_exact_sigmoid, tanh)}
    rng = np.random.default_rng(0)  # export's validation draws
    columns = ["PyTorch fp32", "onnxruntime", "onnx reference"] + [f"NumPy fp32, {k}" for k in gates]
    print("| case | " + " | ".join(columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    with torch.inference_mode():
        for batch, longest in validation_cases(model.config.max_len):
            sequences = sample_sequences(model.config.vocab_size, batch, longest, rng)
            ids, lengths = pad_batch(sequences)
            reference = double.forward_with_state(torch.from_numpy(ids), torch.from_numpy(lengths))[0].numpy()
            single = model.forward_with_state(torch.from_numpy(ids), torch.from_numpy(lengths))[0].numpy()
            runtime = session.run(["logits"], {"input_ids": ids, "lengths": lengths})[0]
            with np.errstate(over="ignore", invalid="ignore"):  # its sigmoids' discarded branch
                graph = exact.run(["logits"], {"input_ids": ids, "lengths": lengths})[0]
            cells = [np.abs(single - reference).max(), np.abs(runtime - reference).max(),
                     np.abs(graph - reference).max()]
            for f, g in gates.values():
                pooled = torch.from_numpy(np.stack([features(s, f, g) for s in sequences])).double()
                cells.append(np.abs(double.head(pooled).numpy() - reference).max())
            print(f"| batch {batch} x {longest} | " + " | ".join(f"{v:.2e}" for v in cells) + " |")
    x = np.linspace(-12, 12, 2_000_001).astype(np.float32)
    wide = x.astype(np.float64)
    for name, approximate in (("Sigmoid", sigmoid), ("Tanh", tanh)):
        reference = 1 / (1 + np.exp(-wide)) if name == "Sigmoid" else np.tanh(wide)
        torch_fn = torch.sigmoid if name == "Sigmoid" else torch.tanh
        print(f"{name} on [-12, 12]: onnxruntime {np.abs(approximate(x) - reference).max():.2e} off float64 at most, "
              f"PyTorch {np.abs(torch_fn(torch.from_numpy(x)).numpy() - reference).max():.2e}")


if __name__ == "__main__":
    main()
