"""The portable graph (today's format) against the former ``sequence_lens`` graph (format 1),
built from the same checkpoint and timed in onnxruntime, interleaved, on length-sorted and on
random batches (``bench_runtime.py --graphs``)."""

from __future__ import annotations

from pathlib import Path


def graph_speed(checkpoint: Path, texts: list[str], threads: int, rounds: int = 5) -> tuple[str, float]:
    """Markdown table of texts/s (batch 64) of the format-2 and format-1 graphs, and their ratio
    on length-sorted batches. Rounds interleave the two models; each keeps its best round."""
    import random
    import sys
    import tempfile
    import time

    from edgelstm import Classifier
    from edgelstm.export import build_onnx
    from edgelstm.train.checkpoint import load_model

    sys.path.insert(0, str(Path(__file__).parent))
    from legacy_graph import build_legacy_onnx

    model = load_model(checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"portable (format 2)": Path(tmp) / "v2.onnx", "sequence_lens (format 1)": Path(tmp) / "v1.onnx"}
        paths["portable (format 2)"].write_bytes(build_onnx(model).SerializeToString())
        paths["sequence_lens (format 1)"].write_bytes(build_legacy_onnx(model).SerializeToString())
        classifiers = {name: Classifier.load(path, threads=threads) for name, path in paths.items()}
        sequences = next(iter(classifiers.values())).encode(texts)
        shuffled = list(range(len(sequences)))
        random.Random(0).shuffle(shuffled)
        best = {(name, order): 0.0 for name in paths for order in ("sorted", "unsorted")}
        for _ in range(rounds):
            for name, classifier in classifiers.items():
                start = time.perf_counter()
                classifier.predict_ids(sequences, batch_size=64)  # batches of similar length
                best[name, "sorted"] = max(best[name, "sorted"], len(texts) / (time.perf_counter() - start))
                start = time.perf_counter()
                for i in range(0, len(shuffled), 64):  # batches of random neighbours
                    classifier.backend.run(*_pad([sequences[j] for j in shuffled[i:i + 64]]))
                best[name, "unsorted"] = max(best[name, "unsorted"], len(texts) / (time.perf_counter() - start))
    names = list(paths)
    lines = [f"onnxruntime fp32, {threads} thread(s), {len(texts)} texts, batch 64, "
             f"best of {rounds} interleaved rounds",
             "", "| graph | texts/s, length-sorted batches | texts/s, random batches |", "| --- | ---: | ---: |"]
    lines += [f"| {n} | {best[n, 'sorted']:.0f} | {best[n, 'unsorted']:.0f} |" for n in names]
    ratio = best[names[0], "sorted"] / best[names[1], "sorted"]
    return "\n".join(lines) + "\n", ratio


def _pad(sequences):
    from edgelstm.tokenizer import pad_batch

    return pad_batch(sequences)
