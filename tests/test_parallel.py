"""Several cores: ``Classifier.predict`` of a long list runs batches at once, with the same answers."""

import threading

import numpy as np
import pytest

from edgelstm import Classifier
from edgelstm.classifier import BATCHES_PER_BLOCK
from tests.helpers import TINY_BILSTM, TINY_LSTM, run_cli

WORDS = "the movie was great bad film it don't 10 amour".split()


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 40)))) for _ in range(n)]


class _MeetingBackend:
    """Wraps a backend: each run waits until another run is in progress at the same time, so a
    classifier that runs its batches one after the other fails (the barrier times out)."""

    def __init__(self, backend):
        self.backend = backend
        self.config = backend.config
        self.barrier = threading.Barrier(2, timeout=10)

    def run(self, input_ids, lengths):
        self.barrier.wait()
        return self.backend.run(input_ids, lengths)


@pytest.mark.parametrize("model", [TINY_LSTM, TINY_BILSTM])
def test_two_cores_give_the_same_answers(model):
    texts = _texts(3 * 64 * BATCHES_PER_BLOCK + 5)
    one = Classifier.load(model, threads=1).predict_proba(texts)
    two = Classifier.load(model, threads=2)
    assert two.workers == 2
    np.testing.assert_array_equal(two.predict_proba(texts), one)
    sequences = two.encode(texts)
    np.testing.assert_array_equal(two.predict_ids(sequences, batch_size=16), one)


@pytest.mark.parametrize("batch_size", [16, 64])
def test_two_cores_run_two_batches_at_once(batch_size):
    loaded = Classifier.load(TINY_BILSTM, threads=2)
    meeting = Classifier(_MeetingBackend(loaded.backend), workers=2)
    texts = _texts(4 * 64 * BATCHES_PER_BLOCK)  # an even number of batches: every run has a partner
    np.testing.assert_array_equal(meeting.predict_proba(texts, batch_size), loaded.predict_proba(texts, batch_size))



class _RecordingBackend:
    """Wraps a backend: records every batch it runs."""

    def __init__(self, backend):
        self.backend = backend
        self.config = backend.config
        self.batches = []

    def run(self, input_ids, lengths):
        self.batches.append((input_ids.tobytes(), input_ids.shape))
        return self.backend.run(input_ids, lengths)


def test_one_and_two_cores_run_the_same_batches():
    """Answers equal to the bit for any thread count, even where a graph's float results depend on
    the batch (e.g. padded or not): the batches themselves are the same."""
    texts = _texts(3 * 64 * BATCHES_PER_BLOCK + 5)
    backend = Classifier.load(TINY_LSTM, threads=1).backend
    batches = {}
    for workers in (1, 2):
        recording = _RecordingBackend(backend)
        Classifier(recording, workers=workers).predict_proba(texts)
        batches[workers] = sorted(recording.batches)
    assert len(batches[1]) > 3 * BATCHES_PER_BLOCK and batches[1] == batches[2]

def test_one_thread_runs_batches_one_after_the_other():
    meeting = Classifier(_MeetingBackend(Classifier.load(TINY_BILSTM).backend), workers=1)
    meeting.backend.barrier = threading.Barrier(2, timeout=0.5)
    with pytest.raises(threading.BrokenBarrierError):
        meeting.predict_proba(_texts(200))


def test_each_batch_runs_on_one_onnxruntime_thread():
    session = Classifier.load(TINY_BILSTM, threads=2).backend.session
    assert session.get_session_options().intra_op_num_threads == 1


def test_cli_predict_gives_the_same_lines_on_two_threads(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(_texts(1500)) + "\n", encoding="utf-8")
    one, two = (run_cli("predict", "--model", TINY_BILSTM, "--threads", n, path) for n in (1, 2))
    assert one.returncode == two.returncode == 0, one.stderr + two.stderr
    assert one.stdout == two.stdout and len(one.stdout.splitlines()) == 1500


