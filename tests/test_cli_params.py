"""The CLI's values converted without pydantic (edgelstm.cli.params): typer's answers exactly,
and ``edgelstm predict`` starting without importing pydantic."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import typer.main

from edgelstm.cli import app
from edgelstm.cli.params import NOT_PLAIN, plain_value
from tests.helpers import TINY_LSTM, run_python

_coercion = pytest.importorskip("typer._coercion", reason="a typer that converts with click's own types")

# What a user (or a default) may hand each parameter: plain spellings, typer's lax ones, wrong ones.
RAW = [None, "5", "0", "-1", "05", "+5", " 5", "1_000", "5.0", "0.5", "-0.25", "1e3", ".5", "nan", "", "x",
       "12345678901234567890123", "text", "jsonl", "JSON", "lstm", "bilstm", "none", "balanced", "best",
       "model.onnx", "-", "/no/such/dir/file.txt", 3, 2.5, True, False, Path("model.pt"),
       ("a.txt", "-"), ["5", "x"], (), ("1e3",)]


def _parameters():
    group = typer.main.get_command(app)
    for name, command in [("", group), *group.commands.items()]:
        ctx = typer.Context(command, info_name=name or "edgelstm")
        for param in command.params + [command.get_help_option(ctx)]:
            yield name, param, ctx


def test_plain_values_are_typers_own():
    """For every parameter of every command and every raw value: where the plain conversion
    answers, typer's pydantic conversion gives the same value of the same type; where typer
    refuses a value, the plain one leaves it to typer (whose message the user then reads)."""
    answered = 0
    for command, param, ctx in _parameters():
        typers = _coercion.build_runtime_param(param.type_descriptor)
        for raw in RAW:
            plain = plain_value(raw, param, ctx)
            try:
                expected = typers.coerce(raw, param=param, ctx=ctx)
            except (typer.BadParameter, ValueError):
                assert plain is NOT_PLAIN, (command, param.name, raw, plain)
                continue
            if plain is not NOT_PLAIN:
                answered += 1
                assert (type(plain), plain) == (type(expected), expected), (command, param.name, raw)
    assert answered > 500  # it does answer: the common values of every kind


def test_predict_converts_plain_values_without_typers_adapters():
    names = {p.name: p for p in typer.main.get_command(app).commands["predict"].params}
    ctx = typer.Context(typer.main.get_command(app).commands["predict"])
    assert plain_value(("a.txt", "-"), names["files"], ctx) == ["a.txt", "-"]
    assert plain_value("2", names["threads"], ctx) == 2
    assert plain_value(None, names["threads"], ctx) is None
    assert plain_value("m.onnx", names["model"], ctx) == Path("m.onnx")
    assert plain_value("jsonl", names["output_format"], ctx).value == "jsonl"
    assert plain_value("0", names["threads"], ctx) is NOT_PLAIN  # below --threads' minimum: typer's error


def test_predict_starts_without_pydantic(tmp_path):
    """typer builds a pydantic adapter for each parameter it converts (0.15-0.2 s of start-up);
    ``edgelstm predict`` converts its values without them."""
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    code = ("import sys\nfrom edgelstm.cli import main\n"
            f"sys.argv = ['edgelstm', 'predict', '--model', {str(TINY_LSTM)!r}, {str(empty)!r}, '--threads', '2',"
            " '--format', 'jsonl']\n"
            "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'pydantic_core'}))")
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# The same command lines with typer's own conversion (get_runtime_param as typer defines it).
TYPERS_OWN = """
import sys, typer.core
own = typer.core._TyperParameter.get_runtime_param
from edgelstm.cli import main
if sys.argv.pop(1) == "typer":
    typer.core._TyperParameter.get_runtime_param = own
sys.argv[0] = "edgelstm"
main()
"""


@pytest.mark.parametrize("args", [
    ["predict", "--threads", "0", "x.txt"],
    ["predict", "--threads", "two", "x.txt"],
    ["predict", "--threads", "+2", "--model", TINY_LSTM, "-"],
    ["predict", "--format", "xml", "x.txt"],
    ["predict", "--format", "JSONL", "--model", TINY_LSTM, "-"],
    ["predict", "--model", "", "x.txt"],
    ["predict"],
    ["evaluate", "--format", "yaml", "x"],
    ["quantize", "m.onnx", "--budget", "-1"],
    ["train", "x", "--dropout", "0.99"],
    ["train", "x", "--arch", "gru"],
    ["serve", "--port", "70000"],
    ["predict", "--help"],
], ids=lambda args: " ".join(map(str, args)))
def test_command_lines_behave_as_with_typers_conversion(args):
    """Output, errors and exit codes word for word those of typer's own conversion."""
    ours = run_python("-c", TYPERS_OWN, "ours", *args, stdin="a fine film\n")
    typers = run_python("-c", TYPERS_OWN, "typer", *args, stdin="a fine film\n")
    assert (ours.returncode, ours.stdout, ours.stderr) == (typers.returncode, typers.stdout, typers.stderr)


def test_command_annotations_are_evaluated_once_at_import():
    """typer reads every command's annotations at every start; as strings (``from __future__ import
    annotations``) it would compile and evaluate each twice, ~40 ms of ``edgelstm predict``'s start."""
    for info in app.registered_commands + [app.registered_callback]:
        strings = {name: a for name, a in info.callback.__annotations__.items() if isinstance(a, str)}
        assert not strings, (info.callback.__name__, strings)
