"""int8 that pays off: candidate recipes measured on this machine, the smallest that keeps
fp32's speed and accuracy wins.

onnxruntime's default dynamic quantization also turns the LSTM into DynamicQuantizeLSTM,
which was measured slower than fp32 here; so no recipe is assumed good, each is measured.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx

from edgelstm.classifier import Classifier
from edgelstm.config import METADATA_KEY
from edgelstm.errors import EdgelstmError

from .timing import interleaved_latencies, median_length_text

__all__ = [
    "RECIPES", "Recipe", "Measurement", "QuantizationError", "quantize", "measure", "choose", "quantize_measured",
]

log = logging.getLogger(__name__)

ACCURACY_BUDGET = 0.003  # int8 may lose at most 0.3 accuracy points against fp32
SPEED_NOISE = 0.05  # "not slower": within 5% of fp32, the spread of repeated timings here
LATENCY_RUNS = 300
MEASURE_THREADS = 1  # timings are per thread, comparable across machines and runs


class QuantizationError(EdgelstmError):
    exit_code = 7


@dataclass(frozen=True)
class Recipe:
    name: str
    op_types: tuple[str, ...]  # Gather: embedding; MatMul: dense layers; LSTM: recurrent weights
    weight_type: str = "QInt8"
    per_channel: bool = False
    reduce_range: bool = False


RECIPES = (
    Recipe("embedding", ("Gather",), "QUInt8"),  # onnxruntime stores Gather weights as uint8 either way
    Recipe("embedding+dense-u8", ("Gather", "MatMul"), "QUInt8"),
    Recipe("embedding+dense-s8", ("Gather", "MatMul")),
    Recipe("embedding+dense-s8-per-channel", ("Gather", "MatMul"), per_channel=True),
    Recipe("all-s8", ("Gather", "MatMul", "LSTM")),
    Recipe("all-s8-reduce-range", ("Gather", "MatMul", "LSTM"), reduce_range=True),
    Recipe("all-s8-per-channel", ("Gather", "MatMul", "LSTM"), per_channel=True),
)
RECIPES_BY_NAME = {r.name: r for r in RECIPES}


@dataclass
class Measurement:
    name: str
    size_bytes: int
    latency_ms: float  # batch 1, tokenize + infer, median-length text, median of runs
    latency_p99_ms: float
    throughput: float  # texts/s at batch 64, length-bucketed, inference only
    accuracy: float
    agreement: float  # share of labels equal to fp32's


class _QuietQuantizerLogs(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:  # its pre-processing hint is not ours
        return "pre-processing" not in record.getMessage()


def quantize(fp32_path: Path, output: Path, recipe: Recipe) -> None:
    """Write the int8 model of ``recipe``; its metadata records the recipe."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = _QuietQuantizerLogs()
    logging.getLogger().addFilter(quiet)
    try:
        quantize_dynamic(
            Path(fp32_path), Path(output), op_types_to_quantize=list(recipe.op_types),
            weight_type=QuantType[recipe.weight_type], per_channel=recipe.per_channel,
            reduce_range=recipe.reduce_range,
        )
    finally:
        logging.getLogger().removeFilter(quiet)
    _set_quantization(Path(output), {"recipe": asdict(recipe)})


def _set_quantization(path: Path, quantization: dict) -> None:
    proto = onnx.load(str(path))
    config = Classifier.load(path).config
    config.quantization = quantization
    onnx.helper.set_model_props(proto, {METADATA_KEY: config.to_json()})
    path.write_bytes(proto.SerializeToString())


def measure(
    models: dict[str, Path], texts: Sequence[str], labels: Sequence[str], rounds: int = 5
) -> list[Measurement]:
    """Size, speed and accuracy of each model file, the first being the fp32 reference.

    Timings are interleaved (see ``interleaved_latencies``).
    """
    classifiers = {name: Classifier.load(path, threads=MEASURE_THREADS) for name, path in models.items()}
    first = next(iter(classifiers.values()))
    probe = median_length_text(first, texts)
    latencies = dict(zip(models, interleaved_latencies(list(classifiers.values()), probe, LATENCY_RUNS, rounds)))
    sequences = first.encode(texts)
    throughput = dict.fromkeys(models, 0.0)
    predicted = {}
    for _ in range(2):  # the better of two passes, interleaved like the latencies
        for name, classifier in classifiers.items():
            start = time.perf_counter()
            predicted[name] = classifier.predict_ids(sequences, batch_size=64).argmax(axis=1)
            throughput[name] = max(throughput[name], len(texts) / (time.perf_counter() - start))
    reference = predicted[next(iter(models))]
    label_ids = next(iter(classifiers.values())).labels
    targets = np.array([label_ids.index(label) for label in labels])
    return [
        Measurement(
            name=name, size_bytes=Path(path).stat().st_size,
            latency_ms=statistics.median(latencies[name]),
            latency_p99_ms=float(np.percentile(latencies[name], 99)),
            throughput=throughput[name], accuracy=float((predicted[name] == targets).mean()),
            agreement=float((predicted[name] == reference).mean()),
        )
        for name, path in models.items()
    ]


def choose(fp32: Measurement, candidates: list[Measurement], budget: float = ACCURACY_BUDGET) -> Measurement | None:
    """The smallest candidate not slower than fp32 and within the accuracy budget."""
    good = [
        c for c in candidates
        if c.size_bytes < fp32.size_bytes
        and c.latency_ms <= fp32.latency_ms * (1 + SPEED_NOISE)
        and c.throughput >= fp32.throughput * (1 - SPEED_NOISE)
        and c.accuracy >= fp32.accuracy - budget
    ]
    return min(good, key=lambda c: (c.size_bytes, c.latency_ms), default=None)


def quantize_measured(
    fp32_path: Path,
    output: Path,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    recipe: str | None = None,
    budget: float = ACCURACY_BUDGET,
) -> tuple[Measurement, list[Measurement]]:
    """Measure the candidates (or the forced ``recipe``) and write the winner to ``output``.

    Returns the winner and the whole table (fp32 first). The winner's metadata records its
    recipe, the table, the budget and the number of validation texts.
    """
    import shutil
    import tempfile

    from edgelstm.train.checkpoint import atomic_write

    if recipe is not None and recipe not in RECIPES_BY_NAME:
        raise QuantizationError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES_BY_NAME)}")
    candidates = [RECIPES_BY_NAME[recipe]] if recipe else list(RECIPES)
    with tempfile.TemporaryDirectory(prefix="edgelstm-int8-") as tmp:
        files = {"fp32": Path(fp32_path)}
        for candidate in candidates:
            files[candidate.name] = Path(tmp) / f"{candidate.name}.onnx"
            quantize(fp32_path, files[candidate.name], candidate)
        log.info("measuring fp32 and %d int8 candidates on %d texts", len(candidates), len(texts))
        table = measure(files, texts, labels)
        fp32, measured = table[0], table[1:]
        winner = measured[0] if recipe else choose(fp32, measured, budget)
        if winner is None:
            raise QuantizationError(
                "no int8 recipe is smaller, not slower and within the accuracy budget here; "
                "keep the fp32 model or force one with --recipe"
            )

        def write(target: Path) -> None:
            shutil.copyfile(files[winner.name], target)
            _set_quantization(target, {
                "recipe": asdict(RECIPES_BY_NAME[winner.name]),
                "chosen_by": "forced" if recipe else "measured",
                "accuracy_budget": budget, "validation_texts": len(texts), "threads": MEASURE_THREADS,
                "measurements": [asdict(m) for m in table],
            })

        atomic_write(Path(output), write)
    return winner, table