def test_two_cores_answer_an_empty_list():
    two = Classifier.load(TINY_BILSTM, threads=2)
    assert two.predict_proba([]).shape == (0, 3)
    assert two.predict_ids([]).shape == (0, 3) and two.predict([]) == []


class _WaitingBackend:
    """Wraps a backend: each run waits until ``ready`` is set (by the texts' reader), so a classifier
    that reads the next block only after running this one's batches fails (the wait times out)."""

    def __init__(self, backend, ready):
        self.backend, self.config, self.ready = backend, backend.config, ready

    def run(self, input_ids, lengths):
        assert self.ready.wait(timeout=10), "the next block was not read while this one ran"
        return self.backend.run(input_ids, lengths)


def test_the_next_block_is_read_and_tokenized_while_the_batches_run():
    block = 64 * BATCHES_PER_BLOCK
    texts, ready = _texts(3 * block + 7), threading.Event()

    def reader():
        for i, text in enumerate(texts):
            if i == block + 1:  # the second block's reading has begun
                ready.set()
            yield text

    backend = Classifier.load(TINY_LSTM, threads=1).backend
    pipelined = Classifier(_WaitingBackend(backend, ready), workers=2)
    blocks = list(pipelined.predict_proba_blocks(reader()))
    assert [len(b) for b in blocks] == [block, block, block, 7]
    np.testing.assert_array_equal(np.concatenate(blocks), Classifier(backend).predict_proba(texts))


def test_blocks_read_lazily_and_at_most_two_blocks_ahead():
    block, read = 64 * BATCHES_PER_BLOCK, []

    def reader():
        for text in _texts(10 * block):
            read.append(text)
            yield text

    for workers in (1, 2):
        read.clear()
        blocks = Classifier.load(TINY_LSTM, threads=workers).predict_proba_blocks(reader())
        assert not read  # nothing happens before the first block is asked for
        assert len(next(blocks)) == block and len(read) <= 2 * block
        blocks.close()  # the caller stops early: no error, nothing else read
        assert len(read) <= 2 * block


def test_blocks_refuse_a_lone_string_at_once():
    with pytest.raises(TypeError, match="not a single str"):
        Classifier.load(TINY_LSTM, threads=2).predict_proba_blocks("a text")


@pytest.mark.parametrize("threads", [1, 2])
def test_cli_errors_keep_their_place_among_the_results(tmp_path, threads):
    """Results and errors as a terminal shows them (stderr into stdout): each error after the
    results of the documents before it and before the later ones, blocks pipelined or not."""
    import subprocess
    import sys

    first, last = tmp_path / "first.txt", tmp_path / "last.txt"
    first.write_text("\n".join(_texts(64 * BATCHES_PER_BLOCK + 3)) + "\n", encoding="utf-8")
    last.write_text("great film\nbad film\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "edgelstm.cli", "predict", "--model", str(TINY_LSTM),
                           "--threads", str(threads), first, tmp_path / "nope.txt", last, tmp_path / "gone.txt"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = done.stdout.splitlines()
    assert done.returncode == 4
    assert [i for i, line in enumerate(lines) if line.startswith("edgelstm: error:")] == \
        [64 * BATCHES_PER_BLOCK + 3, 64 * BATCHES_PER_BLOCK + 6]
    assert "nope.txt: no such file" in lines[-4] and "gone.txt: no such file" in lines[-1]


def test_cli_text_lines_are_each_predictions_line():
    from edgelstm.cli.commands import OutputFormat, _format, _format_block
    from edgelstm.predictions import to_prediction

    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(3), size=200).astype(np.float32)
    probabilities[:5] = [1 / 3, 1 / 3, 1 / 3]  # ties: the first label, as np.argmax
    labels = ["neg", "neutral", "pos"]
    for output_format in OutputFormat:
        assert _format_block(labels, probabilities, output_format) == \
            [_format(to_prediction(labels, row), output_format) + "\n" for row in probabilities]
