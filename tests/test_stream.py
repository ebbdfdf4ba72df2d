"""Streaming: a text fed in any pieces ends with the prediction of the whole text.

Exactness is checked against ``Classifier.predict`` to ATOL on every probability, on a model
trained on real reviews, for random cuttings (inside words and tags too), batched streams
with different piece lengths and empty pieces, and through the CLI on a live pipe.
"""

import itertools
import os
import queue
import random
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from edgelstm import Classifier, ModelError
from edgelstm.config import Quantization
from edgelstm.tokenizer import words
from tests.helpers import SMALL, TINY_BILSTM, TINY_LSTM

ATOL = 1e-6  # the bound; fp32 streams agree to ~1e-7
LIVE_PIPE_TIMEOUT = 30.0  # seconds to wait for each answer of the CLI


@pytest.fixture(scope="module")
def tiny_lstm(tmp_path_factory) -> Path:
    """The tiny lstm, rebuilt by tests/make_tiny_model.py's recipe when torch is here."""
    try:
        import make_tiny_model
    except ImportError:  # a runtime-only environment: the committed file
        return TINY_LSTM
    path = tmp_path_factory.mktemp("tiny") / "tiny-lstm.onnx"
    path.write_bytes(make_tiny_model.build_onnx(make_tiny_model.make("lstm", ["neg", "pos"])).SerializeToString())
    return path


@pytest.fixture(scope="module")
def lstm(imdb, tmp_path_factory) -> Classifier:
    """An lstm trained for one epoch on 1,500 real reviews (max_len 380), exported to ONNX."""
    pytest.importorskip("torch")
    from edgelstm.config import ModelConfig
    from edgelstm.export import export_checkpoint
    from edgelstm.train import TrainOptions, train

    root = tmp_path_factory.mktemp("stream")
    config = ModelConfig(arch="lstm", dropout=0.2, **SMALL)
    train(imdb, config, TrainOptions(epochs=1, limit=1500, learning_rate=0.003, seed=3),
          root / "lstm.pt", show_progress=False)
    return Classifier.load(export_checkpoint(root / "lstm.pt", root)[0][0])


@pytest.fixture(scope="module")
def reviews(imdb, lstm) -> list[str]:
    """Real test reviews of at most max_len tokens (where stream and predict must agree)."""
    texts = imdb.evaluation_split.sample(1200, seed=5).texts
    return [t for t in texts if len(words(t)) <= lstm.config.max_len][:300]


