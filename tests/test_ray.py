"""Scoring on Ray (edgelstm.ray, ``edgelstm score``): real Ray clusters on this machine, no mocks.

One local cluster of 2 CPUs serves the module (a Ray start costs seconds of both cores); the
simulated two-node cluster runs last, on its own. Every Ray process is gone when the module ends.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from edgelstm import Classifier
from edgelstm.classifier import SHIPPED_DIR, SHIPPED_MODEL
from edgelstm.errors import (
    EXIT_CLUSTER,
    EXIT_DATA,
    EXIT_INPUT,
    EXIT_MISSING_EXTRA,
    ClusterError,
    DataError,
    InputError,
    ModelError,
)
from edgelstm.invariance import INVARIANCE_TOLERANCE
from tests.helpers import TINY_LSTM, run_python

NO_RAY = """
import sys
class BlockRay:
    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("ray is blocked in this test", name="ray")
sys.meta_path.insert(0, BlockRay())
"""
# Ray 2.60 trips over its own deprecations (DataContext.get_current() copies deprecated fields):
# warnings raised inside Ray's modules are Ray's; any other warning is still an error.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray\\.")
HANG_GUARD_S = 240  # a job that has not finished by then is taken as hung (each runs in seconds)


def _ray():
    # A job left running by a failed test must not start a new cluster after the module's is
    # shut down (Ray connects on first use by default); read when ray is first imported.
    os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")
    pytest.importorskip("ray.data", reason="the ray extra is not installed (pip install '.[ray]')")
    import ray

    return ray


MARK = "EDGELSTM_TEST_RAY"  # in the environment of every process the module's Ray starts


def _processes() -> dict[int, tuple[int, str, bytes]]:
    """pid -> (parent pid, command line, environment) of every live process."""
    found = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if fields[0] != "Z":  # a zombie is gone, only not yet reaped
            found[int(entry)] = (int(fields[1]), cmdline.strip(), environ)
    return found


def _descendants() -> list[tuple[int, str]]:
    """(pid, command line) of every live process below this one (Ray's raylet, workers, ...)."""
    processes = _processes()
    found, frontier = [], {os.getpid()}
    while frontier:
        frontier = {pid for pid, (parent, _, _) in processes.items() if parent in frontier}
        found += [(pid, processes[pid][1]) for pid in frontier]
    return found


def _left_behind(timeout_s: float = 30.0) -> list[tuple[int, str]]:
    """Processes this module's Ray started that are still alive after timeout_s, wherever they
    were re-parented (found by the mark in their environment)."""
    mark = f"{MARK}={os.getpid()}".encode()
    deadline = time.monotonic() + timeout_s
    while True:
        left = [(pid, cmdline) for pid, (_, cmdline, environ) in _processes().items()
                if pid != os.getpid() and mark in environ.split(b"\0")]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray cluster of 2 CPUs (this machine's size), shut down after the module's tests."""
    ray = _ray()
    os.environ[MARK] = str(os.getpid())
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()
    left = _left_behind()
    del os.environ[MARK]
    assert not left, f"Ray processes left behind: {left}"


@pytest.fixture(scope="module")
def default_model():
    return Classifier.default()


def _texts(n: int) -> list[str]:
    words = ["great", "awful", "boring", "loved", "the", "plot", "acting", "was", "not", "a", "film", "worst"]
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(words, size=int(rng.integers(1, 60)))) for _ in range(n)]


def _run(consume, guard_s: float = HANG_GUARD_S):
    """consume() in a thread: a job still running after guard_s fails the test instead of hanging it."""
    result: dict[str, object] = {}

    def target():
        try:
            result["value"] = consume()
        except BaseException as exc:  # handed to the test's thread
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(guard_s)
    assert not thread.is_alive(), f"the job did not finish within {guard_s} s (hung)"
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["value"]


def _assert_answer(row: dict, want: dict, prefix: str = "") -> None:
    """``want``'s label, and its probabilities within the runtime's batch-invariance bound: a
    worker's batches are not Classifier.predict's, and int8 kernels round a batch of 37 and one of
    64 apart in the last float32 bit (the README's "same answer in any batch", 1e-6)."""
    assert row[f"{prefix}label"] == want["label"]
    assert abs(row[f"{prefix}probability"] - want["probability"]) <= INVARIANCE_TOLERANCE
    for label, p in want["probabilities"].items():
        assert abs(row[f"{prefix}probability_{label}"] - p) <= INVARIANCE_TOLERANCE


def _assert_rows_equal(rows: list[dict], texts: list[str], classifier: Classifier, prefix: str = "") -> None:
    """Every row, by its id, exactly once, carries Classifier.predict's answer for its text."""
    expected = classifier.predict(texts)
    assert sorted(row["id"] for row in rows) == list(range(len(texts)))  # each row exactly once
    for row in rows:
        assert row["text"] == texts[row["id"]]
        _assert_answer(row, vars(expected[row["id"]]), prefix)


# -- no Ray needed ---------------------------------------------------------------------------


def test_sizing_always_leaves_cpus_for_reads_and_writes():
    from edgelstm.ray import plan_actors

    assert plan_actors(2) == 1  # this machine: one actor, one CPU for reading and writing
    assert plan_actors(16) == 14 and plan_actors(1600) == 1400
    assert plan_actors(16, threads=4) == 3
    assert plan_actors(16, actors=5) == 5
    with pytest.raises(ClusterError, match="ray#44687"):
        plan_actors(2, actors=2)  # the pool ray#44687 hangs on: actors on every CPU
    with pytest.raises(ClusterError, match="1 CPU"):
        plan_actors(1)
    with pytest.raises(ClusterError):
        plan_actors(4, threads=4)


def test_without_ray_nothing_imports_it_and_score_asks_for_the_extra(tmp_path):
    docs = tmp_path / "docs.txt"
    docs.write_text("a great film\nawful\n")
    code = NO_RAY + (
        "import edgelstm, edgelstm.ray, edgelstm.cli\n"
        "assert not [m for m in sys.modules if m == 'ray' or m.startswith('ray.')]\n"
        "sys.argv[0] = 'edgelstm'; edgelstm.cli.main()"
    )
    predicted = run_python("-c", code, "predict", "--model", TINY_LSTM, docs)
    assert predicted.returncode == 0 and len(predicted.stdout.splitlines()) == 2, predicted.stderr
    scored = run_python("-c", code, "score", docs, "-o", tmp_path / "out")
    assert scored.returncode == EXIT_MISSING_EXTRA, scored.stderr
    assert "pip install 'edgelstm[ray]'" in scored.stderr and "Traceback" not in scored.stderr
    assert not (tmp_path / "out").exists()


def test_classifier_from_bytes_answers_as_load():
    data = TINY_LSTM.read_bytes()
    texts = _texts(50)
    np.testing.assert_array_equal(Classifier.from_bytes(data).predict_proba(texts),
                                  Classifier.load(TINY_LSTM).predict_proba(texts))
    with pytest.raises(ModelError, match="<bytes>"):
        Classifier.from_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="empty"):
        Classifier.from_bytes(b"")


# -- a local cluster of 2 CPUs ---------------------------------------------------------------


def test_imdb_reviews_scored_row_for_row_as_classifier_predict(local_ray, imdb, default_model):
    """2,000 real reviews, with every default (the 2-core sizing included), equal to Classifier.predict."""
    from edgelstm.ray import predict

    texts = imdb.test.sample(2000).texts
    dataset = local_ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)], override_num_blocks=8)
    rows = _run(lambda: predict(dataset).take_all())
    _assert_rows_equal(rows, texts, default_model)


