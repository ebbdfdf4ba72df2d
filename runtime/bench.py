"""Side-by-side benchmark of model files (PyTorch .pt, onnxruntime fp32 and int8) in one run.

Everything is measured in this process, interleaved, with the thread count fixed, so the
ratios between models are what to read; absolute numbers depend on the machine (described
in the output).
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .classifier import Classifier
from .config import ModelConfig
from .data import label_targets
from .predictions import accuracy
from .timing import interleaved_latencies, median_length_text

__all__ = ["BenchResult", "flop_per_token", "matmul_gflops", "run_benchmark", "to_markdown"]

LATENCY_RUNS = 300
ROUNDS = 3
COLD_STARTS = 5


@dataclass
class BenchResult:
    name: str
    path: str
    size_bytes: int
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    throughput: float = 0.0  # texts/s, tokenize + infer, batch 64 by length
    gflops: float = 0.0  # achieved in the throughput pass
    accuracy: float = 0.0
    cold_start_s: float | None = None  # `edgelstm predict one_review.txt` in a fresh process
    extra: dict[str, Any] = field(default_factory=dict)


def flop_per_token(config: ModelConfig) -> int:
    """Multiply-adds x 2 of the recurrent layer per token: 4 gates x H x (E + H) per direction."""
    directions = 2 if config.arch == "bilstm" else 1
    return int(directions * 2 * 4 * config.hidden * (config.embed_dim + config.hidden))


def _median_cmd_seconds(command: list[str], runs: int = COLD_STARTS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _predict_command() -> list[str]:
    script = shutil.which("edgelstm")
    return [script] if script else [sys.executable, "-m", "edgelstm.cli"]


def matmul_gflops(threads: int) -> float | None:
    """One float32 matrix multiply's GFLOP/s on ``threads`` threads (onnxruntime's MLAS); None
    without the onnx package, which builds the probe (measuring models never needs it)."""
    import onnxruntime as ort

    try:
        from onnx import TensorProto, helper
    except ModuleNotFoundError:
        return None

    n = 512
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "mm",
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [n, n]) for x in "ab"],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    session.run(None, {"a": a, "b": a})
    runs = 20
    start = time.perf_counter()
    for _ in range(runs):
        session.run(None, {"a": a, "b": a})
    return 2 * n**3 * runs / (time.perf_counter() - start) / 1e9


def run_benchmark(
    models: Sequence[Path], texts: Sequence[str], labels: Sequence[str], threads: int = 1,
    cold_start: bool = True,
) -> tuple[list[BenchResult], dict[str, Any]]:
    """Measure every model on the same texts; returns the rows and a description of the run."""
    classifiers = [Classifier.load(path, threads=threads) for path in models]
    # each model scored against its own label order; a label one does not know fails before timing
    all_targets = [label_targets(labels, c.labels, path) for path, c in zip(models, classifiers)]
    results = [BenchResult(_name(p, c), str(p), Path(p).stat().st_size) for p, c in zip(models, classifiers)]
    lengths = [len(s) for s in classifiers[0].encode(texts)]
    median_text = median_length_text(classifiers[0], texts)
    latencies = interleaved_latencies(classifiers, median_text, LATENCY_RUNS, ROUNDS)
    for result, classifier, lat, targets in zip(results, classifiers, latencies, all_targets):
        result.latency_p50_ms = statistics.median(lat)
        result.latency_p99_ms = float(np.percentile(lat, 99))
        start = time.perf_counter()
        probabilities = classifier.predict_proba(texts)
        seconds = time.perf_counter() - start
        result.throughput = len(texts) / seconds
        result.gflops = sum(lengths) * flop_per_token(classifier.config) / seconds / 1e9
        result.accuracy = accuracy(probabilities, targets)
    if cold_start:
        with tempfile.TemporaryDirectory() as tmp:
            review = Path(tmp) / "one_review.txt"
            review.write_text(median_text.replace("\n", " ") + "\n", encoding="utf-8")
            for result in results:
                if result.path.endswith(".onnx"):
                    result.cold_start_s = _median_cmd_seconds(
                        _predict_command() + ["predict", "--model", result.path, str(review)])
    machine = {
        "cpu": _cpu_name(), "cores": os.cpu_count(), "threads": threads, "python": platform.python_version(),
        "texts": len(texts), "median_tokens": int(np.median(lengths)),
        "matmul_gflops_1_thread": None if (gflops := matmul_gflops(1)) is None else round(gflops, 1),
        "import_torch_s": _median_cmd_seconds([sys.executable, "-c", "import torch"]) if cold_start else None,
        "flop_per_token": flop_per_token(classifiers[0].config),
    }
    return results, machine


def _name(path: Path, classifier: Classifier) -> str:
    if str(path).endswith(".pt"):
        return "PyTorch eager (.pt)"
    if classifier.config.quantization is not None:
        return f"onnxruntime int8 ({classifier.config.quantization.recipe_name})"
    return "onnxruntime fp32"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def to_markdown(results: list[BenchResult], machine: dict[str, Any]) -> str:
    base = results[0]
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']} cores; {machine['threads']} inference thread(s); "
        f"Python {machine['python']}. {machine['texts']} texts, median {machine['median_tokens']} tokens. "
        f"One-thread float32 matmul: {machine['matmul_gflops_1_thread'] or 'not measured (needs onnx)'} GFLOP/s; "
        f"the model needs {machine['flop_per_token'] / 1000:.1f} kFLOP per token.",
        "",
        "| model | size | batch-1 p50 | batch-1 p99 | texts/s | GFLOP/s | accuracy | cold start |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        cold = f"{r.cold_start_s:.2f} s" if r.cold_start_s is not None else "–"
        lines.append(
            f"| {r.name} | {r.size_bytes / 1024:.0f} KiB ({r.size_bytes / base.size_bytes:.0%}) "
            f"| {r.latency_p50_ms:.3f} ms ({r.latency_p50_ms / base.latency_p50_ms:.2f}x) "
            f"| {r.latency_p99_ms:.3f} ms | {r.throughput:.0f} ({r.throughput / base.throughput:.2f}x) "
            f"| {r.gflops:.2f} | {r.accuracy:.2%} | {cold} |"
        )
    if machine.get("import_torch_s"):
        lines += ["", f"For comparison, `python -c \"import torch\"` takes {machine['import_torch_s']:.2f} s here."]
    return "\n".join(lines) + "\n"