def random_pieces(text: str, rng: random.Random, n_cuts: int) -> list[str]:
    bounds = [0, *sorted(rng.randrange(len(text) + 1) for _ in range(n_cuts)), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def assert_close(streamed, expected) -> None:
    assert streamed.label == expected.label
    for label, p in expected.probabilities.items():
        assert abs(streamed.probabilities[label] - p) <= ATOL, (label, streamed.probabilities[label], p)


def test_any_chunking_of_real_reviews_ends_at_predict(lstm, reviews):
    rng = random.Random(0)
    expected = lstm.predict(reviews)
    stream = lstm.stream()
    differences = []
    for text, whole in zip(reviews, expected):
        for n_cuts in (1, 7, 40):
            stream.reset()
            for piece in random_pieces(text, rng, n_cuts):
                streamed = stream.feed(piece)
            assert_close(streamed, whole)
            assert stream.tokens == len(words(text))
            differences.append(abs(streamed.probability - whole.probability))
    assert max(differences) <= ATOL


def test_every_running_prediction_is_that_of_the_text_so_far(lstm, reviews):
    rng = random.Random(1)
    stream = lstm.stream()
    for text in reviews[:25]:
        stream.reset()
        pieces = random_pieces(text, rng, 30)
        prefixes = [text[: sum(map(len, pieces[: i + 1]))] for i in range(len(pieces))]
        for piece, whole in zip(pieces, lstm.predict(prefixes)):
            assert_close(stream.feed(piece), whole)


def test_batched_streams_with_different_lengths_and_empty_pieces(lstm, reviews):
    rng = random.Random(2)
    texts = reviews[:32]
    batch = lstm.streams(len(texts))
    cuttings = [random_pieces(t, rng, rng.choice([0, 3, 12, 50])) for t in texts]
    fed = [""] * len(texts)
    rounds = 0
    while any(cuttings) or rounds < 3:
        rounds += 1
        pieces = []
        for pieces_of in cuttings:
            # Some streams wait (empty piece) at random, and finished ones get only empty pieces.
            wait = rng.random() < 0.3
            pieces.append("" if wait or not pieces_of else pieces_of.pop(0))
        for i, piece in enumerate(pieces):
            fed[i] += piece
        got = batch.feed(pieces)
        for streamed, whole in zip(got, lstm.predict(fed)):
            assert_close(streamed, whole)
    assert rounds > 50
    for i, text in enumerate(texts):
        assert fed[i] == text and batch.tokens(i) == len(words(text))


def test_one_stream_reset_leaves_the_others(lstm, reviews):
    a, b = reviews[:2]
    batch = lstm.streams(2)
    batch.feed([a[: len(a) // 2], b])
    batch.reset(0)
    got = batch.feed([a, ""])
    for streamed, whole in zip(got, lstm.predict([a, b])):
        assert_close(streamed, whole)


def test_text_without_words_then_words(lstm):
    stream = lstm.stream()
    for piece, so_far in [("", ""), ("  <br />", "  <br />"), (" ... ", "  <br /> ... "),
                          ("brilliant", "  <br /> ... brilliant"), (" film", "  <br /> ... brilliant film")]:
        assert_close(stream.feed(piece), lstm.predict([so_far])[0])
    # The state started from zero at "brilliant": equal to the words alone.
    assert_close(stream.feed(""), lstm.predict(["brilliant film"])[0])


def test_long_text_keeps_every_token(lstm, imdb):
    long = next(t for t in imdb.evaluation_split.texts if len(words(t)) > lstm.config.max_len + 50)
    stream = lstm.stream()
    for piece in random_pieces(long, random.Random(4), 20):
        streamed = stream.feed(piece)
    ids = np.array([lstm.tokenizer.word_ids(long)], np.int64)  # (1, T): all tokens, uncut
    assert stream.tokens == ids.shape[1] > lstm.config.max_len
    every_token = lstm.backend.run(ids, np.array([ids.shape[1]], np.int64))[0]
    assert np.abs(np.array(list(streamed.probabilities.values())) - every_token).max() <= ATOL


def test_tiny_model_streams_exactly(tiny_lstm):
    classifier = Classifier.load(tiny_lstm)
    text = "the film was good <br />but the movie was awful and boring, I hate it"
    stream = classifier.stream()
    for size in (1, 2, 5):
        stream.reset()
        for start in range(0, len(text), size):
            streamed = stream.feed(text[start : start + size])
        assert_close(streamed, classifier.predict([text])[0])


def test_bilstm_is_refused_with_the_reason():
    with pytest.raises(ModelError, match="backward direction"):
        Classifier.load(TINY_BILSTM).stream()
    with pytest.raises(ModelError, match="cannot stream"):
        Classifier.load(TINY_BILSTM).streams(4)


def test_int8_that_quantizes_activations_is_refused(tiny_lstm):
    classifier = Classifier.load(tiny_lstm)
    classifier.config.quantization = Quantization({"name": "all-s8"}, batch_invariant=False)
    with pytest.raises(ModelError, match="batch_invariant"):
        classifier.stream()
    classifier.config.quantization = Quantization({"name": "embedding"}, batch_invariant=True)
    classifier.stream().feed("good")


def test_weight_only_int8_streams_exactly(lstm, reviews, tmp_path):
    """The default int8 recipe quantizes weights only: a batch of streams equals predict."""
    pytest.importorskip("onnx")
    from edgelstm.export.quantize import DEFAULT_RECIPE, RECIPES_BY_NAME, quantize

    path = tmp_path / "model.int8.onnx"
    quantize(Path(lstm.source), path, RECIPES_BY_NAME[DEFAULT_RECIPE])
    int8 = Classifier.load(path)
    assert int8.config.quantization is not None and int8.config.quantization.batch_invariant is True
    texts = reviews[:16]
    batch = int8.streams(len(texts))
    rng = random.Random(7)
    cuttings = [random_pieces(t, rng, 10) for t in texts]
    for step in range(11):
        got = batch.feed([pieces[step] for pieces in cuttings])
    for streamed, whole in zip(got, int8.predict(texts)):
        assert_close(streamed, whole)


def test_torch_checkpoint_is_refused_clearly_and_agrees_with_the_onnx_stream(lstm, reviews):
    torch_classifier = Classifier.load(Path(lstm.source).with_name("lstm.pt"))
    with pytest.raises(ModelError, match=r"\.onnx"):
        torch_classifier.stream()
    # The streaming path against PyTorch on whole texts (the export's own tolerance, 1e-5).
    stream = lstm.stream()
    rng = random.Random(6)
    for text, whole in zip(reviews[:20], torch_classifier.predict(reviews[:20])):
        stream.reset()
        for piece in random_pieces(text, rng, 15):
            streamed = stream.feed(piece)
        assert abs(streamed.probability - whole.probability) <= 1e-5


def test_feed_checks_its_arguments(tiny_lstm):
    batch = Classifier.load(tiny_lstm).streams(2)
    with pytest.raises(ValueError, match="2 pieces"):
        batch.feed(["only one"])
    with pytest.raises(ValueError):
        batch.feed("ab")
    with pytest.raises(TypeError):
        batch.feed(["a", None])
    with pytest.raises(ValueError):
        Classifier.load(tiny_lstm).streams(0)


def _cli(*args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "0"}
    return subprocess.Popen([sys.executable, "-m", "edgelstm.cli", *map(str, args)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_cli_streams_a_live_pipe(lstm, reviews):
    """Write a line, read its answer before writing the next: each answer is flushed at once."""
    lines = [line for text in reviews[:3] for line in text.replace(".", ".\n").splitlines() if line][:12]
    process = _cli("predict", "--stream", "--model", lstm.source, "-")
    answers: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [answers.put(line) for line in process.stdout], daemon=True)
    reader.start()
    try:
        for n, line in enumerate(lines, 1):
            process.stdin.write(line + "\n")
            process.stdin.flush()
            answer = answers.get(timeout=LIVE_PIPE_TIMEOUT)  # the pipe stays open: no EOF helps
            label, probability = answer.rstrip("\n").split("\t")
            whole = lstm.predict(["\n".join(lines[:n])])[0]
            assert label == whole.label and abs(float(probability) - whole.probability) <= 1e-6
        process.stdin.close()
        assert process.wait(timeout=LIVE_PIPE_TIMEOUT) == 0
        reader.join(timeout=LIVE_PIPE_TIMEOUT)
        assert answers.empty()
    finally:
        process.kill()
        process.wait()
        reader.join(timeout=LIVE_PIPE_TIMEOUT)
        for pipe in (process.stdin, process.stdout, process.stderr):
            pipe.close()


def test_cli_refuses_bilstm_in_one_line():
    process = _cli("predict", "--stream", "--model", TINY_BILSTM, "-")
    with process:
        _, stderr = process.communicate("great\n", timeout=LIVE_PIPE_TIMEOUT)
    assert process.returncode == ModelError.exit_code
    assert stderr.count("\n") == 1 and "cannot stream" in stderr


def test_cli_stream_takes_one_input(tiny_lstm):
    result = subprocess.run([sys.executable, "-m", "edgelstm.cli", "predict", "--stream", "--model", tiny_lstm,
                             "a.txt", "b.txt"], capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "one input" in result.stderr


def test_a_batch_makes_one_model_call_per_distinct_token_count(tiny_lstm):
    classifier = Classifier.load(tiny_lstm)
    calls = []
    run_with_state = classifier.backend.run_with_state

    def counted(input_ids, lengths, h, c):
        calls.append(input_ids.shape)
        assert (lengths == input_ids.shape[1]).all()  # never padded: final_* stays exact
        return run_with_state(input_ids, lengths, h, c)

    classifier.backend.run_with_state = counted
    batch = classifier.streams(8)
    batch.feed(["good film "] * 8)
    assert calls == [(8, 2)]
    calls.clear()
    batch.feed(["bad ", "", "the best ", "", "", "", "", ""])  # 1 and 2 final words
    assert sorted(calls) == [(1, 1), (1, 2)]
    calls.clear()
    batch.feed([""] * 8)  # nothing new: nothing run, the answers kept
    assert calls == []
    calls.clear()
    batch.feed(["gre", "", "", "", "", "", "", ""])  # a held word: run for the answer only
    assert calls == [(1, 1)]


def test_a_failed_feed_changes_no_stream(tiny_lstm):
    classifier = Classifier.load(tiny_lstm)
    run_with_state = classifier.backend.run_with_state
    texts = ["good film but ", "the worst movie ", " bad"]  # two groups: 3 and 1 final words
    batch = classifier.streams(3)
    batch.feed(["the ", "", "lo"])
    failing = {"calls": 0}

    def fails_on_the_second_call(*args):
        failing["calls"] += 1
        if failing["calls"] == 2:
            raise RuntimeError("out of memory")
        return run_with_state(*args)

    classifier.backend.run_with_state = fails_on_the_second_call
    with pytest.raises(RuntimeError, match="out of memory"):
        batch.feed(texts)  # the first group ran and was undone
    classifier.backend.run_with_state = run_with_state
    got = batch.feed(texts)  # the same pieces again: as if the failure never happened
    for streamed, whole in zip(got, classifier.predict(["the " + texts[0], texts[1], "lo" + texts[2]])):
        assert_close(streamed, whole)