def test_two_cores_with_defaults_read_score_and_write_without_hanging(local_ray, tmp_path, default_model):
    """Read tasks, the actor pool and write tasks all need CPUs: on 2 the defaults still finish."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from edgelstm.ray import predict

    texts = _texts(1200)
    for part in range(3):
        rows = range(part * 400, (part + 1) * 400)
        pq.write_table(pa.table({"id": list(rows), "text": [texts[i] for i in rows]}), tmp_path / f"in-{part}.parquet")
    scored = predict(local_ray.data.read_parquet(str(tmp_path), file_extensions=["parquet"]))
    _run(lambda: scored.write_parquet(str(tmp_path / "out")))
    written = pq.read_table(tmp_path / "out").to_pylist()
    _assert_rows_equal(written, texts, default_model)


def _map_workers() -> list[int]:
    return [pid for pid, cmdline in _descendants() if cmdline.startswith("ray::MapWorker")]


def test_an_actor_killed_mid_job_still_gives_every_row_exactly_once(local_ray, default_model):
    from edgelstm.ray import predict

    texts = _texts(6000)
    dataset = local_ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)], override_num_blocks=60)
    scored = predict(dataset, batch_size=50)

    def consume():
        rows, killed = [], []
        for batch in scored.iter_batches(batch_size=None, batch_format="pyarrow"):
            rows += batch.to_pylist()
            if not killed:  # the first results are in: the job is under way
                killed = _map_workers()  # its one actor (and any of an earlier job not yet reaped)
                assert killed
                for pid in killed:
                    os.kill(pid, signal.SIGKILL)
                rows_at_kill = len(rows)
        return rows, killed, rows_at_kill

    rows, killed, rows_at_kill = _run(consume)
    assert rows_at_kill < len(texts)  # the kill came before the last result
    _assert_rows_equal(rows, texts, default_model)


def test_bad_input_is_a_clear_error(local_ray, tmp_path):
    from edgelstm.ray import predict, score

    with pytest.raises(DataError, match="no column 'text'.*columns: id, body"):
        predict(local_ray.data.from_items([{"id": 1, "body": "a film"}]))
    with pytest.raises(DataError, match="'text' holds int64 values, not text"):
        predict(local_ray.data.from_items([{"id": 1, "text": 5}]))
    with pytest.raises(DataError, match="already has column.*label.*--prefix"):
        predict(local_ray.data.from_items([{"text": "a film", "label": "pos"}]))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(InputError, match="no rows to score"):
        score([empty], tmp_path / "out")
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("id,text\n1,5\n2,7\n")
    with pytest.raises(DataError, match="'text' holds int values"):
        score([numbers], tmp_path / "out")
    missing = tmp_path / "missing.jsonl"
    missing.write_text('{"id": 1, "body": "a film"}\n')
    with pytest.raises(DataError, match="no column 'text'"):
        score([missing], tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written
    with pytest.raises(InputError, match="no such file"):
        score([tmp_path / "nowhere.txt"], tmp_path / "out")


def test_a_null_text_found_by_an_actor_is_a_data_error_naming_the_row(local_ray, tmp_path):
    from edgelstm.ray import score

    data = tmp_path / "docs.jsonl"
    data.write_text('{"id": 1, "text": "a fine film"}\n{"id": 2, "text": null}\n{"id": 3, "text": "awful"}\n')
    with pytest.raises(DataError, match=r"1 row\(s\) have no 'text' \(null\).*'id': 2"):
        _run(lambda: score([data], tmp_path / "out"))
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))  # no partial output


def test_each_actor_checks_the_model_it_receives(local_ray):
    from edgelstm.ray import ModelBytes, predict

    data = TINY_LSTM.read_bytes()
    damaged = ModelBytes(data, "0" * 64, "tiny-lstm.onnx")  # as if the bytes changed on the way
    with pytest.raises(Exception, match="reached this worker damaged") as caught:
        _run(lambda: predict(local_ray.data.from_items([{"text": "a film"}]), model=damaged).take_all())
    from edgelstm.ray import _cause

    assert isinstance(_cause(caught.value), ModelError)


def test_a_pool_the_cluster_cannot_place_fails_instead_of_waiting(local_ray):
    """Ray's default waits for the actors forever; here the job fails once start_timeout_s passes."""
    from edgelstm.ray import predict

    scored = predict(local_ray.data.from_items([{"text": "a film"}]), model=TINY_LSTM, start_timeout_s=5)

    @local_ray.remote(num_cpus=2)
    class Hog:  # another job takes every CPU after the plan was made
        def ready(self):
            return True

    # an earlier test's actors may still hold CPUs (released asynchronously): the hog takes every
    # CPU still free, so nothing is left for the pool either way
    free = local_ray.available_resources().get("CPU", 0)
    assert free >= 1, "no CPU free before the test began"
    hog = Hog.options(num_cpus=free).remote()
    local_ray.get(hog.ready.remote(), timeout=60)
    try:
        with pytest.raises(local_ray.exceptions.GetTimeoutError, match="Timed out while starting actors"):
            _run(scored.take_all, guard_s=120)
    finally:
        local_ray.kill(hog)


