"""The shipped model's recipe is pinned: scripts/recipe-constraints.txt names the versions,
scripts/make_default_model.sh refuses others before it starts, the manifest records them."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

from edgelstm.classifier import shipped_manifest
from tests.helpers import REPO, TINY_LSTM, run_cli, run_python

SCRIPTS = REPO / "scripts"
_spec = importlib.util.spec_from_file_location("recipe_versions", SCRIPTS / "recipe_versions.py")
assert _spec and _spec.loader
recipe_versions = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recipe_versions)

# what the recipe's numbers depend on (issue 21): each must be pinned
MATTERS = {"python", "torch", "numpy", "scipy", "gensim", "scikit-learn", "onnx", "onnxruntime", "tokenizers"}


def _make_default_model(tmp_path, constraints, **env):
    """scripts/make_default_model.sh DATASETS WORK with CONSTRAINTS, this interpreter's python first on PATH."""
    environment = {**os.environ, "CONSTRAINTS": str(constraints), **env,
                   "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    (tmp_path / "datasets").mkdir(exist_ok=True)
    return subprocess.run(["bash", str(SCRIPTS / "make_default_model.sh"), str(tmp_path / "datasets"),
                           str(tmp_path / "work")], cwd=REPO, env=environment, capture_output=True, text=True)


def test_the_constraints_pin_every_version_that_matters():
    assert set(recipe_versions.pinned()) == MATTERS


def test_the_manifest_says_which_versions_made_the_shipped_model():
    manifest = shipped_manifest()
    versions = manifest["versions"]
    if versions is None:  # made before versions were recorded: the manifest must say so, and why it matters
        assert "not recorded" in manifest["versions_note"] and "recipe-constraints.txt" in manifest["versions_note"]
        return
    pins = recipe_versions.pinned()
    assert set(versions) == set(pins)
    for name, pin in pins.items():  # a model shipped from now on: made with the pinned set
        assert recipe_versions._same(pin, versions[name], name), (name, versions[name], pin)


def test_the_script_refuses_other_versions_before_it_starts(tmp_path):
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("# python: 3.11\nnumpy==0.0.1\n", encoding="utf-8")
    done = _make_default_model(tmp_path, constraints)
    assert done.returncode == 1
    assert "numpy:" in done.stderr and "the recipe's is 0.0.1" in done.stderr
    assert "pip install -c scripts/recipe-constraints.txt" in done.stderr
    assert not (tmp_path / "work").exists()  # nothing ran


def test_unpinned_goes_on_to_the_data(tmp_path):
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("numpy==0.0.1\n", encoding="utf-8")
    done = _make_default_model(tmp_path, constraints, UNPINNED="1")
    assert "UNPINNED=1: going on" in done.stderr
    # the empty datasets folder stops it next, with the archives it looks for
    assert done.returncode == 4 and "neither aclImdb_v1.tar.gz nor aclImdb_v1_labeled.tar.gz" in done.stderr


def test_the_check_passes_with_the_installed_versions(tmp_path):
    names = sorted(MATTERS - {"python"})
    found = recipe_versions.installed(names)
    pins = "".join(f"{name}=={version.split('+')[0]}\n" for name, version in found.items() if version)
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(f"# python: {'.'.join(map(str, sys.version_info[:2]))}\n{pins}", encoding="utf-8")
    done = run_python(SCRIPTS / "recipe_versions.py", "--check", "--constraints", constraints)
    assert done.returncode == 0, done.stderr


def test_ship_model_records_the_installed_versions(tmp_path):
    pytest.importorskip("onnx", reason="quantizing needs onnx (train extra)")
    model = tmp_path / "model.int8.onnx"
    assert run_cli("quantize", TINY_LSTM, "-o", model).returncode == 0
    shutil.copyfile(REPO / "runtime" / "shipped" / "sentiment-en.tokenizer.json", tmp_path / "tokenizer.json")
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    done = run_python(SCRIPTS / "ship_model.py", model, "--command", "test", "--into", shipped)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((shipped / "sentiment-en.int8.json").read_text(encoding="utf-8"))
    assert manifest["versions"] == recipe_versions.installed(list(recipe_versions.pinned()))
