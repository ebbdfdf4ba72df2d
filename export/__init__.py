"""Export a checkpoint to a self-validated ONNX file (needs the ``train`` extra).

Imports nothing heavy: the names that need torch (``build_onnx``, ``validate_onnx``) or onnx
(``quantize_checked``) load on first use (PEP 562).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from edgelstm._lazy import lazy_names
from edgelstm.errors import ExportValidationError, InputError, QuantizationError
from edgelstm.files import publish, staging_folder

from .recipes import ACCURACY_BUDGET, DEFAULT_RECIPE, RECIPES

if TYPE_CHECKING:
    from edgelstm.bench import BenchResult

__all__ = [
    "ATOL", "ONNXRUNTIME_ATOL", "OPSET", "RECIPES", "DEFAULT_RECIPE", "ExportValidationError", "QuantizationError",
    "build_onnx", "check_export_folder", "export_checkpoint", "quantize_checked", "validate_onnx",
]

log = logging.getLogger(__name__)

# torch-needing parts load on first use, so `edgelstm quantize` (onnx only) never imports torch
_LAZY = {"OPSET": ".graph", "build_onnx": ".graph", "ATOL": ".validate", "ONNXRUNTIME_ATOL": ".validate",
         "validate_onnx": ".validate", "quantize_checked": ".quantize"}

__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)


def export_checkpoint(
    checkpoint: str | Path,
    outdir: str | Path,
    *,
    int8: bool = False,
    texts: Sequence[str] = (),
    labels: Sequence[str] = (),
    recipe: str = DEFAULT_RECIPE,
    budget: float = ACCURACY_BUDGET,
    timings: bool = False,
    data: Path | None = None,
) -> tuple[list[Path], list[BenchResult]]:
    """Write ``outdir/model.onnx``, ``tokenizer.json`` (and ``model.int8.onnx``) from a ``.pt`` checkpoint.

    The files are built and checked in a staging folder and put in place together, so a
    folder never holds a model.onnx and model.int8.onnx of different exports: without
    ``int8``, an earlier export's model.int8.onnx there is removed (it belongs to another
    model). Existing files are replaced only if they are artifacts of their kind (an edgelstm
    model, a tokenizer.json), never an input (edgelstm.files.check_output). Same checkpoint,
    same bytes. int8 is checked on ``texts`` and ``labels``, else on labeled ``data``, else on
    the texts kept in the checkpoint (``quantize.judging_texts``). Returns the written paths and
    (with ``timings``) the measured table.
    """
    from edgelstm.train.checkpoint import load_model

    from .graph import build_onnx
    from .quantize import judging_texts, quantize_checked, warn_unchecked
    from .validate import validate_onnx

    if int8 and not texts:  # a data error fails before any work
        held_out = judging_texts(data, Path(checkpoint))
        if held_out is not None:
            texts, labels = held_out.texts, held_out.labels
    outdir = Path(outdir)
    stale = check_export_folder(outdir, checkpoint, int8=int8, data=data)  # before any work
    model = load_model(Path(checkpoint))
    if int8 and labels:
        from edgelstm.data import label_targets

        label_targets(labels, model.config.labels, checkpoint)  # unknown labels: DataError, before any work
    if int8 and not texts:
        warn_unchecked()
    proto = build_onnx(model)
    table: list[BenchResult] = []
    with staging_folder(outdir) as staging:
        fp32 = staging / "model.onnx"
        fp32.write_bytes(proto.SerializeToString())
        log.info("validated %s against PyTorch: %s", Path(checkpoint).name, validate_onnx(model, fp32))
        from .tokenizer_json import export_tokenizer_json  # beside model.onnx, for other languages

        staged = {outdir / "model.onnx": fp32,
                  outdir / "tokenizer.json": export_tokenizer_json(model.config, staging / "tokenizer.json", texts)}
        if int8:
            quantized = staging / "model.int8.onnx"
            _, table = quantize_checked(fp32, quantized, texts, labels, recipe=recipe, budget=budget,
                                        timings=timings)
            staged[outdir / "model.int8.onnx"] = quantized
        publish(staged, remove=stale)
    if stale:
        log.warning("%s: removed the earlier export's int8 model (not of this model); "
                    "export with --int8 for a new one", stale[0])
    return list(staged), table


def check_export_folder(outdir: Path, checkpoint: str | Path, *, int8: bool, data: Path | None = None) -> list[Path]:
    """What an export into ``outdir`` may write there (InputError, exit 4, otherwise), and the
    stale files it removes: the set in a folder is always one model's."""
    from edgelstm.classifier import is_onnx_model
    from edgelstm.files import check_output

    from .tokenizer_json import is_tokenizer_json

    if outdir.exists() and not outdir.is_dir():
        raise InputError(f"{outdir}: exists and is not a folder; give --output a folder for model.onnx")
    inputs = [Path(checkpoint), data]
    check_output(outdir / "model.onnx", inputs=inputs, replaceable=is_onnx_model, what="an edgelstm model")
    check_output(outdir / "tokenizer.json", inputs=inputs, replaceable=is_tokenizer_json, what="a tokenizer.json")
    int8_path = outdir / "model.int8.onnx"
    if int8:
        check_output(int8_path, inputs=inputs, replaceable=is_onnx_model, what="an edgelstm model")
        return []
    if int8_path.is_dir() or (int8_path.exists() and not is_onnx_model(int8_path)):
        raise InputError(f"{int8_path}: exists and is not an edgelstm model; refusing to remove it "
                         "(an export without --int8 removes an earlier export's int8 model)")
    return [int8_path] if int8_path.exists() else []
