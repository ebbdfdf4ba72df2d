"""Python's answers for the web tests: `python test/expected.py OUTDIR N` (npm's pretest runs it).

For each model (the page's model, model/model.onnx, and the fp32 tiny test models of both
architectures) it writes OUTDIR/<name>/: model.onnx (a copy), tokenizer.json, and
expected.json: the model's sha256, N real IMDB test reviews (a seeded sample; $EDGELSTM_IMDB or
../shared/datasets) plus the tokenizer edge cases, each with its words-v1 ids and the
probabilities onnxruntime-Python gives it alone (batch 1, one thread, as on the page), and
Python's per-review latency (tokenize + infer). The JS tests refuse an expected.json whose sha256
is not the current model's, so a re-shipped model cannot leave them comparing stale numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from edgelstm import Classifier
from edgelstm.data import load_labeled
from edgelstm.export.tokenizer_json import EDGE_CASES, check_tokenizer_json, write_tokenizer_json

WEB = Path(__file__).resolve().parents[1]
REPO = WEB.parent
IMDB = Path(os.environ.get("EDGELSTM_IMDB", REPO.parent / "shared/datasets/aclImdb_v1_labeled.tar.gz"))
MODELS = {
    "page": WEB / "model/model.onnx",
    "tiny-lstm": REPO / "tests/data/tiny-lstm.onnx",
    "tiny-bilstm": REPO / "tests/data/tiny-bilstm.onnx",
}


def answers(model: Path, reviews: list[str]) -> dict[str, object]:
    classifier = Classifier.load(model, threads=1)  # the page runs one wasm thread
    tokenizer, labels = classifier.tokenizer, classifier.config.labels
    texts = [*EDGE_CASES, *reviews]
    probabilities = [classifier.predict([text])[0].probabilities for text in texts]  # alone, as the page
    times = []
    for text in reviews:
        start = time.perf_counter()
        classifier.predict([text])
        times.append((time.perf_counter() - start) * 1000)
    return {
        "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
        "labels": labels,
        "quantization": classifier.config.to_dict()["quantization"],
        "edge_cases": len(EDGE_CASES),
        "cases": [
            {"text": text, "ids": tokenizer.encode(text), "probabilities": [p[label] for label in labels]}
            for text, p in zip(texts, probabilities, strict=True)
        ],
        "python_ms_per_review": {"mean": statistics.fmean(times), "median": statistics.median(times)},
    }


def main() -> None:
    outdir, count = Path(sys.argv[1]), int(sys.argv[2])
    if not IMDB.exists():
        sys.exit(f"IMDB archive not found at {IMDB} (set EDGELSTM_IMDB)")
    reviews = load_labeled(IMDB).evaluation_split.sample(count, seed=8).texts
    for name, model in MODELS.items():
        folder = outdir / name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(model, folder / "model.onnx")
        config = Classifier.load(model).config
        write_tokenizer_json(folder / "tokenizer.json", config.vocabulary, config.max_len)
        check_tokenizer_json(folder / "tokenizer.json", Classifier.load(model).tokenizer, reviews)
        expected = answers(model, reviews)
        (folder / "expected.json").write_text(json.dumps(expected, ensure_ascii=False), encoding="utf-8")
        print(
            f"{folder}: {len(expected['cases'])} texts, "
            f"Python {expected['python_ms_per_review']['median']:.3f} ms per review (median)"
        )


if __name__ == "__main__":
    main()
