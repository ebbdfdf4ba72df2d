"""int8 models, batch-invariant by rule.

The default recipe is weight-only: every weight matrix is stored as int8 with one scale per
output channel and turned back into float32 by ``Cast`` + ``Mul``; every activation stays
float32. Runtimes fold these constant nodes at load, so the model then computes exactly like
an fp32 model: a text's answer never depends on its batch neighbours or the thread count, the
graph runs in any ONNX runtime, and the file is the same bytes on every run.

Why not ``DequantizeLinear``: onnxruntime (1.32) rewrites ``DequantizeLinear -> MatMul`` into
its ``MatMulNBits`` kernel, whose batch-1 path rounds differently from its batched path
(measured 2.4e-5 apart on real reviews). onnxruntime's quantizer has no int8 weight-only mode
for Gather/LSTM/MatMul that avoids this, so the rewrite is done here, on the ONNX graph alone.

onnxruntime's dynamic recipes (``DynamicQuantizeLSTM``, ``MatMulInteger``) stay available on
request (``ACTIVATION_RECIPES``): they compute one activation scale per input batch, so a
text's answer then depends on its neighbours. They are never chosen automatically.

No timing decides anything here: the recipe is fixed by rule; timings are only reported.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from edgelstm.config import METADATA_KEY, ModelConfig
from edgelstm.errors import EdgelstmError

if TYPE_CHECKING:
    from edgelstm.bench import BenchResult

__all__ = [
    "RECIPES", "ACTIVATION_RECIPES", "DEFAULT_RECIPE", "Recipe", "QuantizationError", "quantize",
    "quantize_checked", "quantize_file", "is_int8",
]

log = logging.getLogger(__name__)

ACCURACY_BUDGET = 0.003  # int8 may lose at most 0.3 accuracy points against fp32
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
    batch_invariant: bool = True  # False: activations are quantized per batch at run time


# Offered by default: weight-only, batch-invariant.
RECIPES = (Recipe("weights-s8", ("Gather", "MatMul", "LSTM"), per_channel=True),)
DEFAULT_RECIPE = RECIPES[0].name
# Only on explicit request: onnxruntime's dynamic quantization. Answers depend on the batch.
ACTIVATION_RECIPES = (
    Recipe("dynamic-embedding+dense-s8", ("Gather", "MatMul"), batch_invariant=False),
    Recipe("dynamic-all-s8", ("Gather", "MatMul", "LSTM"), batch_invariant=False),
    Recipe("dynamic-all-s8-per-channel", ("Gather", "MatMul", "LSTM"), per_channel=True, batch_invariant=False),
)
RECIPES_BY_NAME = {r.name: r for r in RECIPES + ACTIVATION_RECIPES}
_QUANTIZED_OPS = {"DequantizeLinear", "DynamicQuantizeLSTM", "MatMulInteger", "DynamicQuantizeLinear"}


def is_int8(proto: onnx.ModelProto, config: ModelConfig) -> bool:
    """Whether a model already holds quantized weights (ours or onnxruntime's)."""
    return config.quantization is not None or any(node.op_type in _QUANTIZED_OPS for node in proto.graph.node)


# Which axis of each weight matrix holds the output channels, by the consumer's op and input.
_CHANNEL_AXIS = {("Gather", 0): 0, ("LSTM", 1): 1, ("LSTM", 2): 1, ("MatMul", 1): 1}


def _weight_only(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Every weight matrix as int8 (symmetric, one scale per output channel) + Cast + Mul."""
    initializers = {t.name: t for t in proto.graph.initializer}
    axes: dict[str, int] = {}
    for node in proto.graph.node:
        for position, name in enumerate(node.input):
            axis = _CHANNEL_AXIS.get((node.op_type, position))
            if axis is not None and name in initializers and initializers[name].data_type == onnx.TensorProto.FLOAT:
                axes[name] = axis
    dequantize = []
    kept = []
    for tensor in proto.graph.initializer:
        if tensor.name not in axes:
            kept.append(tensor)
            continue
        weight = numpy_helper.to_array(tensor).astype(np.float32)
        axis = axes[tensor.name]
        others = tuple(i for i in range(weight.ndim) if i != axis)
        largest = np.abs(weight).max(axis=others)  # (channels,)
        scale = np.where(largest > 0, largest / 127.0, 1.0).astype(np.float32)
        shape = [1] * weight.ndim
        shape[axis] = -1
        quantized = np.clip(np.rint(weight / scale.reshape(shape)), -127, 127).astype(np.int8)
        base = tensor.name
        kept += [
            numpy_helper.from_array(quantized, f"{base}.int8"),
            numpy_helper.from_array(scale.reshape(shape), f"{base}.scale"),
        ]
        dequantize += [
            helper.make_node("Cast", [f"{base}.int8"], [f"{base}.float"], name=f"{base}.float",
                             to=onnx.TensorProto.FLOAT),
            helper.make_node("Mul", [f"{base}.float", f"{base}.scale"], [base], name=f"{base}.dequantize"),
        ]
    graph = proto.graph
    nodes = dequantize + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    onnx.checker.check_model(proto, full_check=True)
    return proto


class _QuietQuantizerLogs(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:  # onnxruntime's quantizer hints are not ours
        return False


def _dynamic(fp32_path: Path, output: Path, recipe: Recipe) -> None:
    import tempfile

    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = _QuietQuantizerLogs()
    root = logging.getLogger()
    root.addFilter(quiet)
    try:
        # the quantizer writes scratch files next to its output: keep them in a folder of ours
        with tempfile.TemporaryDirectory(prefix="edgelstm-int8-") as tmp:
            scratch = Path(tmp) / "model.int8.onnx"
            quantize_dynamic(
                Path(fp32_path), scratch, op_types_to_quantize=list(recipe.op_types),
                weight_type=QuantType[recipe.weight_type], per_channel=recipe.per_channel,
                reduce_range=recipe.reduce_range,
            )
            output.write_bytes(scratch.read_bytes())
    finally:
        root.removeFilter(quiet)


def quantize(fp32_path: Path, output: Path, recipe: Recipe, report: dict[str, Any] | None = None) -> None:
    """Write the int8 model of ``recipe``; its metadata records the recipe and ``report``.

    Same input, same bytes: nothing measured at run time enters the file.
    """
    proto = onnx.load(str(fp32_path))
    metadata = {p.key: p.value for p in proto.metadata_props}
    if METADATA_KEY not in metadata:
        raise QuantizationError(f"{fp32_path}: not an edgelstm model (no metadata)")
    config = ModelConfig.from_json(metadata[METADATA_KEY])
    if is_int8(proto, config):
        raise QuantizationError(f"{fp32_path}: already an int8 model; quantize its fp32 model.onnx")
    if recipe.batch_invariant:
        proto = _weight_only(proto)
    else:
        _dynamic(Path(fp32_path), Path(output), recipe)
        proto = onnx.load(str(output))
    config.quantization = {"recipe": asdict(recipe), "batch_invariant": recipe.batch_invariant, **(report or {})}
    del proto.metadata_props[:]
    helper.set_model_props(proto, {METADATA_KEY: config.to_json()})
    Path(output).write_bytes(proto.SerializeToString())


def _accuracy(path: Path, sequences: list[list[int]], targets: np.ndarray) -> tuple[float, np.ndarray]:
    from edgelstm.classifier import Classifier

    predicted = Classifier.load(path, threads=MEASURE_THREADS).predict_ids(sequences, batch_size=64).argmax(axis=1)
    return float((predicted == targets).mean()), predicted


def quantize_checked(
    fp32_path: Path,
    output: Path,
    texts: Sequence[str] = (),
    labels: Sequence[str] = (),
    *,
    recipe: str = DEFAULT_RECIPE,
    budget: float = ACCURACY_BUDGET,
    timings: bool = True,
) -> tuple[Recipe, list[BenchResult]]:
    """Write ``recipe``'s int8 model to ``output``, checked on labeled texts.

    With texts, the int8 model must stay within ``budget`` accuracy of fp32 (deterministic:
    the same texts give the same verdict) and its metadata records both accuracies. Timings,
    when asked for, are measured afterwards and returned for display only.
    """
    import tempfile

    if recipe not in RECIPES_BY_NAME:
        raise QuantizationError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES_BY_NAME)}")
    chosen = RECIPES_BY_NAME[recipe]
    with tempfile.TemporaryDirectory(prefix="edgelstm-int8-") as tmp:
        reference = Path(tmp) / "model.onnx"  # a private copy: the input may be replaced meanwhile
        reference.write_bytes(Path(fp32_path).read_bytes())
        fp32_path, candidate, source = reference, Path(output), fp32_path
        if texts:  # labels the model does not know fail before any work
            from edgelstm.classifier import Classifier
            from edgelstm.data import label_targets

            classifier = Classifier.load(fp32_path)
            targets = label_targets(labels, classifier.labels, source)
            sequences = classifier.encode(texts)
        quantize(fp32_path, candidate, chosen)
        report: dict[str, Any] = {}
        if texts:
            fp32_accuracy, fp32_labels = _accuracy(Path(fp32_path), sequences, targets)
            int8_accuracy, int8_labels = _accuracy(candidate, sequences, targets)
            report = {"accuracy_budget": budget, "validation_texts": len(texts), "fp32_accuracy": fp32_accuracy,
                      "accuracy": int8_accuracy, "agreement": float((fp32_labels == int8_labels).mean())}
            if int8_accuracy < fp32_accuracy - budget:
                raise QuantizationError(
                    f"recipe {recipe} loses {100 * (fp32_accuracy - int8_accuracy):.2f} accuracy points "
                    f"(budget {100 * budget:.2f}) on {len(texts)} texts; keep the fp32 model"
                )
            quantize(fp32_path, candidate, chosen, report)
        table: list[BenchResult] = []
        if timings and texts:  # the one measuring path, edgelstm.bench; reported, never used to choose
            from edgelstm.bench import run_benchmark

            table = run_benchmark([Path(fp32_path), candidate], texts, labels, threads=MEASURE_THREADS,
                                  cold_start=False)[0]
    return chosen, table


def quantize_file(
    model: Path,
    output: Path | None = None,
    texts: Sequence[str] = (),
    labels: Sequence[str] = (),
    *,
    inputs: Sequence[Path | None] = (),
    recipe: str = DEFAULT_RECIPE,
    budget: float = ACCURACY_BUDGET,
    timings: bool = True,
) -> tuple[Path, Recipe, list[BenchResult]]:
    """``edgelstm quantize``: the int8 model of an fp32 ``model.onnx``, written to ``output``
    (default: beside it, ``.int8.onnx``) only once checked (quantize_checked).

    ``output`` may replace an earlier edgelstm model, never ``model`` itself, one of ``inputs``
    (the labeled data) or any other file (edgelstm.files.check_output: InputError, exit 4).
    Returns the written path, the recipe and the timings table.
    """
    from edgelstm.classifier import Classifier, is_onnx_model
    from edgelstm.files import check_output, publish, staging_folder

    model = Path(model)
    if Classifier.load(model).config.quantization is not None:  # a missing or foreign file fails here too
        raise QuantizationError(f"{model}: already an int8 model; quantize its fp32 model.onnx")
    target = Path(output) if output is not None else model.with_name(model.name.removesuffix(".onnx") + ".int8.onnx")
    if check_output(target, inputs=[model, *inputs], replaceable=is_onnx_model, what="an edgelstm model"):
        log.warning("%s: overwriting the existing model", target)
    with staging_folder(target.parent) as staging:
        staged = staging / "model.int8.onnx"
        chosen, table = quantize_checked(model, staged, texts, labels, recipe=recipe, budget=budget,
                                         timings=timings)
        publish({target: staged})
    return target, chosen, table
