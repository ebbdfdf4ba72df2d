"""Export a checkpoint to a self-validated ONNX file (needs the ``train`` extra).

Imports nothing heavy: the names that need torch (``build_onnx``, ``validate_onnx``) or onnx
(``quantize_checked``) load on first use (PEP 562).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgelstm.errors import ExportValidationError, QuantizationError
from edgelstm.files import publish, staging_folder

from .recipes import ACCURACY_BUDGET, DEFAULT_RECIPE, RECIPES

if TYPE_CHECKING:
    from edgelstm.bench import BenchResult

__all__ = [
    "ATOL", "OPSET", "RECIPES", "DEFAULT_RECIPE", "ExportValidationError", "QuantizationError", "build_onnx",
    "export_checkpoint", "quantize_checked", "validate_onnx",
]

log = logging.getLogger(__name__)

# torch-needing parts load on first use, so `edgelstm quantize` (onnx only) never imports torch
_LAZY = {"OPSET": ".graph", "build_onnx": ".graph", "ATOL": ".validate", "validate_onnx": ".validate",
         "quantize_checked": ".quantize"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
) -> tuple[list[Path], list[BenchResult]]:
    """Write ``outdir/model.onnx``, ``tokenizer.json`` (and ``model.int8.onnx``) from a ``.pt`` checkpoint.

    Both files are built and checked in a staging folder and put in place together, so a
    folder never holds a model.onnx and model.int8.onnx of different exports. Same checkpoint,
    same bytes. Returns the written paths and (with ``timings``) the measured table.
    """
    from edgelstm.train.checkpoint import load_model

    from .graph import build_onnx
    from .quantize import quantize_checked
    from .validate import ATOL, validate_onnx

    model = load_model(Path(checkpoint))
    proto = build_onnx(model)
    outdir = Path(outdir)
    table: list[BenchResult] = []
    with staging_folder(outdir) as staging:
        fp32 = staging / "model.onnx"
        fp32.write_bytes(proto.SerializeToString())
        worst = validate_onnx(model, fp32)
        log.info("validated against PyTorch: max difference %.2e (ATOL %g)", worst, ATOL)
        from .tokenizer_json import export_tokenizer_json  # beside model.onnx, for other languages

        staged = {outdir / "model.onnx": fp32,
                  outdir / "tokenizer.json": export_tokenizer_json(model.config, staging / "tokenizer.json", texts)}
        if int8:
            quantized = staging / "model.int8.onnx"
            _, table = quantize_checked(fp32, quantized, texts, labels, recipe=recipe, budget=budget,
                                        timings=timings)
            staged[outdir / "model.int8.onnx"] = quantized
        publish(staged)
    return list(staged), table
