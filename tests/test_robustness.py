"""Bad input never crashes and nothing is lost: every case through the real CLI, plus the API."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgelstm import Classifier, InputError, ModelError
from edgelstm.config import FORMAT_VERSION, METADATA_KEY
from edgelstm.documents import read_documents
from tests.helpers import TINY_BILSTM, TINY_LSTM, run_cli, run_cli_process, run_python

RESULT_LINE = r"^(neg|pos)\t[01]\.\d{6}$"


def edgelstm(*args, stdin: bytes | None = None):
    result = run_cli(*args, stdin=stdin)
    return result.returncode, result.stdout, result.stderr


def write(path, data: bytes):
    path.write_bytes(data)
    return path


# (name, file bytes or None for a missing file, extra args, exit code, result lines, stderr must contain)
INPUT_CASES = [
    ("missing", None, [], 4, 0, "no such file"),
    ("empty", b"", [], 0, 0, ""),
    ("blank lines", b"\n  \n\t\n", [], 0, 3, ""),
    ("no known word", b"!!! ??? \xf0\x9f\x98\x80\n", [], 0, 1, ""),
    ("invalid utf-8", b"good\n\xff\xfe bad \xc3\n", [], 0, 2, ":2: not valid UTF-8"),
    ("bom and crlf", b"\xef\xbb\xbfgood movie\r\nbad film\r\n", [], 0, 2, ""),
    ("binary", b"\x00\x01\x02ELF\x00\n", [], 4, 0, "looks like a binary file"),
    ("binary forced", b"\x00\x01\x02ELF\x00\n", ["--force"], 0, 1, ""),
    ("million words", b"great film " * 500_000 + b"\n", [], 0, 1, ""),
]


@pytest.mark.parametrize(("name", "content", "args", "code", "lines", "message"), INPUT_CASES,
                         ids=[c[0] for c in INPUT_CASES])
def test_predict_inputs(tmp_path, name, content, args, code, lines, message):
    path = tmp_path / "input.txt"
    if content is not None:
        write(path, content)
    returncode, stdout, stderr = edgelstm("predict", "--model", TINY_LSTM, *args, path)
    assert returncode == code, stderr
    assert len(stdout.splitlines()) == lines
    for line in stdout.splitlines():
        assert __import__("re").match(RESULT_LINE, line)
    assert message in stderr
    assert "Traceback" not in stderr
    if code:
        assert str(path) in stderr  # the error names the file


def test_a_directory_and_stdin(tmp_path):
    returncode, stdout, stderr = edgelstm("predict", "--model", TINY_LSTM, tmp_path)
    assert returncode == 4 and "is a directory" in stderr and "Traceback" not in stderr
    returncode, stdout, _ = edgelstm("predict", "--model", TINY_LSTM, "-", stdin=b"\xef\xbb\xbfa\r\nb\r\n")
    assert returncode == 0 and len(stdout.splitlines()) == 2


def test_failures_do_not_lose_the_other_documents(tmp_path):
    good = write(tmp_path / "good.txt", b"one\ntwo\n")
    also_good = write(tmp_path / "also.txt", b"three\n")
    binary = write(tmp_path / "bin.dat", b"\x00\x00")
    returncode, stdout, stderr = edgelstm("predict", "--model", TINY_LSTM, good, tmp_path / "nope.txt",
                                          binary, also_good)
    assert returncode == 4
    assert len(stdout.splitlines()) == 3  # one, two, three: all in order
    assert "nope.txt: no such file" in stderr and "bin.dat: looks like a binary file" in stderr
    assert "Traceback" not in stderr


def test_unreadable_file_is_named(tmp_path, monkeypatch):
    # Tests run as root in CI, where chmod cannot deny reading; so the OS's answer is simulated.
    path = write(tmp_path / "secret.txt", b"x\n")
    real_open = open

    def denying_open(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", denying_open)
    (error,) = list(read_documents([path]))
    assert isinstance(error, InputError) and str(error) == f"{path}: permission denied"


def test_streaming_keeps_memory_bounded(tmp_path):
    """100 MB through standard input; the process never holds more than a chunk of it."""
    line = (b"a great film but the acting is bad " * 60)[:2000] + b"\n"
    data = line * 50_000  # 100 MB
    # The peak is read from VmHWM: ru_maxrss would count the pages of this test process (which
    # holds the 100 MB) that the child shared before exec.
    code = ("import sys; from edgelstm.cli import main; sys.argv = ['edgelstm', 'predict', "
            f"'--model', {str(TINY_LSTM)!r}, '-']\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')), file=sys.stderr)")
    result = run_python("-c", code, stdin=data)
    assert len(result.stdout.splitlines()) == 50_000
    peak_mib = int(result.stderr.split()[-2]) / 1024  # "VmHWM:  83000 kB"
    assert peak_mib < 150, f"peak RSS {peak_mib:.0f} MiB for a 100 MB input"


def _model_with_metadata(tmp_path, name, metadata):
    onnx = pytest.importorskip("onnx", reason="writing a model with other metadata needs onnx (train extra)")
    proto = onnx.load(str(TINY_LSTM))
    del proto.metadata_props[:]
    if metadata is not None:
        onnx.helper.set_model_props(proto, {METADATA_KEY: metadata})
    return write(tmp_path / name, proto.SerializeToString())


def test_model_errors(tmp_path):
    import json

    config = Classifier.load(TINY_LSTM).config.to_dict()
    newer = dict(config, format_version=FORMAT_VERSION + 1)
    cases = {
        "missing": (tmp_path / "missing.onnx", "model file not found"),
        "empty": (write(tmp_path / "empty.onnx", b""), "model file is empty"),
        "truncated": (write(tmp_path / "trunc.onnx", TINY_LSTM.read_bytes()[:500]), "not a loadable ONNX model"),
        "corrupt": (write(tmp_path / "corrupt.onnx", os.urandom(3000)), "not a loadable ONNX model"),
        "foreign": (_model_with_metadata(tmp_path, "foreign.onnx", None), "not an edgelstm model"),
        "newer": (_model_with_metadata(tmp_path, "newer.onnx", json.dumps(newer)), "newer than this runtime"),
        "bad metadata": (_model_with_metadata(tmp_path, "meta.onnx", "{not json"), "not valid JSON"),
        "directory": (tmp_path, "is a directory"),
    }
    reviews = write(tmp_path / "r.txt", b"good\n")
    for name, (path, message) in cases.items():
        with pytest.raises(ModelError, match=message):
            Classifier.load(path)
        returncode, stdout, stderr = edgelstm("predict", "--model", path, reviews)
        assert returncode == ModelError.exit_code, name
        assert stdout == "" and stderr.count("\n") == 1 and "Traceback" not in stderr, name
        assert str(path) in stderr and message in stderr, name


def test_debug_shows_the_traceback(tmp_path):
    # a real process: the traceback is the interpreter's own
    result = run_cli_process("--debug", "predict", "--model", tmp_path / "x.onnx", "-", stdin=b"")
    returncode, stderr = result.returncode, result.stderr
    assert returncode != 0 and "Traceback" in stderr and "ModelError" in stderr


@pytest.fixture(scope="module")
def tiny():
    return Classifier.load(TINY_LSTM), Classifier.load(TINY_BILSTM)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(max_size=300), min_size=1, max_size=12))
def test_predict_never_raises_and_is_sane(tiny, texts):
    for classifier in tiny:
        probabilities = classifier.predict_proba(texts)
        assert probabilities.shape == (len(texts), len(classifier.labels))
        assert np.isfinite(probabilities).all()
        assert ((probabilities >= 0) & (probabilities <= 1)).all()
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
        for text, row in zip(texts, probabilities):
            np.testing.assert_allclose(classifier.predict_proba([text])[0], row, rtol=0, atol=1e-6)
        assert len(classifier.predict(texts)) == len(texts)


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=1, max_size=80))
def test_equivalent_unicode_forms_get_the_same_ids(text):
    import unicodedata

    tokenizer = Classifier.load(TINY_LSTM).tokenizer
    forms = {unicodedata.normalize(form, text) for form in ("NFC", "NFD", "NFKC", "NFKD")}
    # The four normal forms of a text are NFKC-equal by definition, so they must tokenize alike.
    assert len({tuple(tokenizer.encode(form)) for form in forms}) == 1


@settings(max_examples=100, deadline=None)
@given(words=st.lists(st.sampled_from(["good", "bad", "film", "x", "don't", "<br />", "—", "😀", "é"]),
                      min_size=0, max_size=400),
       max_len=st.integers(1, 20))
def test_the_tail_shortcut_for_long_texts_is_exact(words, max_len):
    from edgelstm.tokenizer import OOV_ID, Tokenizer

    tokenizer = Tokenizer(["good", "bad", "film", "don't", "é"], max_len)
    text = " ".join(words) * 3
    assert tokenizer.encode(text) == (tokenizer.word_ids(text)[-max_len:] or [OOV_ID])


TRAIN_DATA_CASES = [
    ("rows.csv", b"text,label\ngood,pos\nbad\n", "rows.csv:3: malformed row"),
    ("rows.jsonl", b'{"text": "a", "label": "x"}\n{oops\n', "rows.jsonl:2: not valid JSON"),
    ("rows.tsv", b"review\tlabel\nfine\tpos\n", "no column 'text'"),
    ("one.txt", b"__label__a x\n__label__a y\n", "only one label"),
    ("empty.txt", b"", "no labeled examples"),
    ("bad.txt", b"__label__a x\nnot fasttext\n", "bad.txt:2: expected '__label__LABEL text'"),
    ("stray.csv", b"text,label\nfine,pos\n\"stray quote,neg\n"
     + b"".join(b"row %d,%s\n" % (i, b"pos" if i % 2 else b"neg") for i in range(30)) + b"closed\" here,pos\n",
     "stray.csv:3: a quoted field runs from line 3 to line 34"),
    ("tab.txt", b"__label__a\tb x\n__label__c y\n", "contains a tab or a line break"),
    ("newline.jsonl", b'{"text": "a", "label": "p\\nos"}\n{"text": "b", "label": "neg"}\n',
     "contains a tab or a line break"),
]


@pytest.mark.parametrize(("name", "content", "message"), TRAIN_DATA_CASES, ids=[c[0] for c in TRAIN_DATA_CASES])
def test_train_data_errors(tmp_path, name, content, message):
    pytest.importorskip("torch")
    returncode, stdout, stderr = edgelstm("train", write(tmp_path / name, content), "-o", tmp_path / "m.pt")
    assert returncode == 5 and message in stderr and "Traceback" not in stderr
    assert stderr.count("\n") == 1 and not (tmp_path / "m.pt").exists()


# (name, change to the tiny model's metadata, message): a crafted or edited model is refused at
# load with exit 3 and one line, never garbage answers or a crash.
def _with(**changes):
    return lambda config: {**config, **changes}


def _bigger_vocabulary(config):
    extra = [f"zz{i}" for i in range(50)]
    return {**config, "vocab_size": config["vocab_size"] + 50, "vocabulary": config["vocabulary"] + extra}


METADATA_CASES = [
    ("only format_version", lambda config: {"format_version": 1}, "missing arch"),
    ("duplicate labels", _with(labels=["pos", "pos"]), "duplicate labels"),
    ("non-string labels", _with(labels=[0, 1]), "is not a string"),
    ("label with newline", _with(labels=["neg", "p\nos"]), "tab or a line break"),
    ("label with tab", _with(labels=["neg\t", "pos"]), "tab or a line break"),
    ("unknown tokenizer", _with(tokenizer="words-v9"), "unknown tokenizer 'words-v9'"),
    ("huge max_len", _with(max_len=10**12), "above the limit"),
    ("zero max_len", _with(max_len=0), "max_len must be a positive integer"),
    ("string max_len", _with(max_len="10"), "max_len must be a positive integer"),
    ("negative hidden", _with(hidden=-3), "hidden must be a positive integer"),
    ("zero vocab_size", _with(vocab_size=0), "vocab_size must be a positive integer"),
    ("vocabulary over vocab_size", lambda c: {**c, "vocabulary": c["vocabulary"] + ["zz1", "zz2", "zz3"]},
     "do not fit vocab_size"),
    ("vocabulary over embedding rows", _bigger_vocabulary, "does not match the graph"),
    ("labels over outputs", _with(labels=["a", "b", "c"]), "3 labels, 2 probabilities"),
    ("quantization not an object", _with(quantization="all-s8"), "quantization must be an object"),
    ("batch_invariant not a bool", _with(quantization={"batch_invariant": "yes"}), "batch_invariant"),
    ("metrics not an object", _with(metrics=[0.9]), "metrics must be an object"),
    ("unknown arch", _with(arch="gru"), "arch must be one of"),
    ("duplicate words", lambda c: {**c, "vocabulary": c["vocabulary"][:-1] + c["vocabulary"][:1]}, "duplicate words"),
]


@pytest.mark.parametrize(("name", "change", "message"), METADATA_CASES, ids=[c[0] for c in METADATA_CASES])
def test_lying_metadata_is_a_model_error(tmp_path, name, change, message):
    import json

    config = change(Classifier.load(TINY_LSTM).config.to_dict())
    path = _model_with_metadata(tmp_path, "crafted.onnx", json.dumps(config))
    with pytest.raises(ModelError, match=__import__("re").escape(message)):
        Classifier.load(path)
    returncode, stdout, stderr = edgelstm("predict", "--model", path, "-", stdin=b"good\n")
    assert returncode == 3 and stdout == "", stderr
    assert stderr.count("\n") == 1 and message in stderr and str(path) in stderr


def test_valid_quantization_metadata_loads(tmp_path):
    import json

    config = dict(Classifier.load(TINY_LSTM).config.to_dict(), quantization={"batch_invariant": True, "x": [1]})
    path = _model_with_metadata(tmp_path, "int8ish.onnx", json.dumps(config))
    quantization = Classifier.load(path).config.quantization
    assert quantization is not None and quantization.batch_invariant is True and quantization.extra == {"x": [1]}
    assert Classifier.load(path).config.to_dict()["quantization"] == {"batch_invariant": True, "x": [1]}  # kept as read


# (name, call on the tiny Classifier, exception type, message naming the argument or item)
API_ARGUMENT_CASES = [
    ("negative batch_size", lambda c: c.predict(["a"], batch_size=-1), ValueError, "batch_size"),
    ("zero batch_size", lambda c: c.predict_proba(["a"], batch_size=0), ValueError, "batch_size"),
    ("float batch_size", lambda c: c.predict(["a"], batch_size=2.5), ValueError, "batch_size"),
    ("predict_proba of a str", lambda c: c.predict_proba("a string"), TypeError, "not a single str"),
    ("predict of a str", lambda c: c.predict("a string"), TypeError, "not a single str"),
    ("None item", lambda c: c.predict(["a", None]), TypeError, "texts[1] is NoneType"),
    ("bytes item", lambda c: c.predict_proba(["a", "b", b"c"]), TypeError, "texts[2] is bytes"),
    ("not iterable", lambda c: c.predict(5), TypeError, "not int"),
    ("evaluate lengths", lambda c: c.evaluate(["a", "b", "c"], ["neg"]), ValueError, "3 texts but 1 labels"),
    ("evaluate nothing", lambda c: c.evaluate([], []), ValueError, "at least one"),
    ("evaluate a str label", lambda c: c.evaluate(["a"], "neg"), TypeError, "labels must be a list"),
]


@pytest.mark.parametrize(("name", "call", "error", "message"), API_ARGUMENT_CASES,
                         ids=[c[0] for c in API_ARGUMENT_CASES])
def test_api_argument_errors(tiny, name, call, error, message):
    with pytest.raises(error, match=__import__("re").escape(message)):
        call(tiny[0])


def test_closed_stdin_is_an_input_error_and_the_other_inputs_are_answered(tmp_path):
    reviews = write(tmp_path / "reviews.txt", b"good\nbad\n")
    command = f"{sys.executable} -m edgelstm.cli predict --model {TINY_LSTM} {reviews} - {reviews} <&-"
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
    assert result.returncode == 4
    assert len(result.stdout.splitlines()) == 4
    assert result.stderr == "edgelstm: error: <stdin>: standard input is closed\n"


# (name, file name, content or None for missing, command, exit code, stderr must contain)
EVALUATION_DATA_CASES = [
    ("header-only csv", "d.csv", b"text,label\n", "evaluate", 5, "no labeled examples"),
    ("empty jsonl", "d.jsonl", b"", "evaluate", 5, "no labeled examples"),
    ("missing file", "aclImdb_v1.tar.gz", None, "evaluate", 4, "no such file"),
    ("bench without data", "d.csv", b"text,label\n", "bench", 5, "no labeled examples"),
    ("quantize without data", "d.jsonl", b"\n\n", "quantize", 5, "no labeled examples"),
]


@pytest.mark.parametrize(("name", "file", "content", "command", "code", "message"), EVALUATION_DATA_CASES,
                         ids=[c[0] for c in EVALUATION_DATA_CASES])
def test_evaluation_data_errors(tmp_path, name, file, content, command, code, message):
    if command == "quantize":
        pytest.importorskip("onnx", reason="quantizing needs onnx (the train extra)")
    data = tmp_path / file if content is None else write(tmp_path / file, content)
    model = write(tmp_path / "model.onnx", TINY_LSTM.read_bytes())
    args = {"evaluate": ["evaluate", model, data],
            "bench": ["bench", model, "--data", data, "--no-cold-start"],
            "quantize": ["quantize", model, "--data", data]}[command]
    returncode, stdout, stderr = edgelstm(*args)
    assert returncode == code, stderr
    assert stderr.count("\n") == 1 and message in stderr and str(data) in stderr
    assert "nan" not in stdout and "Warning" not in stderr
    written = {"model.onnx"} | ({file} if content is not None else set())
    assert {p.name for p in tmp_path.iterdir()} == written  # nothing new, nothing removed


def test_aclimdb_folder_skips_symlinks(tmp_path):
    from edgelstm.data import load_labeled

    outside = write(tmp_path / "secret.txt", b"outside the dataset")
    for label in ("pos", "neg"):
        (tmp_path / "aclImdb" / "train" / label).mkdir(parents=True)
        write(tmp_path / "aclImdb" / "train" / label / "0_1.txt", f"a {label} review".encode())
    (tmp_path / "aclImdb" / "train" / "pos" / "1_9.txt").symlink_to(outside)
    (tmp_path / "aclImdb" / "train" / "linked").symlink_to(tmp_path / "aclImdb" / "train" / "pos")
    dataset = load_labeled(tmp_path / "aclImdb")
    assert sorted(dataset.train.texts) == ["a neg review", "a pos review"]


def test_bad_checkpoints_are_one_line(tmp_path):
    """torch's own warnings (e.g. about an old pickle protocol) never add lines to the error."""
    torch = pytest.importorskip("torch")
    import pickle

    old_pickle = tmp_path / "old.pt"
    old_pickle.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    legacy = tmp_path / "legacy.pt"
    torch.save({"a": 1}, legacy, _use_new_zipfile_serialization=False)
    text = write(tmp_path / "text.pt", b"just some text\n")
    reviews = write(tmp_path / "r.txt", b"good\n")
    for path, message in ((old_pickle, "not a readable checkpoint"), (legacy, "not an edgelstm checkpoint"),
                          (text, "not a readable checkpoint")):
        returncode, stdout, stderr = edgelstm("predict", "--model", path, reviews)
        assert returncode == 3 and stdout == "" and stderr.count("\n") == 1, stderr
        assert f"{path}: {message}" in stderr
