"""PyTorch eager vs onnxruntime fp32 vs onnxruntime int8, side by side in one run.

    python benchmarks/bench_runtime.py model.pt exported/model.onnx exported/model.int8.onnx \
        --data ../shared/datasets/aclImdb_v1_labeled.tar.gz --out benchmarks/RESULTS.md

Writes a markdown table (the README shows it) and checks the targets, as ratios of this run.
Also builds today's portable graph (format 2) and the former ``sequence_lens`` graph (format 1)
from the same checkpoint and times both in onnxruntime, interleaved, on length-sorted batches.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgelstm.bench import run_benchmark, to_markdown
from edgelstm.data import load_labeled


def targets(results) -> list[tuple[str, str, bool]]:
    """(target, this run's value, met) for each target of the issue, as ratios of this run."""
    torch_row, fp32, int8 = results
    at_most = [  # (target, value, limit, format): met when value <= limit
        ("int8 file <= 30% of fp32", int8.size_bytes / fp32.size_bytes, 0.30, "{:.1%}"),
        ("int8 batch-1 latency <= fp32's", int8.latency_p50_ms / fp32.latency_p50_ms, 1.0, "{:.2f}x"),
        ("int8 accuracy loss <= 0.3 points", (fp32.accuracy - int8.accuracy) * 100, 0.3, "{:.2f} points"),
        ("runtime batch-1 latency <= 1/3 of PyTorch eager",
         fp32.latency_p50_ms / torch_row.latency_p50_ms, 1 / 3, "{:.2f}x"),
        ("PyTorch eager throughput <= 1/2 of the runtime's", torch_row.throughput / fp32.throughput, 0.5, "{:.2f}x"),
    ]
    at_most += [(f"cold start of `edgelstm predict` ({r.name}) <= 0.5 s", r.cold_start_s, 0.5, "{:.2f} s")
                for r in (fp32, int8) if r.cold_start_s is not None]
    return [(name, fmt.format(value), value <= limit) for name, value, limit, fmt in at_most]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("fp32", type=Path)
    parser.add_argument("int8", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="labeled texts (its test split if it has one)")
    parser.add_argument("--limit", type=int, help="a random subset of this many texts")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-cold-start", action="store_true")
    parser.add_argument("--out", type=Path, help="write the markdown here too")
    args = parser.parse_args()

    split = load_labeled(args.data).evaluation_split
    if args.limit:
        split = split.sample(args.limit)
    results, machine = run_benchmark([args.checkpoint, args.fp32, args.int8], split.texts, split.labels,
                                     threads=args.threads, cold_start=not args.no_cold_start)
    lines = [to_markdown(results, machine), "| target | this run | met |", "| --- | ---: | :---: |"]
    lines += [f"| {name} | {value} | {'yes' if ok else '**no**'} |" for name, value, ok in targets(results)]
    graphs, ratio = graph_speed(args.checkpoint, split.texts, args.threads)
    lines += ["", graphs, "| target | this run | met |", "| --- | ---: | :---: |",
              f"| portable graph throughput (sorted) >= 90% of sequence_lens graph's | {ratio:.0%} | "
              f"{'yes' if ratio >= 0.9 else '**no**'} |"]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
