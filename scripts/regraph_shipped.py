"""Put the shipped model on today's graph, from its own weights: ``python scripts/regraph_shipped.py``.

The weights come from the shipped file itself (``checkpoint_from_onnx.rebuild``), the graph from
``build_onnx`` (validated against PyTorch), the int8 file from the shipped recipe. The script
refuses to write unless every int8 weight and scale is bit-identical to the shipped file's, so
the model is the same and only the graph changes; the file keeps the shipped metadata (config,
metrics, and the int8 report measured against the original fp32 model). Then run
``scripts/ship_model.py``'s checks (tests/test_shipped.py) and update the manifest's sha256 and bytes.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).parent))
from checkpoint_from_onnx import rebuild  # noqa: E402

from edgelstm.classifier import SHIPPED_DIR, SHIPPED_MODEL  # noqa: E402
from edgelstm.config import METADATA_KEY, ModelConfig  # noqa: E402
from edgelstm.export.graph import build_onnx  # noqa: E402
from edgelstm.export.quantize import RECIPES_BY_NAME, quantize  # noqa: E402
from edgelstm.export.validate import validate_onnx  # noqa: E402
from edgelstm.files import file_sha256  # noqa: E402


def main() -> None:
    shipped_path = SHIPPED_DIR / SHIPPED_MODEL
    shipped = onnx.load(str(shipped_path))
    metadata = {p.key: p.value for p in shipped.metadata_props}[METADATA_KEY]
    recipe = RECIPES_BY_NAME[ModelConfig.from_json(metadata).quantization.recipe_name]
    model = rebuild(shipped_path)
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
        fp32.write_bytes(build_onnx(model).SerializeToString())
        print(f"validated against PyTorch: {validate_onnx(model, fp32)}")
        quantize(fp32, int8, recipe)
        proto = onnx.load(str(int8))
    old = {t.name: numpy_helper.to_array(t) for t in shipped.graph.initializer if t.data_type != onnx.TensorProto.INT64}
    new = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer if t.data_type != onnx.TensorProto.INT64}
    weights = [name for name in old if name.endswith((".int8", ".scale", ".B", ".bias"))]
    different = [n for n in weights if n not in new or not np.array_equal(old[n], new[n])]
    if different or not weights:
        raise SystemExit(f"weights differ from the shipped file's: {different}")
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, {METADATA_KEY: metadata})
    shipped_path.write_bytes(proto.SerializeToString())
    manifest_path = shipped_path.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest.update(sha256=file_sha256(shipped_path), bytes=shipped_path.stat().st_size)
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"{shipped_path}: {len(weights)} weights bit-identical; sha256 {manifest['sha256']}, "
          f"{manifest['bytes']} bytes")


if __name__ == "__main__":
    main()
