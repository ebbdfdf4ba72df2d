"""PyTorch eager vs onnxruntime fp32 vs onnxruntime int8, side by side in one run.

    python benchmarks/bench_runtime.py model.pt exported/model.onnx exported/model.int8.onnx \
        --data ../shared/datasets/aclImdb_v1_labeled.tar.gz --out benchmarks/RESULTS.md

Writes a markdown table (the README shows it) and checks the targets, as ratios of this run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgelstm.data import load_labeled
from edgelstm.export.bench import run_benchmark, to_markdown


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
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
