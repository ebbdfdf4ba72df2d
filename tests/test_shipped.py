"""The model shipped in the package: loads without torch, is right on obvious reviews, is intact."""

import json

from edgelstm import Classifier
from edgelstm.classifier import SHIPPED_DIR, SHIPPED_MODEL
from edgelstm.files import file_sha256
from tests.helpers import NO_TORCH, run_cli, run_python

POSITIVE = [
    "One of the best films I have ever seen. Brilliant acting, a wonderful story, I loved every minute.",
    "An absolute masterpiece: beautiful, moving and superbly directed. Highly recommended!",
]
NEGATIVE = [
    "The worst movie I have ever seen. Boring, stupid and a complete waste of time.",
    "Awful acting, a terrible script and no plot at all. Avoid this garbage.",
]


def test_manifest_matches_the_file():
    path = SHIPPED_DIR / SHIPPED_MODEL
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["sha256"] == file_sha256(path)
    assert manifest["bytes"] == path.stat().st_size < 4 * 1024 * 1024
    assert manifest["command"].startswith("scripts/make_default_model.sh")
    config = Classifier.load(path).config
    assert config.quantization.recipe_name == manifest["int8_recipe"]


def test_default_model_without_torch_gets_obvious_reviews_right():
    code = NO_TORCH + f"""
from edgelstm import Classifier
predictions = Classifier.default().predict({POSITIVE + NEGATIVE!r})
print(" ".join(p.label for p in predictions))
"""
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["pos"] * len(POSITIVE) + ["neg"] * len(NEGATIVE)


def test_predict_and_info_without_model(tmp_path, monkeypatch):
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("\n".join(POSITIVE + NEGATIVE) + "\n")
    result = run_cli("predict", reviews)
    assert result.returncode == 0, result.stderr
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ["pos", "pos", "neg", "neg"]
    result = run_cli("info")
    assert file_sha256(SHIPPED_DIR / SHIPPED_MODEL) in result.stdout and "bilstm" in result.stdout


def test_environment_variable_overrides_the_default(monkeypatch):
    from tests.helpers import TINY_BILSTM

    monkeypatch.setenv("EDGELSTM_MODEL", str(TINY_BILSTM))
    assert Classifier.default().labels == ["negative", "neutral", "positive"]


def test_a_damaged_shipped_model_is_refused(tmp_path, monkeypatch):
    import shutil

    import pytest

    from edgelstm import ModelError, classifier

    for name in (SHIPPED_MODEL, SHIPPED_MODEL.replace(".onnx", ".json")):
        shutil.copyfile(SHIPPED_DIR / name, tmp_path / name)
    with open(tmp_path / SHIPPED_MODEL, "ab") as f:
        f.write(b"\0")  # still loadable by onnxruntime's parser or not: the checksum must catch it
    monkeypatch.setattr(classifier, "SHIPPED_DIR", tmp_path)
    monkeypatch.delenv("EDGELSTM_MODEL", raising=False)
    with pytest.raises(ModelError, match="checksum differs"):
        Classifier.default()
