"""The README's sample outputs are what its commands print now (scripts/readme_samples.py), and
its figures of the shipped model are its manifest's."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys

import numpy as np
import pytest

from edgelstm import Classifier
from edgelstm.classifier import shipped_manifest
from tests.helpers import DATA, REPO, run_python

SCRIPT = REPO / "scripts" / "readme_samples.py"
README = REPO / "README.md"
_spec = importlib.util.spec_from_file_location("readme_samples", SCRIPT)
assert _spec and _spec.loader
samples = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("readme_samples", samples)  # dataclasses look their module up
_spec.loader.exec_module(samples)

ALL = samples.find_samples(README.read_text(encoding="utf-8"))
SERVED = [s.name for s in ALL if samples.SERVER in s.code]
LOCAL = [s.name for s in ALL if s.name not in SERVED]


def _check(*names: str, readme=README):
    return run_python(SCRIPT, "--check", "--readme", readme, *(f"--only={n}" for n in names))


def test_the_readme_has_samples_of_predict_python_info_and_serve():
    assert {"predict", "python", "info"} <= set(LOCAL) and {"serve-predict", "serve-infer"} <= set(SERVED)


def test_cli_and_python_samples_are_what_the_commands_print():
    done = _check(*LOCAL)
    assert done.returncode == 0, done.stderr


def test_serve_samples_are_what_the_server_answers():
    pytest.importorskip("fastapi", reason="the serve samples need the serve extra")
    if not shutil.which("curl"):
        pytest.skip("the serve samples run curl, which is not installed")
    done = _check(*SERVED)
    assert done.returncode == 0, done.stderr


def test_a_stale_sample_fails_the_check_and_is_rewritten(tmp_path):
    readme = tmp_path / "README.md"
    (predict,) = [s for s in ALL if s.name == "predict"]
    text = README.read_text(encoding="utf-8")
    stale = re.sub(r"\d\.\d{6}", "0.965789", predict.output, count=1)
    readme.write_text(text.replace(predict.output, stale), encoding="utf-8")
    done = _check("predict", readme=readme)
    assert done.returncode == 1 and "stale samples" in done.stderr and "predict" in done.stderr
    assert run_python(SCRIPT, "--readme", readme, "--only=predict").returncode == 0  # rewrites it
    assert "0.965789" not in readme.read_text(encoding="utf-8")
    assert _check("predict", readme=readme).returncode == 0


@pytest.mark.parametrize(("shown", "produced", "same"), [
    ("pos\t0.987913", "pos\t0.987913", True),
    ("pos\t0.987913", "pos\t0.987914", True),  # the last printed digit of a float32 rounded on another CPU
    ("pos\t0.987913", "pos\t0.987916", False),
    ("pos 0.9188375473022461", "pos 0.9188379", True),
    ("pos 0.9657894372940063", "pos 0.9188375473022461", False),  # the README's stale sample (issue 21)
    ("pos\t0.987913", "neg\t0.987913", False),
    ('"data":[0.08,0.91]', '"data":[0.08,0.91,0.5]', False),
])
def test_same_output_compares_text_exactly_and_numbers_within_1e_6(shown, produced, same):
    assert samples.same_output(shown, produced) is same


def test_the_shipped_models_figures_are_its_manifests():
    manifest = shipped_manifest()
    text = README.read_text(encoding="utf-8")
    int8 = manifest["int8_test"]["accuracy"]
    fp32 = manifest["metrics"]["test_accuracy"]
    assert f"**{int8:.2%} test accuracy in int8** ({fp32:.2%} fp32)" in text
    assert f"**The shipped model: {int8:.2%} on the 25,000 test reviews in int8**" in text
    assert f"`edgelstm/shipped/sentiment-en.int8.onnx` ({manifest['bytes'] / 2**20:.1f} MiB" in text
    assert f"sha256 `{manifest['sha256'][:8]}…`" in text
    assert f"| {round(manifest['bytes'] / 1024)} KiB | **" in text  # the side-by-side table's shipped row


def test_the_shipped_model_is_served_with_batch_wait():
    # README, Serve: --batch-wait-ms is allowed for the shipped model (its int8 is weights-s8)
    from edgelstm.serve.options import batching_refusal

    assert batching_refusal(Classifier.default().config) is None


def test_the_shipped_model_answers_the_same_on_1_and_2_threads_alone_and_batched():
    # README, Serve: predict (all cores), serve --workers 2 (one thread each) and micro-batches agree
    golden = json.loads((DATA / "golden-tokenizer.json").read_text(encoding="utf-8"))
    texts = ["A wonderful film, I loved it.", "Dull and far too long.", "A wonderful film."] + [
        case["text"] for case in golden["cases"]]
    one, two = Classifier.default(threads=1), Classifier.default(threads=2)
    alone = np.vstack([one.predict_proba([text]) for text in texts])
    for classifier in (one, two):
        assert np.abs(classifier.predict_proba(texts, batch_size=64) - alone).max() <= 1e-6
        assert np.abs(np.vstack([classifier.predict_proba([t]) for t in texts]) - alone).max() <= 1e-6
