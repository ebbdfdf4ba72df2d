"""Scoring on Ray against the plain loop, in one run; and what 10^8 reviews would cost on a cluster.

    nice -n 10 python benchmarks/bench_ray.py [--texts 8000] [--imdb PATH] [--cpus 2]

Measures, on this machine: the plain loop (``Classifier.predict``, one thread); Ray's start
(``ray.init``); a job's fixed cost (a one-batch job: actor start, model load, scheduling); the
per-actor rate (rows over the time a 1-actor job spends beyond that fixed cost); the whole Ray
job from a Parquet file to a Parquet folder; and the read + write path alone (no model). It then
projects, from those measurements only, the time and core-hours for 10^8 IMDB-length reviews on
1, 10 and 100 nodes of 16 cores, with ``edgelstm.ray.plan_actors``' sizing (14 actors a node).
The projection assumes each actor keeps its measured rate (one core each, no contention) and
that reads and writes keep up on the CPUs left to them (the read + write rate is printed to check).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMDB = Path(os.environ.get("EDGELSTM_IMDB", REPO.parent / "shared/datasets/aclImdb_v1_labeled.tar.gz"))
CORPUS = 10**8
NODE_CORES = 16


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=8000)
    parser.add_argument("--imdb", type=Path, default=IMDB)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="CPUs of the local Ray cluster")
    args = parser.parse_args()

    import pyarrow as pa
    import pyarrow.parquet as pq

    from edgelstm import Classifier
    from edgelstm.data import load_labeled
    from edgelstm.ray import plan_actors, predict

    texts = load_labeled(args.imdb).evaluation_split.sample(args.texts).texts
    words = sum(len(t.split()) for t in texts) / len(texts)
    classifier = Classifier.default(threads=1)
    classifier.predict(texts[:64])  # warm
    _, plain_s = _timed(lambda: classifier.predict(texts))

    import ray

    _, init_s = _timed(lambda: ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level=logging.WARNING))
    try:
        rows = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)], override_num_blocks=16)
        small = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts[:64])])
        _, fixed_s = _timed(lambda: predict(small, actors=1).materialize())
        _, one_actor_s = _timed(lambda: predict(rows, actors=1).materialize())
        per_actor = len(texts) / max(one_actor_s - fixed_s, 1e-9)
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "in.parquet"
            pq.write_table(pa.table({"id": list(range(len(texts))), "text": texts}), source)
            _, io_s = _timed(lambda: ray.data.read_parquet(str(source)).write_parquet(f"{tmp}/copy"))
            _, job_s = _timed(lambda: predict(ray.data.read_parquet(str(source))).write_parquet(f"{tmp}/out"))
        actors_here = plan_actors(args.cpus)
    finally:
        ray.shutdown()

    n = len(texts)
    print(f"{n} IMDB test reviews ({words:.0f} words on average); Ray {ray.__version__}; {args.cpus} CPUs "
          f"({os.cpu_count()} on the machine; load average {os.getloadavg()[1]:.1f} over the last 5 minutes)\n")
    print("| what | seconds | rows/s |")
    print("| --- | ---: | ---: |")
    print(f"| plain loop: `Classifier.predict`, 1 thread | {plain_s:.2f} | {n / plain_s:,.0f} |")
    print(f"| Ray start (`ray.init`) | {init_s:.2f} | |")
    print(f"| Ray job, fixed cost (64 rows: actor start, model load, scheduling) | {fixed_s:.2f} | |")
    print(f"| Ray job, 1 actor, {n} rows in memory | {one_actor_s:.2f} | {n / one_actor_s:,.0f} |")
    print(f"| per-actor rate (rows / time beyond the fixed cost) | | {per_actor:,.0f} |")
    print(f"| Ray read + write only, Parquet to Parquet (no model) | {io_s:.2f} | {n / io_s:,.0f} |")
    print(f"| Ray job with defaults ({actors_here} actor(s)), Parquet to Parquet | {job_s:.2f} | {n / job_s:,.0f} |")
    print(f"| Ray start + that job, against the plain loop | {init_s + job_s:.2f} | "
          f"{(init_s + job_s) / plain_s:.1f}x the plain loop's time |")
    print(f"\nProjection for {CORPUS:.0e} reviews of this length, from the per-actor rate and the measured "
          "fixed costs (start + job); nodes of 16 cores, `plan_actors` sizing:\n")
    print("| nodes | actors | hours | core-hours | rows/s needed from reads and writes |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for nodes in (1, 10, 100):
        actors = plan_actors(nodes * NODE_CORES)
        seconds = init_s + fixed_s + CORPUS / (actors * per_actor)
        print(f"| {nodes} | {actors} | {seconds / 3600:.2f} | {seconds * nodes * NODE_CORES / 3600:,.0f} | "
              f"{actors * per_actor:,.0f} |")


if __name__ == "__main__":
    main()
