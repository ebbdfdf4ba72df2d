"""Copy an int8 model into the package as the default, with its manifest (sha256, command,
metrics, the library versions of scripts/recipe-constraints.txt as installed) and its learning
curve: ``python scripts/ship_model.py MODEL.int8.onnx``."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from recipe_versions import installed, pinned  # scripts/, beside this file

from edgelstm import Classifier
from edgelstm.classifier import SHIPPED_DIR, SHIPPED_MODEL
from edgelstm.files import file_sha256

MAX_BYTES = 4 * 1024 * 1024  # the package stays small
SHIPPED_TOKENIZER = SHIPPED_MODEL.removesuffix(".int8.onnx") + ".tokenizer.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--history", type=Path, help="the training history JSON, for the manifest")
    parser.add_argument("--command", required=True, help="the command that produced the model")
    parser.add_argument("--data", type=Path, help="labeled data whose test split scores the int8 model")
    parser.add_argument("--curves", type=Path, help="the learning-curve PNG, copied to docs/")
    parser.add_argument("--into", type=Path, default=SHIPPED_DIR, help="the folder to ship into (tests use another)")
    args = parser.parse_args()

    config = Classifier.load(args.model).config
    if config.quantization is None:
        raise SystemExit(f"{args.model}: not an int8 model")
    if args.model.stat().st_size > MAX_BYTES:
        raise SystemExit(f"{args.model}: larger than {MAX_BYTES} bytes")
    target = args.into / SHIPPED_MODEL
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.model, target)
    # the export's tokenizer.json travels with the model, for other languages (web/ serves it)
    shutil.copyfile(args.model.with_name("tokenizer.json"), args.into / SHIPPED_TOKENIZER)
    manifest = {
        "file": SHIPPED_MODEL,
        "sha256": file_sha256(target),
        "tokenizer": SHIPPED_TOKENIZER,
        "tokenizer_sha256": file_sha256(args.into / SHIPPED_TOKENIZER),
        "bytes": target.stat().st_size,
        "command": args.command,
        "architecture": {k: getattr(config, k) for k in ("arch", "vocab_size", "max_len", "embed_dim", "hidden")},
        "labels": config.labels,
        "int8_recipe": config.quantization.recipe_name,
        "metrics": config.metrics,
        "history": json.loads(args.history.read_text()) if args.history else None,
        # what the recipe's numbers depend on (README, "How the shipped model is made")
        "versions": installed(list(pinned())),
    }
    if args.data:
        from edgelstm.data import load_labeled

        test = load_labeled(args.data).test
        manifest["int8_test"] = Classifier.load(target).evaluate(test.texts, test.labels)
    if args.curves:
        shutil.copyfile(args.curves, Path(__file__).parent.parent / "docs" / "default-model-curves.png")
    target.with_suffix(".json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"{target}: {manifest['bytes']} bytes, sha256 {manifest['sha256']}")


if __name__ == "__main__":
    main()
