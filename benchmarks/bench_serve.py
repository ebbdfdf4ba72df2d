"""`edgelstm serve` against a stdlib ThreadingHTTPServer and the in-process Classifier, in one run.

    python benchmarks/bench_serve.py --data ../shared/datasets/aclImdb_v1_labeled.tar.gz \
        --out benchmarks/SERVE.md

Load comes from wrk (`apt-get install wrk`) on loopback, with real reviews in the bodies:
one text per request at c=1 and c=32, and 32 texts per request at c=4. Every server runs the
same model on the same cores as wrk, so read the ratios, not the absolute numbers.
Writes a markdown table (the README shows it) and checks the issue's targets.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared/datasets/aclImdb_v1_labeled.tar.gz"
BATCH = 32  # texts per request in the throughput scenario
LUA = """
local bodies = {}
for line in io.lines("%s") do bodies[#bodies + 1] = line end
local i = math.random(#bodies)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, "/predict", nil, bodies[i])
end
"""


@dataclass
class Run:
    server: str
    scenario: str
    connections: int
    texts_per_request: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def texts_per_s(self) -> float:
        return self.requests_per_s * self.texts_per_request


# --- the stdlib baseline (run as a subprocess of this script) -------------------------------


def stdlib_server(model: str | None, port_file: Path) -> None:
    """ThreadingHTTPServer with Nagle disabled, one Classifier, POST /predict only."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from edgelstm import Classifier

    classifier = Classifier.load(model) if model else Classifier.default()
    labels = classifier.labels

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            texts = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["texts"]
            rows = classifier.predict_proba(texts).tolist()
            body = json.dumps(
                {
                    "predictions": [
                        {
                            "label": labels[max(range(len(r)), key=r.__getitem__)],
                            "probability": max(r),
                            "probabilities": dict(zip(labels, r)),
                        }
                        for r in rows
                    ]
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # no access log: the baseline is bare
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 2048

    httpd = Server(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    port_file.write_text(str(httpd.server_address[1]))
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


# --- the harness --------------------------------------------------------------------------------


def start(command: list[str], port_of, log: Path, timeout: float = 60.0) -> tuple[subprocess.Popen, int]:
    with open(log, "wb") as stderr:  # Popen keeps its own copy of the descriptor
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        port = port_of()
        if port:
            return process, port
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server did not start: {' '.join(command)}\n{log.read_text(errors='replace')}")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def wait_ready(port: int, workers: int, timeout: float = 60.0) -> None:
    """Until /metrics counts every worker ready (each has loaded and warmed up its model)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            found = re.search(r"^edgelstm_ready_workers (\S+)$", response.read().decode(), re.MULTILINE)
        if found and float(found.group(1)) >= workers:
            return
        time.sleep(0.1)
    raise SystemExit(f"only {found and found.group(1)} of {workers} workers became ready")


def wrk(port: int, bodies: Path, connections: int, seconds: float, workdir: Path) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, non-2xx or socket errors) of one wrk run."""
    script = workdir / f"{bodies.stem}.lua"
    script.write_text(LUA % bodies)
    threads = min(2, connections)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/predict",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def percentile(p: str) -> float:
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return rate, percentile("50"), percentile("99"), errors


def in_process(model: str | None, texts: list[str], seconds: float) -> dict[str, float]:
    """Classifier.predict: texts/s in calls of BATCH texts, and batch-1 latency (1 and all threads)."""
    from edgelstm import Classifier

    result = {}
    for threads in (1, None):
        classifier = Classifier.load(model, threads=threads) if model else Classifier.default(threads=threads)
        name = "1 thread" if threads == 1 else "default threads"
        classifier.predict(texts[:BATCH])
        latencies, deadline, i = [], time.monotonic() + seconds, 0
        while time.monotonic() < deadline:
            text = texts[i % len(texts)]
            started = time.perf_counter()
            classifier.predict([text])
            latencies.append(time.perf_counter() - started)
            i += 1
        result[f"batch-1 p50 ms ({name})"] = statistics.median(latencies) * 1000
        result[f"batch-1 p99 ms ({name})"] = float(np.percentile(latencies, 99)) * 1000
        done, started, i = 0, time.perf_counter(), 0
        while time.perf_counter() - started < seconds:
            start = (i * BATCH) % (len(texts) - BATCH)
            classifier.predict(texts[start : start + BATCH])
            done += BATCH
            i += 1
        result[f"texts/s, {BATCH} per call ({name})"] = done / (time.perf_counter() - started)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labeled reviews (its test split)")
    parser.add_argument("--model", help="model file [default: the shipped model]")
    parser.add_argument("--texts", type=int, default=2000, help="reviews sampled for the bodies")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; cells are medians")
    parser.add_argument("--out", type=Path, help="write the markdown here too")
    parser.add_argument("--stdlib-server", type=Path, help=argparse.SUPPRESS)  # internal: run the baseline
    args = parser.parse_args()
    if args.stdlib_server:
        stdlib_server(args.model, args.stdlib_server)
        return
    if not shutil.which("wrk"):
        raise SystemExit("bench_serve.py needs wrk on PATH (apt-get install wrk)")

    from edgelstm.data import load_labeled

    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    texts = load_labeled(args.data).evaluation_split.sample(args.texts).texts
    workdir = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    one = workdir / "one.jsonl"
    one.write_text("".join(json.dumps({"texts": [t]}) + "\n" for t in texts))
    many = workdir / "many.jsonl"
    many.write_text(
        "".join(json.dumps({"texts": texts[i : i + BATCH]}) + "\n" for i in range(0, len(texts) - BATCH + 1, BATCH))
    )
    model_args = ["--model", args.model] if args.model else []
    cli = [sys.executable, "-m", "edgelstm.cli", "serve", "--port", "0", *model_args]
    servers = {
        "edgelstm serve --workers 2": cli + ["--workers", "2"],
        "edgelstm serve --workers 1": cli + ["--workers", "1"],
        "stdlib ThreadingHTTPServer": [sys.executable, __file__, "--stdlib-server", str(workdir / "port"), *model_args],
    }
    scenarios = [("1 text, c=1", one, 1, 1), ("1 text, c=32", one, 32, 1), (f"{BATCH} texts, c=4", many, 4, BATCH)]
    processes, ports = [], {}
    try:
        for name, command in servers.items():  # all up at once; idle ones cost (almost) nothing
            log = workdir / f"server-{len(ports)}.log"
            if "--stdlib-server" in command:
                port_file = workdir / "port"
                process, port = start(
                    command, lambda port_file=port_file: port_file.exists() and int(port_file.read_text() or 0), log
                )
            else:

                def logged_port(log: Path = log) -> int:
                    found = re.search(r"http://127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))
                    return int(found.group(1)) if found else 0

                process, port = start(command, logged_port, log)
            processes.append(process)
            ports[name] = port
            if "--workers" in command:
                wait_ready(port, int(command[command.index("--workers") + 1]))
            wrk(port, one, 2, 1.0, workdir)  # warm-up
        # Rounds of every scenario on every server, interleaved, so that a noisy neighbour on a
        # shared machine hits all of them alike; each cell is the median of its rounds.
        samples: dict[tuple[str, str], list[tuple[float, float, float, int]]] = {}
        local_rounds = []
        for _ in range(args.rounds):
            for scenario, bodies, connections, _per_request in scenarios:
                for name, port in ports.items():
                    sample = wrk(port, bodies, connections, args.seconds, workdir)
                    samples.setdefault((name, scenario), []).append(sample)
                    print(
                        f"{name:28} {scenario:16} {sample[0]:8.0f} req/s  p50 {sample[1]:.2f} ms  "
                        f"p99 {sample[2]:.2f} ms",
                        file=sys.stderr,
                    )
            local_rounds.append(in_process(args.model, texts, args.seconds / 2))
    finally:
        for process in processes:
            stop(process)
    runs = []
    for scenario, _, connections, per_request in scenarios:
        for name in servers:
            cell = samples[(name, scenario)]
            runs.append(
                Run(
                    name,
                    scenario,
                    connections,
                    per_request,
                    *(statistics.median(s[k] for s in cell) for k in range(3)),
                    sum(s[3] for s in cell),
                )
            )
    local = {key: statistics.median(r[key] for r in local_rounds) for key in local_rounds[0]}
    shutil.rmtree(workdir, ignore_errors=True)

    lines = [
        (
            f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}; wrk on the same cores; {len(texts)} IMDB test reviews; "
            f"medians of {args.rounds} interleaved rounds of {args.seconds:g} s; "
            f"load average before the run {load_before}."
        ),
        "",
        "| server | load | requests/s | texts/s | p50 | p99 | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r.server} | {r.scenario} | {r.requests_per_s:.0f} | {r.texts_per_s:.0f} | {r.p50_ms:.2f} ms | "
        f"{r.p99_ms:.2f} ms | {r.errors} |"
        for r in runs
    ]
    lines += ["", "| in process (`Classifier.predict`) | value |", "| --- | ---: |"]
    lines += [f"| {k} | {v:.3f} |" if "ms" in k else f"| {k} | {v:.0f} |" for k, v in local.items()]

    def find(server: str, scenario: str) -> Run:
        return next(r for r in runs if r.server == server and r.scenario == scenario)

    ours, stdlib = "edgelstm serve --workers 2", "stdlib ThreadingHTTPServer"
    best_local_rate = max(v for k, v in local.items() if k.startswith("texts/s"))
    best_local_p50 = min(v for k, v in local.items() if k.startswith("batch-1 p50"))
    served_rate = find(ours, f"{BATCH} texts, c=4").texts_per_s
    checks = [
        (
            f"{BATCH} texts per request: served texts/s >= 0.8x in-process",
            served_rate / best_local_rate,
            0.8,
            f"{served_rate / best_local_rate:.2f}x",
        ),
        (
            "1 text per request, c=32, --workers 2: req/s >= stdlib baseline",
            find(ours, "1 text, c=32").requests_per_s / find(stdlib, "1 text, c=32").requests_per_s,
            1.0,
            f"{find(ours, '1 text, c=32').requests_per_s / find(stdlib, '1 text, c=32').requests_per_s:.2f}x",
        ),
        (
            "c=1 p50 <= in-process batch-1 p50 + 1 ms",
            best_local_p50 + 1 - find(ours, "1 text, c=1").p50_ms,
            0.0,
            f"{find(ours, '1 text, c=1').p50_ms:.2f} ms vs {best_local_p50:.2f} + 1 ms",
        ),
    ]
    lines += ["", "| target | this run | met |", "| --- | ---: | :---: |"]
    lines += [f"| {name} | {shown} | {'yes' if value >= limit else '**no**'} |" for name, value, limit, shown in checks]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