def _reviews_as_files(folder: Path, texts: list[str], files: int) -> list[Path]:
    """The texts as `files` text files, one per line, plus an empty line and CRLF endings."""
    folder.mkdir()
    paths = []
    for k in range(files):
        lines = texts[k::files]
        newline = "\r\n" if k == 1 else "\n"
        body = newline.join(lines[:3] + [""] + lines[3:]) + newline
        paths.append(folder / f"part-{k}.txt")
        paths[-1].write_bytes(body.encode())
    return paths


def test_cli_scores_a_multi_file_dataset_as_edgelstm_predict(local_ray, imdb, tmp_path):
    """`edgelstm score` on text files (Parquet out) and on JSONL (JSONL out): `edgelstm predict`'s answers."""
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from edgelstm.cli import app

    texts = [t.replace("\n", " ").replace("\r", " ") for t in imdb.test.sample(900, seed=1).texts]
    paths = _reviews_as_files(tmp_path / "in", texts, 3)
    runner = CliRunner()
    predicted = runner.invoke(app, ["predict", "--format", "jsonl", *map(str, paths)])
    assert predicted.exit_code == 0, predicted.output
    expected = [json.loads(line) for line in predicted.stdout.splitlines()]
    result = runner.invoke(app, ["score", *map(str, paths), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    shards = result.stdout.split()
    assert shards and all(Path(s).parent == tmp_path / "out" for s in shards)
    rows = pq.read_table(tmp_path / "out").to_pylist()
    order = {str(p.resolve()): i for i, p in enumerate(paths)}
    rows.sort(key=lambda r: (order[r["source"]], r["line"]))
    assert len(rows) == len(expected) == len(texts) + 3  # one empty line per file is a document too
    for row, want in zip(rows, expected):
        _assert_answer(row, want)

    records = tmp_path / "reviews.jsonl"
    records.write_text("".join(json.dumps({"id": i, "text": t, "label": "?"}) + "\n" for i, t in enumerate(texts)))
    result = runner.invoke(app, ["score", str(records), "-o", str(tmp_path / "out-jsonl"), "--format", "jsonl",
                                 "--prefix", "model_"])
    assert result.exit_code == 0, result.output
    # one row per "\n": texts may hold U+2028 or U+0085, which JSON leaves unescaped and splitlines() splits on
    rows = [json.loads(line) for shard in result.stdout.split() for line in Path(shard).read_text().split("\n")
            if line]
    lines = tmp_path / "reviews.txt"
    lines.write_text("\n".join(texts) + "\n")
    single = runner.invoke(app, ["predict", "--format", "jsonl", str(lines)])
    assert single.exit_code == 0, single.output
    expected = [json.loads(line) for line in single.stdout.splitlines()]
    assert sorted(r["id"] for r in rows) == list(range(len(texts)))
    for row in rows:
        want = expected[row["id"]]
        assert row["label"] == "?"  # the input's own columns are kept
        _assert_answer(row, want, "model_")


def test_cli_errors_have_their_exit_codes(local_ray, tmp_path):
    from typer.testing import CliRunner

    from edgelstm.cli import app

    runner = CliRunner()
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = runner.invoke(app, ["score", str(empty), "-o", str(tmp_path / "out")])
    assert result.exit_code == EXIT_INPUT and "no rows to score" in result.output
    records = tmp_path / "r.jsonl"
    records.write_text('{"body": "a film"}\n')
    result = runner.invoke(app, ["score", str(records), "-o", str(tmp_path / "out")])
    assert result.exit_code == EXIT_DATA and "no column 'text'" in result.output
    docs = tmp_path / "docs.txt"
    docs.write_text("a film\n")
    result = runner.invoke(app, ["score", str(docs), "-o", str(tmp_path / "out"), "--actors", "2"])
    assert result.exit_code == EXIT_CLUSTER and "ray#44687" in result.output  # 2 actors on 2 CPUs would hang
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.parquet").write_text("mine")
    result = runner.invoke(app, ["score", str(empty), "-o", str(taken)])
    assert result.exit_code == EXIT_INPUT and "already exists" in result.output
    assert (taken / "keep.parquet").read_text() == "mine"


# -- a simulated two-node cluster (last: it replaces the local one) ---------------------------


def test_two_nodes_where_the_model_file_exists_only_on_the_driver(local_ray, tmp_path, default_model):
    """The head node (the driver's) has no CPU, so every read and actor runs on the other node;
    the model file is deleted before the job runs: only its bytes, sent with the job, can serve."""
    from ray.cluster_utils import Cluster

    from edgelstm.ray import predict

    local_ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=2)
        local_ray.init(address=cluster.address, logging_level=logging.WARNING)
        cluster.wait_for_nodes()
        model = tmp_path / "driver-only.onnx"
        model.write_bytes((SHIPPED_DIR / SHIPPED_MODEL).read_bytes())
        texts = _texts(1000)
        dataset = local_ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)], override_num_blocks=4)
        scored = predict(dataset, model=model)
        model.unlink()  # Ray Datasets are lazy: the actors start after this
        rows = _run(lambda: scored.take_all())
        _assert_rows_equal(rows, texts, default_model)
    finally:
        local_ray.shutdown()
        cluster.shutdown()
