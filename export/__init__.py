"""Export a checkpoint to a self-validated ONNX file, and int8 models (needs the ``train`` extra).

Nothing heavy is imported here: the names below load their submodule on first use (PEP 562),
so ``edgelstm.export.<submodule>`` that needs no torch (quantizing or measuring an ``.onnx``)
works without the ``train`` extra.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgelstm.files import atomic_write

if TYPE_CHECKING:
    from .graph import OPSET, build_onnx
    from .quantize import RECIPES, QuantizationError, quantize_measured
    from .validate import ATOL, ExportValidationError, validate_onnx

__all__ = [
    "ATOL", "OPSET", "RECIPES", "ExportValidationError", "QuantizationError", "build_onnx",
    "export_checkpoint", "quantize_measured", "validate_onnx",
]

log = logging.getLogger(__name__)

# name -> submodule that defines it; imported on first access
_LAZY = {
    "OPSET": "graph", "build_onnx": "graph",
    "RECIPES": "quantize", "QuantizationError": "quantize", "quantize_measured": "quantize",
    "ATOL": "validate", "ExportValidationError": "validate", "validate_onnx": "validate",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def export_checkpoint(checkpoint: str | Path, outdir: str | Path) -> Path:
    """Write ``outdir/model.onnx`` from a ``.pt`` checkpoint; validated before it is in place."""
    from edgelstm.train.checkpoint import load_model

    from .graph import build_onnx
    from .validate import ATOL, validate_onnx

    model = load_model(Path(checkpoint))
    proto = build_onnx(model)
    target = Path(outdir) / "model.onnx"

    def write_validated(tmp: Path) -> None:
        tmp.write_bytes(proto.SerializeToString())
        worst = validate_onnx(model, tmp)
        log.info("validated against PyTorch: max difference %.2e (ATOL %g)", worst, ATOL)

    atomic_write(target, write_validated)
    from .tokenizer_json import export_tokenizer_json  # beside model.onnx, for other languages

    export_tokenizer_json(Path(checkpoint), model.config, Path(outdir))
    return target
