"""The benchmark script runs (on a small model and a few texts); its numbers are not asserted."""

import subprocess
import sys

import pytest
from conftest import IMDB, REPO

pytest.importorskip("torch")


def test_benchmark_script_writes_its_table(trained, tmp_path):
    from edgelstm.data import load_labeled
    from edgelstm.export.quantize import quantize_measured

    checkpoint, fp32 = trained["lstm"]
    held_out = load_labeled(IMDB).test.sample(200)
    int8 = tmp_path / "model.int8.onnx"
    quantize_measured(fp32, int8, held_out.texts, held_out.labels, recipe="all-s8")
    out = tmp_path / "RESULTS.md"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/bench_runtime.py"), str(checkpoint), str(fp32), str(int8),
         "--data", str(IMDB), "--limit", "100", "--out", str(out)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    report = out.read_text()
    for row in ["PyTorch eager (.pt)", "onnxruntime fp32", "onnxruntime int8 (all-s8)", "cold start of",
                "GFLOP/s", "import torch"]:
        assert row in report
