"""Check that a model gives every test review the same answer alone and batched.

    python scripts/check_invariance.py MODEL.onnx [IMDB archive] [--limit N]

Each review alone on 1 thread is the reference; alone on 2 threads and inside mixed-length
batches of 64 (1 and 2 threads) must agree within 1e-6 (exit 0), else exit 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from edgelstm import Classifier
from edgelstm.data import load_labeled
from edgelstm.invariance import INVARIANCE_TOLERANCE, batch_invariance

DEFAULT_IMDB = Path(__file__).resolve().parents[1].parent / "shared/datasets/aclImdb_v1_labeled.tar.gz"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("data", type=Path, nargs="?", default=DEFAULT_IMDB)
    parser.add_argument("--limit", type=int, default=None, help="only the first N test reviews")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    reviews = load_labeled(args.data).evaluation_split
    texts = reviews.texts[: args.limit] if args.limit else reviews.texts
    sequences = Classifier.load(args.model).encode(texts)
    start = time.perf_counter()
    result = batch_invariance(args.model, sequences, batch_size=args.batch_size)
    print(f"{args.model}: {result.texts} reviews, {time.perf_counter() - start:.0f} s")
    for condition, difference in result.largest_difference.items():
        print(f"  {condition:<22} largest difference {difference:.2e}  label flips {result.label_flips[condition]}")
    verdict = "holds" if result.holds() else "FAILS"
    print(f"batch and thread invariance (<= {INVARIANCE_TOLERANCE:g}): {verdict}")
    return 0 if result.holds() else 1


if __name__ == "__main__":
    sys.exit(main())
