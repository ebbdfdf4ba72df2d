"""Rebuild a ``model.pt`` from an exported model's weights (fp32 or ``weights-s8`` int8):
``python scripts/checkpoint_from_onnx.py runtime/shipped/sentiment-en.int8.onnx runs/shipped/model.pt``.

No checkpoint is committed; the benchmark's PyTorch row and a re-export of the shipped model
start from this one. int8 weights are turned back into float32 as the runtimes do (``Cast`` +
``Mul`` by the per-channel scale, in float32), so the rebuilt model computes what the file does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from edgelstm.config import METADATA_KEY, ModelConfig
from edgelstm.train.checkpoint import save_checkpoint
from edgelstm.train.model import TextClassifier

# ONNX stacks LSTM gates as (input, output, forget, cell); PyTorch as (input, forget, cell, output).
_ONNX_TO_TORCH_GATES = [0, 2, 3, 1]


def float_weights(proto: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Every initializer by name, with ``name.int8`` * ``name.scale`` pairs folded into ``name``."""
    tensors = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    for name in [n for n in tensors if n.endswith(".int8")]:
        base = name.removesuffix(".int8")
        tensors[base] = tensors.pop(name).astype(np.float32) * tensors.pop(f"{base}.scale")
    return tensors


def _torch_gates(onnx_stacked: np.ndarray) -> torch.Tensor:
    chunks = onnx_stacked.reshape(4, -1, *onnx_stacked.shape[1:])
    return torch.from_numpy(np.ascontiguousarray(np.concatenate([chunks[i] for i in _ONNX_TO_TORCH_GATES])))


def rebuild(path: Path) -> TextClassifier:
    proto = onnx.load(str(path))
    config = ModelConfig.from_json({p.key: p.value for p in proto.metadata_props}[METADATA_KEY])
    config.quantization = None
    weights = float_weights(proto)
    model = TextClassifier(config)
    state = {"embedding.weight": torch.from_numpy(np.array(weights["embedding.weight"]))}
    directions = {"lstm.forward": "", "lstm.backward": "_reverse"} if config.arch == "bilstm" else {"lstm": ""}
    for name, suffix in directions.items():
        hidden4 = 4 * config.hidden
        state[f"lstm.weight_ih_l0{suffix}"] = _torch_gates(weights[f"{name}.W"][0])
        state[f"lstm.weight_hh_l0{suffix}"] = _torch_gates(weights[f"{name}.R"][0])
        state[f"lstm.bias_ih_l0{suffix}"] = _torch_gates(weights[f"{name}.B"][0, :hidden4])
        state[f"lstm.bias_hh_l0{suffix}"] = _torch_gates(weights[f"{name}.B"][0, hidden4:])
    linear = [k for k, v in model.state_dict().items() if k.startswith("head.") and k.endswith(".weight")]
    dense_names = [f"dense{i}" for i in range(len(linear) - 1)] + ["logits"]
    for key, name in zip(linear, dense_names):
        state[key] = torch.from_numpy(np.ascontiguousarray(weights[f"{name}.weight"].T))
        state[key.removesuffix("weight") + "bias"] = torch.from_numpy(np.array(weights[f"{name}.bias"]))
    model.load_state_dict(state)
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("checkpoint", type=Path)
    args = parser.parse_args()
    args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(args.checkpoint, rebuild(args.model), history=[])
    print(f"{args.checkpoint}: rebuilt from {args.model}")


if __name__ == "__main__":
    main()
