"""The README's sample outputs, made by running the commands the README shows.

A sample in README.md is a fenced code block (bash or python) followed by the line
``<!-- sample: NAME -->`` and a ```` ```text ```` block: the output of that code, run as written in
a fresh temporary folder with the installed ``edgelstm`` (no ``$EDGELSTM_MODEL``: the shipped
model; its folder is shown as ``.../edgelstm/shipped``). ``python scripts/readme_samples.py``
rewrites the output blocks; ``--check`` rewrites nothing and exits 1 naming each block whose
text differs (tests/test_readme_samples.py runs it).

Outputs must be the same text; numbers in them may differ by 1e-6 plus half a unit of their
last printed digit (onnxruntime's float32 rounding may differ in the last bits between CPUs).
Bash blocks that call a server (``localhost:8000``) get an ``edgelstm serve`` started for them
on a free port (needs the ``serve`` extra and curl).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Sample", "find_samples", "run_sample", "same_output", "main"]

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = re.compile(r"^<!-- sample: ([\w-]+) -->$")
FENCE = re.compile(r"^```(\w*)$")
NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")
ATOL = 1e-6
SERVER = "localhost:8000"
SERVER_START_S = 60
SHIPPED_SHOWN = ".../edgelstm/shipped"


@dataclass
class Sample:
    name: str
    language: str  # of the code block: bash or python
    code: str
    output: str  # the README's text block
    output_lines: tuple[int, int]  # the text block's content lines in the README, [start, end)


def _fenced_blocks(lines: list[str]) -> Iterator[tuple[str, int, int]]:
    """(language, first content line, end line) of each fenced block."""
    start = None
    language = ""
    for i, line in enumerate(lines):
        match = FENCE.match(line)
        if match and start is None:
            start, language = i + 1, match.group(1)
        elif line == "```" and start is not None:
            yield language, start, i
            start = None


def find_samples(text: str) -> list[Sample]:
    lines = text.split("\n")
    blocks = list(_fenced_blocks(lines))
    samples = []
    for i, line in enumerate(lines):
        match = MARKER.match(line)
        if not match:
            continue
        code = [b for b in blocks if b[2] < i]
        output = [b for b in blocks if b[1] == i + 2]
        if not code or not output or code[-1][2] != i - 1 or output[0][0] != "text":
            raise SystemExit(f"README.md:{i + 1}: a sample marker goes between a code block and a ```text block")
        language, start, end = code[-1]
        _, out_start, out_end = output[0]
        samples.append(Sample(match.group(1), language, "\n".join(lines[start:end]),
                              "\n".join(lines[out_start:out_end]), (out_start, out_end)))
    return samples


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _server(env: dict[str, str]) -> Iterator[str]:
    """An ``edgelstm serve`` of the shipped model on a free port; yields its host:port."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "edgelstm", "-q", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=5):
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"edgelstm serve did not start: {process.stderr.read().decode()[-500:]}")
            time.sleep(0.2)
        yield f"localhost:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def run_sample(sample: Sample) -> str:
    """What the sample's code prints, run as the README shows it, in a fresh folder."""
    env = {k: v for k, v in os.environ.items() if k != "EDGELSTM_MODEL"}
    # the edgelstm of this interpreter's environment, as `pip install .` puts it on the PATH
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "200"
    with tempfile.TemporaryDirectory(prefix="edgelstm-readme-") as folder, contextlib.ExitStack() as stack:
        code = sample.code
        if SERVER in code:
            code = code.replace(SERVER, stack.enter_context(_server(env)))
        if sample.language == "python":
            command = [sys.executable, "-c", code]
        else:
            command = ["bash", "-euo", "pipefail", "-c", code]
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"sample {sample.name} exited {done.returncode}: {done.stderr[-1000:]}")
    # where the package is installed differs between machines: shown as .../edgelstm/shipped
    from edgelstm.classifier import SHIPPED_DIR

    output = done.stdout.replace(folder, ".").replace(str(SHIPPED_DIR), SHIPPED_SHOWN)
    return output.rstrip("\n")


def _tolerance(number: str) -> float:
    mantissa = number.split("e")[0]
    decimals = len(mantissa.split(".")[1])
    return ATOL + 0.5 * 10.0 ** -decimals * (10.0 ** int(number.split("e")[1]) if "e" in number else 1.0)


def same_output(shown: str, produced: str) -> bool:
    """The same text, with numbers equal within their tolerance (module docstring)."""
    if NUMBER.split(shown) != NUMBER.split(produced):
        return False
    pairs = zip(NUMBER.findall(shown), NUMBER.findall(produced))
    return all(abs(float(a) - float(b)) <= max(_tolerance(a), _tolerance(b)) for a, b in pairs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="rewrite nothing; exit 1 if a sample is stale")
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--only", action="append", help="only the samples of this name (repeatable)")
    args = parser.parse_args(argv)

    text = args.readme.read_text(encoding="utf-8")
    lines = text.split("\n")
    samples = [s for s in find_samples(text) if not args.only or s.name in args.only]
    stale = []
    for sample in reversed(samples):  # from the end, so earlier line numbers stay valid
        produced = run_sample(sample)
        if same_output(sample.output, produced):
            continue
        stale.append(sample.name)
        start, end = sample.output_lines
        lines[start:end] = produced.split("\n")
    if stale and args.check:
        print(f"{args.readme}: stale samples (run scripts/readme_samples.py): {', '.join(reversed(stale))}",
              file=sys.stderr)
        return 1
    if stale:
        args.readme.write_text("\n".join(lines), encoding="utf-8")
        print(f"{args.readme}: rewrote {', '.join(reversed(stale))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
