"""Regenerate tests/data/tiny-{lstm,bilstm}.onnx: untrained, a few KB, for runtime tests.

The runtime tests use these files so they run without torch; this script (which needs the
train extra) is how they were made: ``python tests/make_tiny_model.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from edgelstm.config import ModelConfig
from edgelstm.export import build_onnx, validate_onnx
from edgelstm.train import TextClassifier

HERE = Path(__file__).parent / "data"
WORDS = "the a and of to is in it this that was movie film good great bad awful best worst love hate boring fun".split()


def make(arch: str, labels: list[str]) -> TextClassifier:
    torch.manual_seed(7)
    config = ModelConfig(arch=arch, vocab_size=len(WORDS) + 2, max_len=16, embed_dim=4, hidden=3,
                         dense=5, dropout=0.0, labels=labels, vocabulary=WORDS,
                         metrics={"note": "untrained test model"})
    return TextClassifier(config).eval()


def main(outdir: Path = HERE) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    for name, arch, labels in [("tiny-lstm", "lstm", ["neg", "pos"]),
                               ("tiny-bilstm", "bilstm", ["negative", "neutral", "positive"])]:
        model = make(arch, labels)
        path = outdir / f"{name}.onnx"
        path.write_bytes(build_onnx(model).SerializeToString())
        print(f"{path}: {path.stat().st_size} bytes, validated: {validate_onnx(model, path)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
