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
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from edgelstm.config import METADATA_KEY, ModelConfig, Quantization
from edgelstm.errors import QuantizationError

from .recipes import (
    ACCURACY_BUDGET,
    ACTIVATION_RECIPES,
    DEFAULT_RECIPE,
    RECIPES,
    RECIPES_BY_NAME,
    Recipe,
)

if TYPE_CHECKING:
    from edgelstm.bench import BenchResult
    from edgelstm.classifier import Classifier
    from edgelstm.data import LabeledTexts

__all__ = [
    "RECIPES", "ACTIVATION_RECIPES", "DEFAULT_RECIPE", "Recipe", "QuantizationError", "quantize",
    "judging_texts", "quantize_checked", "quantize_file", "quantize_model", "is_int8", "warn_unchecked",
]

log = logging.getLogger(__name__)

MEASURE_THREADS = 1  # timings are per thread, comparable across machines and runs
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


def _dynamic(proto: onnx.ModelProto, recipe: Recipe) -> onnx.ModelProto:
    import tempfile

    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = _QuietQuantizerLogs()
    root = logging.getLogger()
    root.addFilter(quiet)
    try:
        # the quantizer reads and writes files (and scratch files next to its output): in a folder of ours
        with tempfile.TemporaryDirectory(prefix="edgelstm-int8-") as tmp:
            source, scratch = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
            source.write_bytes(proto.SerializeToString())
            quantize_dynamic(
                source, scratch, op_types_to_quantize=list(recipe.op_types),
                weight_type=QuantType[recipe.weight_type], per_channel=recipe.per_channel,
                reduce_range=recipe.reduce_range,
            )
            return onnx.load(str(scratch))
    finally:
        root.removeFilter(quiet)


def _config(proto: onnx.ModelProto, name: object) -> ModelConfig:
    """The fp32 model's metadata; a QuantizationError for a foreign or already int8 model."""
    metadata = {p.key: p.value for p in proto.metadata_props}
    if METADATA_KEY not in metadata:
        raise QuantizationError(f"{name}: not an edgelstm model (no metadata)")
    config = ModelConfig.from_json(metadata[METADATA_KEY])
    if is_int8(proto, config):
        raise QuantizationError(f"{name}: already an int8 model; quantize its fp32 model.onnx")
    return config


def _record(proto: onnx.ModelProto, config: ModelConfig, quantization: Quantization) -> onnx.ModelProto:
    """``proto`` with ``config`` + ``quantization`` as its only metadata."""
    del proto.metadata_props[:]
    helper.set_model_props(proto, {METADATA_KEY: replace(config, quantization=quantization).to_json()})
    return proto


def quantize_model(proto: onnx.ModelProto, recipe: Recipe, report: dict[str, Any] | None = None, *,
                   name: object = "model") -> onnx.ModelProto:
    """The int8 model of ``recipe`` (a new proto; ``proto`` is left as it was); its metadata
    records the recipe and ``report`` (``Quantization``'s measured fields).

    Same input, same bytes: nothing measured at run time enters the file unless given in ``report``.
    """
    config = _config(proto, name)
    work = onnx.ModelProto()
    work.CopyFrom(proto)
    quantized = _weight_only(work) if recipe.batch_invariant else _dynamic(work, recipe)
    return _record(quantized, config, _quantization(recipe, report))


def _quantization(recipe: Recipe, report: dict[str, Any] | None) -> Quantization:
    return Quantization.from_dict({"recipe": asdict(recipe), "batch_invariant": recipe.batch_invariant,
                                   **(report or {})})


