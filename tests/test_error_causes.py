"""Errors keep their cause: one line without --debug, the whole chain with it."""

from __future__ import annotations

import pytest

from edgelstm import ModelError
from edgelstm.config import ModelConfig
from tests.helpers import run_cli, run_cli_process

CAUSE = "The above exception was the direct cause of the following exception"


def test_library_errors_chain_their_cause():
    with pytest.raises(ModelError) as caught:
        ModelConfig.from_json("{not json")
    assert isinstance(caught.value.__cause__, ValueError)  # json.JSONDecodeError


@pytest.mark.parametrize("suffix", [".onnx", ".pt"])
def test_cli_prints_one_line_and_debug_shows_the_chain(tmp_path, suffix):
    if suffix == ".pt":
        pytest.importorskip("torch", reason="reading a .pt needs the train extra")
    bad = tmp_path / f"model{suffix}"
    bad.write_bytes(b"\x80\x04 not a model at all" * 10)
    plain = run_cli("predict", "--model", bad, "-")
    assert plain.returncode == 3
    assert plain.stderr.count("\n") == 1 and plain.stderr.startswith("edgelstm: error:")
    debug = run_cli_process("--debug", "predict", "--model", bad, "-")  # the interpreter prints the chain
    assert debug.returncode != 0
    assert CAUSE in debug.stderr and "ModelError" in debug.stderr
