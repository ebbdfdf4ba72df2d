"""What the tests share: paths, the tiny models, the blocked-torch prelude, one way to run a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

__all__ = [
    "DATA", "IMDB", "NO_TORCH", "REPO", "SMALL", "TEXT_SETS", "TINY_BILSTM", "TINY_LSTM", "cli_defaults",
    "needs_imdb", "needs_text_set", "run_cli", "run_cli_process", "run_python",
]

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
IMDB = Path(os.environ.get("EDGELSTM_IMDB", REPO.parent / "shared/datasets/aclImdb_v1_labeled.tar.gz"))
# The six small sets of other domains (JSONL, NAME.train.jsonl / NAME.test.jsonl)
TEXT_SETS = Path(os.environ.get("EDGELSTM_TEXT_SETS", REPO.parent / "shared/datasets/text-classification"))
TINY_LSTM = DATA / "tiny-lstm.onnx"
TINY_BILSTM = DATA / "tiny-bilstm.onnx"

# Small enough to train in seconds, with the example's max length so that lengths 380 and
# beyond are exercised for real.
SMALL = {"vocab_size": 2000, "max_len": 380, "embed_dim": 16, "hidden": 16, "dense": 32}

# A prelude for a fresh interpreter in which importing torch is an error: proves code never needs it.
NO_TORCH = """
import sys
class BlockTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, BlockTorch())
"""


# CI sets this: the dataset it was given must be there, so a wrong path fails instead of skipping.
REQUIRE_DATA = os.environ.get("EDGELSTM_REQUIRE_DATA") == "1"


def needs_imdb() -> None:
    if not IMDB.exists():
        message = f"IMDB archive not found at {IMDB} (set EDGELSTM_IMDB)"
        if REQUIRE_DATA:
            pytest.fail(message + "; EDGELSTM_REQUIRE_DATA=1 makes this a failure")
        pytest.skip(message)


def needs_text_set(name: str) -> Path:
    """The training file of one of the small sets, or a skip (a failure under CI's REQUIRE_DATA)."""
    path = TEXT_SETS / f"{name}.train.jsonl"
    if not path.exists():
        message = f"{path} not found (set EDGELSTM_TEXT_SETS)"
        if REQUIRE_DATA:
            pytest.fail(message + "; EDGELSTM_REQUIRE_DATA=1 makes this a failure")
        pytest.skip(message)
    return path


def run_python(*args: object, stdin: str | bytes | None = None) -> subprocess.CompletedProcess[str]:
    """``python ARGS...`` in a fresh interpreter; stdout and stderr decoded (bad bytes replaced)."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    done = subprocess.run([sys.executable, *map(str, args)], input=data, capture_output=True)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8", "replace"),
                                       done.stderr.decode("utf-8", "replace"))


def run_cli(*args: object, stdin: str | bytes | None = None) -> subprocess.CompletedProcess[str]:
    """``edgelstm ARGS...`` in this process (click's runner: fast, and a failure shows the
    traceback); stdout and stderr apart, the exit code as ``returncode``. What needs a real process
    (a fresh interpreter, signals, pipes, blocked imports) uses ``run_cli_process``."""
    from typer.testing import CliRunner

    from edgelstm.cli import app

    argv = [str(a) for a in args]
    result = CliRunner().invoke(app, argv, input=stdin, prog_name="edgelstm")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a bug: its traceback, not a silent exit code 1
    return subprocess.CompletedProcess(["edgelstm", *argv], result.exit_code, result.stdout, result.stderr)


def run_cli_process(*args: object, stdin: str | bytes | None = None) -> subprocess.CompletedProcess[str]:
    """``edgelstm ARGS...`` in a fresh interpreter (as ``python -m edgelstm.cli``)."""
    return run_python("-m", "edgelstm.cli", *args, stdin=stdin)


def cli_defaults(command: str) -> dict[str, object]:
    """The default of each option of an ``edgelstm`` command, by parameter name."""
    import typer

    from edgelstm.cli import app

    group = typer.main.get_command(app)
    return {p.name: p.default for p in group.commands[command].params if p.name}  # type: ignore[attr-defined]


def write_long_texts(path: Path) -> Path:
    """60 labeled lines of 160 random tokens each: texts long enough that the adaptive recipe
    gives them no wide term."""
    import numpy as np

    rng = np.random.default_rng(0)
    vocabulary = [f"w{i}" for i in range(40)]

    def text() -> str:
        return " ".join(rng.choice(vocabulary, 160))

    path.write_text("".join(f"__label__pos good {text()}\n__label__neg bad {text()}\n" for _ in range(30)))
    return path
