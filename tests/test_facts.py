"""One home per fact: the README, the CLI and the code agree because they are checked here."""

from __future__ import annotations

import dataclasses
import re

import pytest

import edgelstm
from edgelstm import errors
from edgelstm.config import ARCHS, DEFAULT_DROPOUT, ModelConfig
from tests.helpers import REPO, TINY_LSTM, cli_defaults, run_cli

README = (REPO / "README.md").read_text(encoding="utf-8")


def _readme_section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_readme_exit_code_table_is_errors_exit_codes():
    table = {int(code): meaning for code, meaning in
             re.findall(r"^\| (\d+) \| (.+) \|$", _readme_section("Errors and exit codes"), re.M)}
    assert sorted(table) == sorted(errors.EXIT_CODES.values())


def test_every_error_class_carries_a_documented_exit_code():
    """Every error class lives in edgelstm.errors (export's too, so torch-free code can raise them)."""
    classes = [getattr(errors, name) for name in errors.__all__ if name.endswith("Error")]
    assert {cls.__name__ for cls in classes} >= {"ExportValidationError", "QuantizationError", "TokenizerJsonError"}
    assert errors.ExportValidationError.exit_code == errors.EXIT_EXPORT_VALIDATION
    assert errors.QuantizationError.exit_code == errors.EXIT_QUANTIZATION
    assert errors.ModelError.exit_code == errors.EXIT_MODEL
    assert errors.InputError.exit_code == errors.EXIT_INPUT
    assert errors.DataError.exit_code == errors.EXIT_DATA
    for cls in classes:
        assert issubclass(cls, errors.EdgelstmError) and cls.exit_code in errors.EXIT_CODES.values(), cls
        assert cls.__module__ == "edgelstm.errors", cls


def test_no_error_class_outside_edgelstm_errors():
    offenders = []
    for folder in ("runtime", "train", "export", "cli"):
        for path in (REPO / folder).rglob("*.py"):
            for match in re.finditer(r"^class (\w+)\((\w*Error)\)", path.read_text(encoding="utf-8"), re.M):
                offenders.append(f"{path.relative_to(REPO)}: {match.group(1)}")
    assert offenders and all(offender.startswith("runtime/errors.py: ") for offender in offenders), offenders


def test_the_cli_has_no_exit_code_literals():
    for path in (REPO / "cli").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"Exit\(\d|_fail\([^)]*,\s*\d+\)", source), path


def test_model_defaults_have_one_home():
    """ModelConfig owns the Keras example's sizes; the keras-imdb preset is exactly them; the CLI
    leaves every unset option to the preset; the README quotes the preset."""
    from edgelstm.train.presets import DEFAULT_PRESET, PRESETS  # torch-free

    cli = cli_defaults("train")
    keras = PRESETS["keras-imdb"]
    for name in ("vocab_size", "max_len", "embed_dim", "hidden", "dense"):
        assert cli[name] is None, name  # the preset decides
        assert keras[name] == getattr(ModelConfig, name), name
        assert name in PRESETS[DEFAULT_PRESET], name
    assert keras["arch"] == ModelConfig.arch and PRESETS[DEFAULT_PRESET]["arch"] in ARCHS
    assert set(DEFAULT_DROPOUT) == set(ARCHS)
    assert ModelConfig().dropout == DEFAULT_DROPOUT[ModelConfig.arch]
    readme = dict(re.findall(r"--([a-z-]+) (\d+)", _readme_section("Models")))
    names = ("vocab_size", "max_len", "embed_dim", "hidden")
    assert readme == {name.replace("_", "-"): str(keras[name]) for name in names}


def test_training_defaults_have_one_home():
    """TrainOptions owns the Keras example's training settings; keras-imdb is exactly them."""
    pytest.importorskip("torch", reason="TrainOptions lives in edgelstm.train (train extra)")
    from edgelstm.train import TrainOptions
    from edgelstm.train.presets import PRESETS

    cli = cli_defaults("train")
    options = {f.name: f.default for f in dataclasses.fields(TrainOptions)}
    keras = PRESETS["keras-imdb"]
    for name in ("epochs", "batch_size", "val_split", "patience", "min_count", "word_dropout", "weight_decay",
                 "lr_schedule"):
        assert cli[name] is None, name  # the preset decides
        assert keras[name] == options[name], name
    assert keras["lr"] == options["learning_rate"]
    for name in ("seed", "device", "threads", "limit", "keep"):
        assert cli[name] == options[name], name


def test_the_version_has_one_home():
    from importlib.metadata import version

    assert version("edgelstm") == edgelstm.__version__
    assert 'dynamic = ["version"]' in (REPO / "pyproject.toml").read_text(encoding="utf-8")


def test_cli_choices_match_the_training_names():
    """typer needs Enums at import: built from training's torch-free names, exactly."""
    from edgelstm.cli.commands import Keep, Preset, Schedule
    from edgelstm.train.presets import KEEP_EPOCHS, LR_SCHEDULES, PRESETS

    assert [p.value for p in Preset] == list(PRESETS)
    assert tuple(s.value for s in Schedule) == LR_SCHEDULES
    assert tuple(k.value for k in Keep) == KEEP_EPOCHS


