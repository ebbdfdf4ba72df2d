"""One home per fact: the README, the CLI and the code agree because they are checked here."""

from __future__ import annotations

import dataclasses
import re

import pytest

import edgelstm
from edgelstm import errors
from edgelstm.config import ARCHS, DEFAULT_DROPOUT, ModelConfig
from tests.helpers import REPO, cli_defaults

README = (REPO / "README.md").read_text(encoding="utf-8")


def _readme_section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_readme_exit_code_table_is_errors_exit_codes():
    table = {int(code): meaning for code, meaning in
             re.findall(r"^\| (\d+) \| (.+) \|$", _readme_section("Errors and exit codes"), re.M)}
    assert sorted(table) == sorted(errors.EXIT_CODES.values())


def test_every_error_class_carries_a_documented_exit_code():
    classes = [errors.EdgelstmError, *errors.EdgelstmError.__subclasses__()]
    try:  # the export errors live with export; their codes are constants of edgelstm.errors
        from edgelstm.export.quantize import QuantizationError
        from edgelstm.export.validate import ExportValidationError
    except ImportError:
        pass
    else:
        assert ExportValidationError.exit_code == errors.EXIT_EXPORT_VALIDATION
        assert QuantizationError.exit_code == errors.EXIT_QUANTIZATION
        classes += [ExportValidationError, QuantizationError]
    assert errors.ModelError.exit_code == errors.EXIT_MODEL
    assert errors.InputError.exit_code == errors.EXIT_INPUT
    assert errors.DataError.exit_code == errors.EXIT_DATA
    for cls in classes:
        assert cls.exit_code in errors.EXIT_CODES.values(), cls


def test_the_cli_has_no_exit_code_literals():
    for path in (REPO / "cli").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"Exit\(\d|_fail\([^)]*,\s*\d+\)", source), path


def test_model_defaults_have_one_home():
    cli = cli_defaults("train")
    for name in ("vocab_size", "max_len", "embed_dim", "hidden", "dense"):
        assert cli[name] == getattr(ModelConfig, name), name
    assert cli["arch"] == ModelConfig.arch and ModelConfig.arch in ARCHS
    assert set(DEFAULT_DROPOUT) == set(ARCHS)
    assert ModelConfig().dropout == DEFAULT_DROPOUT[ModelConfig.arch]
    readme = dict(re.findall(r"--([a-z-]+) (\d+)", _readme_section("Models")))
    names = ("vocab_size", "max_len", "embed_dim", "hidden")
    assert readme == {name.replace("_", "-"): str(cli[name]) for name in names}


def test_training_defaults_have_one_home():
    pytest.importorskip("torch", reason="TrainOptions lives in edgelstm.train (train extra)")
    from edgelstm.train import TrainOptions

    cli = cli_defaults("train")
    options = {f.name: f.default for f in dataclasses.fields(TrainOptions)}
    for name in ("epochs", "batch_size", "val_split", "patience", "seed", "device", "threads", "limit"):
        assert cli[name] == options[name], name
    assert cli["lr"] == options["learning_rate"]
    section = _readme_section("Training")
    for text in (f"--epochs {options['epochs']}", f"--val-split {options['val_split']}",
                 f"--patience {options['patience']}", f"batch {options['batch_size']}"):
        assert text in section, text


def test_the_version_has_one_home():
    from importlib.metadata import version

    assert version("edgelstm") == edgelstm.__version__
    assert 'dynamic = ["version"]' in (REPO / "pyproject.toml").read_text(encoding="utf-8")
