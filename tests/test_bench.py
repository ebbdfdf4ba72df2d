"""The benchmark script runs (on a small model and a few texts); its numbers are not asserted."""

import pytest

from tests.helpers import IMDB, REPO, run_python

pytest.importorskip("torch")


def test_benchmark_script_writes_its_table(trained, tmp_path):
    from edgelstm.data import load_labeled
    from edgelstm.export.quantize import quantize_measured

    checkpoint, fp32 = trained["lstm"]
    held_out = load_labeled(IMDB).test.sample(200)
    int8 = tmp_path / "model.int8.onnx"
    quantize_measured(fp32, int8, held_out.texts, held_out.labels, recipe="all-s8")
    out = tmp_path / "RESULTS.md"
    result = run_python(REPO / "benchmarks/bench_runtime.py", checkpoint, fp32, int8,
                        "--data", IMDB, "--limit", 100, "--out", out)
    assert result.returncode == 0, result.stderr
    report = out.read_text()
    for row in ["PyTorch eager (.pt)", "onnxruntime fp32", "onnxruntime int8 (all-s8)", "cold start of",
                "GFLOP/s", "import torch"]:
        assert row in report
