"""The benchmark script runs (on a small model and a few texts); its numbers are not asserted."""

import pytest

from tests.helpers import IMDB, REPO, run_python

pytest.importorskip("torch")


def test_benchmark_script_writes_its_table(trained, tmp_path):
    from edgelstm.export.quantize import DEFAULT_RECIPE, RECIPES_BY_NAME, quantize

    checkpoint, fp32 = trained["lstm"]
    int8 = tmp_path / "model.int8.onnx"
    quantize(fp32, int8, RECIPES_BY_NAME[DEFAULT_RECIPE])
    out = tmp_path / "RESULTS.md"
    result = run_python(REPO / "benchmarks/bench_runtime.py", checkpoint, fp32, int8,
                        "--data", IMDB, "--limit", 100, "--train-limit", 500, "--graphs", "--out", out)
    assert result.returncode == 0, result.stderr
    report = out.read_text()
    for row in ["PyTorch eager (.pt)", "onnxruntime fp32", f"onnxruntime int8 ({DEFAULT_RECIPE})",
                "OpenVINO f32", "tract", "fastText (.ftz", "`Tokenizer.encode_many`", "Hugging Face `tokenizers`",
                "a backend that sleeps", "matmul peak", "past its start-up",
                "LSTM `lstm`", "`Classifier.predict`", "`edgelstm predict FILE`", "Cold start of", "import torch",
                "portable (format 2)", "sequence_lens (format 1)"]:
        assert row in report
