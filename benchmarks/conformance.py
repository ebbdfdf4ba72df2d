"""Largest difference of OpenVINO and tract from onnxruntime-Python, per model and batch shape.

    python benchmarks/conformance.py model.onnx model.int8.onnx [...] --data aclImdb_v1_labeled.tar.gz

Batch 1 (one review) and a padded batch of 16 reviews of mixed lengths; every output
(final_h/final_c on unpadded rows). Prints the markdown rows of the README's conformance table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edgelstm import Classifier
from edgelstm.data import load_labeled
from edgelstm.tokenizer import pad_batch


def feed_for(classifier: Classifier, texts: list[str]) -> dict[str, np.ndarray]:
    input_ids, lengths = pad_batch(classifier.encode(texts))
    feed = {"input_ids": input_ids, "lengths": lengths}
    if classifier.config.arch == "lstm":
        zeros = np.zeros((len(texts), classifier.config.hidden), np.float32)
        feed |= {"initial_h": zeros, "initial_c": zeros}
    return feed


def run_openvino(path: Path, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import openvino as ov

    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                          "DYNAMIC_QUANTIZATION_GROUP_SIZE": "0"})
    result = compiled(feed)
    return {o.get_any_name(): result[o] for o in compiled.outputs}


def run_tract(path: Path, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import tract

    model = tract.onnx().load(str(path))
    inputs = [model.input_name(i) for i in range(model.input_count())]
    outputs = [model.output_name(i) for i in range(model.output_count())]
    result = model.into_model().into_runnable().run([feed[name] for name in inputs])
    return {name: result[i].to_numpy() for i, name in enumerate(outputs)}


def largest_difference(expected: dict[str, np.ndarray], actual: dict[str, np.ndarray], rows: np.ndarray) -> float:
    worst = 0.0
    for name, value in expected.items():
        keep = rows if name.startswith("final_") else slice(None)
        worst = max(worst, float(np.abs(actual[name][keep] - value[keep]).max()))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    texts = load_labeled(args.data).evaluation_split.sample(16, seed=11).texts
    print("| model | runtime | batch 1 | padded batch 16 |")
    print("| --- | --- | ---: | ---: |")
    for path in args.models:
        classifier = Classifier.load(path)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        for runtime, run in (("OpenVINO (f32)", run_openvino), ("tract", run_tract)):
            cells = []
            for batch in (texts[:1], texts):
                feed = feed_for(classifier, batch)
                expected = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))
                rows = feed["lengths"] == feed["input_ids"].shape[1]
                try:
                    cells.append(f"{largest_difference(expected, run(path, feed), rows):.1e}")
                except Exception as exc:  # noqa: BLE001 - a runtime that cannot load or run the graph: a table cell
                    cells.append(f"fails: {str(exc).splitlines()[0][:60]}")
            print(f"| {path.name} ({classifier.config.arch}) | {runtime} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