def quantize(fp32_path: Path, output: Path, recipe: Recipe, report: dict[str, Any] | None = None) -> None:
    """Write the int8 model of ``recipe`` (``quantize_model`` of the file ``fp32_path``) to ``output``."""
    proto = onnx.load(str(fp32_path))
    Path(output).write_bytes(quantize_model(proto, recipe, report, name=fp32_path).SerializeToString())


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

    With texts, the int8 model must stay within ``budget`` accuracy (a fraction) of fp32
    (deterministic: the same texts give the same verdict) and its metadata records both
    accuracies. ``output`` is written once, after the check. Timings, when asked for, are
    measured afterwards and returned for display only.
    """
    import tempfile

    if recipe not in RECIPES_BY_NAME:
        raise QuantizationError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES_BY_NAME)}")
    chosen = RECIPES_BY_NAME[recipe]
    source = Path(fp32_path).read_bytes()  # read once: the input may be replaced meanwhile
    with tempfile.TemporaryDirectory(prefix="edgelstm-int8-") as tmp:
        reference = Path(tmp) / "model.onnx"
        reference.write_bytes(source)
        fp32 = targets = None
        if texts:  # labels the model does not know fail before any work
            from edgelstm.classifier import Classifier
            from edgelstm.data import label_targets

            fp32 = Classifier.load(reference, threads=MEASURE_THREADS)
            targets = label_targets(labels, fp32.labels, fp32_path)
        candidate = quantize_model(onnx.load_from_string(source), chosen, name=fp32_path)
        if fp32 is not None and targets is not None:
            scratch = Path(tmp) / "model.int8.onnx"  # measured before its metadata can say how it did
            scratch.write_bytes(candidate.SerializeToString())
            report = _check(fp32, scratch, texts, targets, budget, recipe)
            candidate = _record(candidate, _config_of(candidate), _quantization(chosen, report))
        Path(output).write_bytes(candidate.SerializeToString())
        table: list[BenchResult] = []
        if timings and texts:  # the one measuring path, edgelstm.bench; reported, never used to choose
            from edgelstm.bench import run_benchmark

            table = run_benchmark([reference, Path(output)], texts, labels, threads=MEASURE_THREADS,
                                  cold_start=False)[0]
    return chosen, table


def _config_of(proto: onnx.ModelProto) -> ModelConfig:
    return ModelConfig.from_json({p.key: p.value for p in proto.metadata_props}[METADATA_KEY])


def _check(fp32: Classifier, candidate: Path, texts: Sequence[str], targets: np.ndarray, budget: float,
           recipe: str) -> dict[str, Any]:
    """Both models' accuracy on the labeled texts; a QuantizationError if int8 loses more than ``budget``."""
    from edgelstm.classifier import Classifier
    from edgelstm.predictions import accuracy

    int8 = Classifier.load(candidate, threads=MEASURE_THREADS)
    sequences = fp32.encode(texts)
    fp32_probabilities, int8_probabilities = fp32.predict_ids(sequences), int8.predict_ids(sequences)
    fp32_accuracy, int8_accuracy = accuracy(fp32_probabilities, targets), accuracy(int8_probabilities, targets)
    agreement = float((fp32_probabilities.argmax(axis=1) == int8_probabilities.argmax(axis=1)).mean())
    if int8_accuracy < fp32_accuracy - budget:
        raise QuantizationError(
            f"recipe {recipe} loses {100 * (fp32_accuracy - int8_accuracy):.2f} accuracy points "
            f"(budget {100 * budget:.2f}) on {len(texts)} texts; keep the fp32 model"
        )
    return {"accuracy_budget": budget, "validation_texts": len(texts), "fp32_accuracy": fp32_accuracy,
            "accuracy": int8_accuracy, "agreement": agreement}


def judging_texts(data: Path | None = None, checkpoint: Path | None = None) -> LabeledTexts | None:
    """The labeled texts int8 accuracy is checked on: ``data``'s evaluation split (at most
    HELD_OUT_CAP, a seeded sample), else those kept in the ``checkpoint``, else None (the int8 file
    is still written, with ``warn_unchecked``'s warning)."""
    from edgelstm.data import HELD_OUT_CAP, load_evaluation

    if data is not None:
        return load_evaluation(data).sample(HELD_OUT_CAP)
    if checkpoint is not None:
        from edgelstm.train.checkpoint import load_held_out  # torch: only for a checkpoint

        held_out = load_held_out(Path(checkpoint))
        if held_out:
            return held_out
    return None


def warn_unchecked() -> None:
    """Said once every check has passed and int8 is made without judging texts."""
    log.warning("warning: int8 accuracy not checked against fp32: give labeled texts with --data "
                "(or train with --keep-validation-texts)")


def quantize_file(
    model: Path,
    output: Path | None = None,
    texts: Sequence[str] = (),
    labels: Sequence[str] = (),
    *,
    data: Path | None = None,
    inputs: Sequence[Path | None] = (),
    recipe: str = DEFAULT_RECIPE,
    budget: float = ACCURACY_BUDGET,
    timings: bool = True,
) -> tuple[Path, Recipe, list[BenchResult]]:
    """``edgelstm quantize``: the int8 model of an fp32 ``model.onnx``, written to ``output``
    (default: beside it, ``.int8.onnx``) only once checked (quantize_checked) on ``texts`` and
    ``labels``, or else on labeled ``data`` (``judging_texts``).

    ``output`` may replace an earlier edgelstm model, never ``model`` itself, one of ``inputs``
    (the labeled data) or any other file (edgelstm.files.check_output: InputError, exit 4).
    Returns the written path, the recipe and the timings table.
    """
    from edgelstm.classifier import Classifier, is_onnx_model
    from edgelstm.files import check_output, publish, staging_folder

    model = Path(model)
    if Classifier.load(model).config.quantization is not None:  # a missing or foreign file fails here too
        raise QuantizationError(f"{model}: already an int8 model; quantize its fp32 model.onnx")
    if not texts:  # a data error fails before any work
        held_out = judging_texts(data)
        if held_out is not None:
            texts, labels = held_out.texts, held_out.labels
    target = Path(output) if output is not None else model.with_name(model.name.removesuffix(".onnx") + ".int8.onnx")
    if check_output(target, inputs=[model, data, *inputs], replaceable=is_onnx_model, what="an edgelstm model"):
        log.warning("%s: overwriting the existing model", target)
    if not texts:
        warn_unchecked()
    with staging_folder(target.parent) as staging:
        staged = staging / "model.int8.onnx"
        chosen, table = quantize_checked(model, staged, texts, labels, recipe=recipe, budget=budget,
                                         timings=timings)
        publish({target: staged})
    return target, chosen, table