def _exit_table() -> dict[int, str]:
    return {int(code): meaning for code, meaning in
            re.findall(r"^\| (\d+) \| (.+) \|$", _readme_section("Errors and exit codes"), re.M)}


def _fasttext(path):
    path.write_text("".join(f"__label__{'pos' if i % 2 else 'neg'} review {i} good bad\n" for i in range(20)))
    return path


def _port_in_use(tmp_path, stack):
    import socket

    sock = stack.enter_context(socket.socket())
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    pytest.importorskip("uvicorn", reason="serve needs the serve extra")
    return ["serve", "--model", TINY_LSTM, "--port", sock.getsockname()[1]]


def _existing_file(tmp_path, stack):
    pytest.importorskip("torch", reason="export needs the train extra")
    (tmp_path / "notes.txt").write_text("mine\n")
    return ["export", tmp_path / "model.pt", "-o", tmp_path / "notes.txt"]


# (exit code, the cause as the README's table words it, the command that causes it)
EXIT_CAUSES = [
    (2, "an unknown option", lambda t, s: ["predict", "--no-such-option", "-"]),
    (2, "`evaluate MODEL` without data", lambda t, s: ["evaluate", TINY_LSTM]),
    (3, "missing, empty", lambda t, s: ["predict", "--model", t / "missing.onnx", "-"]),
    (4, "a missing file (inputs and data)", lambda t, s: ["predict", "--model", TINY_LSTM, t / "missing.txt"]),
    (4, "`export -o` at an existing file", _existing_file),
    (4, "port in use", _port_in_use),
    (4, "a missing or unreadable `--vectors` or `--unlabeled` file",
     lambda t, s: ["train", _fasttext(t / "d.txt"), "-o", t / "m.pt", "--vectors", t / "missing.vec"]),
    (4, "a missing or unreadable `--vectors` or `--unlabeled` file",
     lambda t, s: ["train", _fasttext(t / "d.txt"), "-o", t / "m.pt", "--unlabeled", t / "missing.txt"]),
    (4, "`quantize -o`", lambda t, s: ["quantize", _copy(TINY_LSTM, t), "-o", t / TINY_LSTM.name]),
    (5, "unknown labels", lambda t, s: ["evaluate", TINY_LSTM, _other_labels(t)]),
]


def _copy(path, tmp_path):
    import shutil

    return shutil.copy(path, tmp_path / path.name)


def _other_labels(tmp_path):
    path = tmp_path / "other.txt"
    path.write_text("__label__good fine\n__label__bad awful\n")
    return path


@pytest.mark.parametrize(("code", "cause", "command"), EXIT_CAUSES, ids=[f"{c[0]}-{c[1]}" for c in EXIT_CAUSES])
def test_each_documented_exit_cause_exits_with_its_code(tmp_path, code, cause, command):
    """The README's table is the test: the cause is in the row of its code, and causing it exits so."""
    from contextlib import ExitStack

    assert cause in _exit_table()[code]
    with ExitStack() as stack:
        argv = command(tmp_path, stack)
        if argv[0] == "train":
            pytest.importorskip("torch", reason="train needs the train extra")
        if argv[0] == "quantize":
            pytest.importorskip("onnx", reason="quantize needs onnx (the train extra)")
        result = run_cli(*argv)
    assert result.returncode == code, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("edgelstm: error: ") or "Usage:" in result.stderr, result.stderr
    assert "unexpected" not in result.stderr, result.stderr


def test_the_accuracy_budget_has_one_home():
    """The CLI's --budget (points) is the library's ACCURACY_BUDGET (a fraction), not a second value."""
    from edgelstm.export.recipes import ACCURACY_BUDGET

    for command in ("export", "quantize"):
        assert cli_defaults(command)["budget"] == pytest.approx(100 * ACCURACY_BUDGET), command


def test_the_preset_resolver_fills_what_is_unset(tmp_path):
    """``edgelstm train``'s merging of a preset and the options given is a library call."""
    pytest.importorskip("torch", reason="TrainOptions lives in edgelstm.train.trainer (train extra)")
    from edgelstm.train.presets import PRESETS, resolve

    config, options = resolve("keras-imdb", arch="bilstm", hidden=None, seed=3, limit=None)
    assert (config.arch, config.dropout, config.hidden) == ("bilstm", DEFAULT_DROPOUT["bilstm"], 32)
    assert (options.learning_rate, options.seed, options.limit) == (PRESETS["keras-imdb"]["lr"], 3, None)
    vectors = tmp_path / "v.vec"
    vectors.write_text("2 7\ngood 1 2 3 4 5 6 7\nbad 1 2 3 4 5 6 7\n")
    config, options = resolve("default", vectors=vectors, lr=0.01, keep="last")
    assert (config.embed_dim, config.dropout, config.arch) == (7, PRESETS["default"]["dropout"], "bilstm")
    assert (options.vectors, options.learning_rate, options.keep) == (str(vectors), 0.01, "last")
    assert resolve("default", embed_dim=5, vectors=vectors)[0].embed_dim == 5  # given beats the file
    with pytest.raises(ValueError, match="unknown preset"):
        resolve("nope")
