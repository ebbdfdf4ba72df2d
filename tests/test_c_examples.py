"""examples/c/: the C programs built with the system compiler answer what Python answers (1e-6).

Each program reads one text's token ids per line and prints its probabilities; the ids are
tokenizer.json's (words-v1's, the same ids: tests/test_tokenizer_json.py), for real texts, the
golden vectors' texts and the golden vectors' own ids.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgelstm import Classifier
from edgelstm.classifier import SHIPPED_DIR, SHIPPED_MODEL
from tests.helpers import DATA, REPO, TINY_BILSTM, TINY_LSTM

EXAMPLES = REPO / "examples" / "c"
SHIPPED = SHIPPED_DIR / SHIPPED_MODEL
ATOL = 1e-6
TEXTS = [  # the README's quickstart reviews and a few more, long and short
    "A wonderful film, I loved it.", "Dull and far too long.", "What a wonderful film.",
    "The first half was slow, but the ending is wonderful.", "Not good. Not good at all.",
    "I expected a masterpiece and got a mess: the plot is thin, the acting wooden, the score "
    "forgettable, and yet the last scene made me cry.<br /><br />Worth it for that alone.",
]
GOLDEN = json.loads((DATA / "golden-tokenizer.json").read_text(encoding="utf-8"))
ONNXRUNTIME_HEADER_HELP = (
    "onnxruntime's C header (onnxruntime_c_api.h) is not on this machine: Debian 12 and the onnxruntime "
    "wheel ship none; set ONNXRUNTIME_DIR to an unpacked onnxruntime release archive "
    "(onnxruntime-linux-x64-VERSION.tgz: include/ and lib/; README, 'C')"
)


def _compiler() -> str:
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        pytest.skip("no C compiler (cc or gcc) on this machine")
    return compiler


def _build(source: Path, output: Path, flags: list[str]) -> Path:
    command = [_compiler(), "-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra", "-o", str(output), str(source),
               *flags]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stderr}"
    return output


def _openvino_flags() -> list[str]:
    openvino = pytest.importorskip("openvino", reason="OpenVINO is not installed (pip install openvino)")
    root = Path(openvino.__file__).parent
    libraries = sorted((root / "libs").glob("libopenvino_c.so*"))
    if not (root / "include" / "openvino" / "c" / "openvino.h").exists() or not libraries:
        pytest.fail(f"the openvino wheel at {root} has no C headers or libopenvino_c")
    return [f"-I{root / 'include'}", str(libraries[0]), f"-Wl,-rpath,{root / 'libs'}"]


def _onnxruntime_flags() -> list[str]:
    if os.environ.get("ONNXRUNTIME_DIR"):  # an unpacked release archive
        root = Path(os.environ["ONNXRUNTIME_DIR"])
        return [f"-I{root / 'include'}", f"-L{root / 'lib'}", "-lonnxruntime", f"-Wl,-rpath,{root / 'lib'}"]
    for include in (Path("/usr/include/onnxruntime"), Path("/usr/local/include/onnxruntime"),
                    Path("/usr/include"), Path("/usr/local/include")):
        if (include / "onnxruntime_c_api.h").exists():
            return [f"-I{include}", "-lonnxruntime"]
    pytest.skip(ONNXRUNTIME_HEADER_HELP)


@pytest.fixture(scope="module", params=["onnxruntime", "openvino"])
def program(request, tmp_path_factory) -> Path:
    flags = _onnxruntime_flags() if request.param == "onnxruntime" else _openvino_flags()
    output = tmp_path_factory.mktemp("c") / f"classify_{request.param}"
    return _build(EXAMPLES / f"classify_{request.param}.c", output, flags)


def run_program(program: Path, model: Path, sequences: list[list[int]]) -> np.ndarray:
    lines = "".join(" ".join(map(str, ids)) + "\n" for ids in sequences)
    done = subprocess.run([str(program), str(model)], input=lines, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [[float(x) for x in line.split()] for line in done.stdout.splitlines()]
    assert len(rows) == len(sequences)
    return np.array(rows)


def assert_matches_python(program: Path, model: Path, sequences: list[list[int]]) -> None:
    expected = Classifier.load(model).predict_ids(sequences)
    got = run_program(program, model, sequences)
    assert got.shape == expected.shape
    difference = np.abs(got - expected).max()
    assert difference <= ATOL, f"{program.name} on {model.name}: largest difference {difference:.2e}"


def test_the_shipped_model_on_real_texts_and_the_golden_texts(program):
    classifier = Classifier.load(SHIPPED)
    texts = TEXTS + [case["text"] for case in GOLDEN["cases"]]
    sequences = classifier.encode(texts)
    assert_matches_python(program, SHIPPED, sequences)


def test_the_shipped_tokenizer_json_gives_the_ids_fed_to_c():
    # the C programs take tokenizer.json's ids; here they are words-v1's, which Python feeds
    tokenizers = pytest.importorskip("tokenizers")
    hf = tokenizers.Tokenizer.from_file(str(SHIPPED.with_name(SHIPPED_MODEL.removesuffix(".int8.onnx")
                                                              + ".tokenizer.json")))
    ids = [encoding.ids or [1] for encoding in hf.encode_batch(TEXTS)]  # no words: [1] (README)
    assert ids == Classifier.load(SHIPPED).encode(TEXTS)


def test_the_shipped_model_on_the_golden_vectors_ids(program):
    assert_matches_python(program, SHIPPED, [case["ids"] for case in GOLDEN["cases"]])


@pytest.mark.parametrize("model", [TINY_LSTM, TINY_BILSTM], ids=["lstm", "bilstm"])
def test_both_architectures(program, model):
    # the lstm graph also takes initial_h and initial_c, which the programs find and feed zeros
    sequences = Classifier.load(model).encode(TEXTS)
    assert_matches_python(program, model, sequences)


def test_the_shipped_model_on_imdb_test_reviews(program, imdb):
    texts = imdb.test.texts[::125]  # 200 reviews of both labels
    assert_matches_python(program, SHIPPED, Classifier.load(SHIPPED).encode(texts))
