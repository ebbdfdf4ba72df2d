"""The package's shape: one identity per module, explicit public names, the runtime's room."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil

import pytest
import tomllib

import edgelstm
from tests.helpers import NO_TORCH, REPO, TINY_LSTM, run_python

PACKAGE_DIRS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
FOLDERS = {folder.split("/")[0] for folder in PACKAGE_DIRS.values()}  # runtime, cli, train, export
OPTIONAL = ("torch", "onnx", "fastapi", "uvicorn", "starlette", "prometheus_client", "gensim")  # what the extras add
# Modules another branch is rewriting (issue #10, int8graph): public callables missing from __all__.
PENDING: dict[str, str] = {}  # module -> why its __all__ is known to be incomplete (strict xfail)


def _python_files():
    skip = {".venv", ".git", "build", "node_modules", "dist"}
    for path in REPO.rglob("*.py"):
        if not skip & set(path.relative_to(REPO).parts) and not any(p.endswith(".egg-info") for p in path.parts):
            yield path


def test_nothing_imports_a_folder_by_name():
    """``import runtime.errors`` next to ``edgelstm.errors`` would make two ModelError classes."""
    offenders = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            offenders += [f"{path.relative_to(REPO)}:{node.lineno}: {n}" for n in names if n.split(".")[0] in FOLDERS]
    assert FOLDERS >= {"runtime", "train", "export", "cli"}
    assert not offenders, offenders


def _modules():
    """Every module of every package in pyproject.toml (subpackages live in other folders)."""
    seen = set()
    for package in sorted(PACKAGE_DIRS):
        try:
            root = importlib.import_module(package)
        except ModuleNotFoundError as exc:  # only the train extra may be missing
            if exc.name not in OPTIONAL:
                raise
            continue
        names = [package] + [info.name for info in pkgutil.iter_modules(root.__path__, package + ".")]
        for name in names:
            if name in seen or name.endswith(".__main__") or (name != package and name in PACKAGE_DIRS):
                continue
            seen.add(name)
            try:
                yield importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name not in OPTIONAL:
                    raise


def _has(module, name):
    try:
        return hasattr(module, name)
    except ModuleNotFoundError as exc:  # a lazy name of edgelstm.export whose submodule needs the extra
        return exc.name in OPTIONAL


@pytest.mark.parametrize("module", list(_modules()), ids=lambda m: m.__name__)
def test_all_lists_exactly_the_public_names(module, request):
    """httpx style: every module says what it exports, and exports only what exists."""
    if module.__name__ in PENDING:  # strict: once fixed, this entry must go
        request.applymarker(pytest.mark.xfail(reason=PENDING[module.__name__], strict=True))
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{module.__name__} has no __all__"
    assert len(set(exported)) == len(exported)
    missing = [name for name in exported if not _has(module, name)]
    assert not missing, missing
    defined_here = [name for name, value in vars(module).items()
                    if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
                    and callable(value)]
    unlisted = sorted(set(defined_here) - set(exported))
    assert not unlisted, f"{module.__name__}: public but not in __all__ (make them _private or export them)"


def test_top_level_api_is_sorted_and_complete():
    public = sorted(name for name in dir(edgelstm) if not name.startswith("_") and
                    not isinstance(getattr(edgelstm, name), type(edgelstm)))
    assert sorted(set(edgelstm.__all__) - {"__version__"}) == public


def test_bench_and_export_imports_need_no_torch():
    """Measuring an .onnx needs only the runtime: the export package imports nothing heavy."""
    # the export package and its quantizer need onnx (the train extra) but never torch
    export = "edgelstm.export, edgelstm.export.quantize, " if importlib.util.find_spec("onnx") else ""
    code = NO_TORCH + f"import {export}edgelstm.bench, edgelstm.files\nprint('ok')"
    result = run_python("-c", code)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_edgelstm_bench_of_an_onnx_without_torch(tmp_path):
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"review {i},{'pos' if i % 2 else 'neg'}\n" for i in range(20)))
    cli_without_torch = NO_TORCH + "import sys; from edgelstm.cli import main; sys.argv[0] = 'edgelstm'; main()"
    result = run_python("-c", cli_without_torch, "bench", TINY_LSTM, "--data", data, "--no-cold-start")
    assert result.returncode == 0, result.stderr
    assert "| onnxruntime fp32 |" in result.stdout
