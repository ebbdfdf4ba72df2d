"""Export a checkpoint to a self-validated ONNX file (needs the ``train`` extra)."""

from __future__ import annotations

import logging
from pathlib import Path

from edgelstm.train.checkpoint import atomic_write, load_model

from .graph import OPSET, build_onnx
from .quantize import RECIPES, QuantizationError, quantize_measured
from .validate import ATOL, ExportValidationError, validate_onnx

__all__ = [
    "ATOL", "OPSET", "RECIPES", "ExportValidationError", "QuantizationError", "build_onnx",
    "export_checkpoint", "quantize_measured", "validate_onnx",
]

log = logging.getLogger(__name__)


def export_checkpoint(checkpoint: str | Path, outdir: str | Path) -> Path:
    """Write ``outdir/model.onnx`` from a ``.pt`` checkpoint; validated before it is in place."""
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
