"""`edgelstm serve`: the real server on 127.0.0.1 (a free port), every route and bad input,
answers equal to the in-process Classifier, a bounded load test and SIGTERM under load.

Every loop here is bounded in count and time; clients only talk to loopback.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("prometheus_client")

from edgelstm import Classifier
from tests.helpers import REPO, TINY_LSTM

TOLERANCE = 1e-6  # the bound; the server runs the same code, so it is usually exact
START_TIMEOUT_S = 60.0
# One onnxruntime thread per worker, as the in-process classifier below: today's shipped int8
# model (dynamic activation quantization) answers differently with other thread counts.
SERVER_ARGS = ("--workers", "2", "--threads", "1")
TEXTS = [
    "A wonderful film, the best acting I have seen in years.",
    "Dreadful. I walked out after twenty minutes.",
    "",  # no words: still one answer
    "ok",
    "It was fine<br /><br />not great, not terrible; the ending didn't work for me.",
    "Ünïcödé ｆｕｌｌｗｉｄｔｈ text and emoji 🎬 — still classified",
    " ".join(["boring"] * 500) + " but the last scene is brilliant",  # longer than max_len
]


@dataclass
class Server:
    process: subprocess.Popen
    host: str
    port: int
    log: Path

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def post_json(self, path: str, payload: object) -> tuple[int, object]:
        status, body = self.request("POST", path, json.dumps(payload), {"Content-Type": "application/json"})
        return status, json.loads(body)

    def access_lines(self) -> list[str]:
        return [line for line in self.log.read_text(encoding="utf-8").splitlines() if '" ' in line and "HTTP/" in line]


@contextmanager
def running_server(tmp_path: Path, *args: str) -> Iterator[Server]:
    """`edgelstm serve --port 0 ARGS` in a subprocess, ready (or the test fails with its log)."""
    log = tmp_path / f"serve-{time.monotonic_ns()}.log"
    with open(log, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "edgelstm.cli", "serve", "--port", "0", *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        port = None
        while port is None and time.monotonic() < deadline and process.poll() is None:
            found = re.search(r"http://127\.0\.0\.1:(\d+)", log.read_text(encoding="utf-8"))
            port = int(found.group(1)) if found else None
            time.sleep(0.05)
        assert port is not None, f"server did not start: {log.read_text(encoding='utf-8')}"
        server = Server(process, "127.0.0.1", port, log)
        while time.monotonic() < deadline:
            try:
                if server.request("GET", "/v2/health/ready", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            pytest.fail(f"server never became ready: {log.read_text(encoding='utf-8')}")
        # /v2/health/ready answers for the worker it reaches: wait until every worker is ready
        workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
        while f"edgelstm_ready_workers {workers}.0" not in server.request("GET", "/metrics")[1].decode():
            if time.monotonic() > deadline:
                pytest.fail(f"not every worker became ready: {log.read_text(encoding='utf-8')}")
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("serve"), *SERVER_ARGS) as running:
        yield running


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.default(threads=1)  # as each worker runs it (see SERVER_ARGS)


def _probabilities(predictions: list[dict]) -> np.ndarray:
    return np.array([[p["probabilities"][label] for label in ("neg", "pos")] for p in predictions])


def test_predict_equals_the_classifier(server, classifier):
    status, body = server.post_json("/predict", {"texts": TEXTS})
    assert status == 200
    expected = classifier.predict(TEXTS)
    got = body["predictions"]
    assert [p["label"] for p in got] == [p.label for p in expected]
    assert np.abs(_probabilities(got) - classifier.predict_proba(TEXTS)).max() <= TOLERANCE
    for served, local in zip(got, expected):
        assert abs(served["probability"] - local.probability) <= TOLERANCE
        assert served["probability"] == max(served["probabilities"].values())


def test_open_inference_protocol_routes(server, classifier):
    name = "sentiment-en.int8"
    assert server.request("GET", "/v2/health/live") == (200, b'{"live":true}')
    assert server.request("GET", "/v2/health/ready") == (200, b'{"ready":true}')
    status, body = server.request("GET", "/v2")
    assert status == 200 and json.loads(body)["name"] == "edgelstm"
    status, body = server.request("GET", f"/v2/models/{name}")
    metadata = json.loads(body)
    assert status == 200 and metadata["name"] == name
    assert metadata["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert [o["name"] for o in metadata["outputs"]] == ["probabilities", "label"]
    assert server.request("GET", f"/v2/models/{name}/ready") == (
        200,
        json.dumps({"name": name, "ready": True}, separators=(",", ":")).encode(),
    )

    texts = TEXTS[:4]
    request = {"id": "r-1", "inputs": [{"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": texts}]}
    status, body = server.post_json(f"/v2/models/{name}/infer", request)
    assert status == 200 and body["id"] == "r-1" and body["model_name"] == name
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["probabilities"]["shape"] == [4, 2] and outputs["probabilities"]["datatype"] == "FP32"
    got = np.array(outputs["probabilities"]["data"]).reshape(4, 2)
    assert np.abs(got - classifier.predict_proba(texts)).max() <= TOLERANCE
    assert outputs["label"]["data"] == [p.label for p in classifier.predict(texts)]

    # data nested by shape [N, 1], and only the outputs asked for
    nested = {
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [2, 1], "data": [[texts[0]], [texts[1]]]}],
        "outputs": [{"name": "label"}],
    }
    status, body = server.post_json(f"/v2/models/{name}/infer", nested)
    assert status == 200 and [o["name"] for o in body["outputs"]] == ["label"]
    assert body["outputs"][0]["data"] == outputs["label"]["data"][:2]


def test_metrics_and_home_page(server):
    server.post_json("/predict", {"texts": ["one", "two", "three"]})
    status, body = server.request("GET", "/metrics")  # running_server waited for both workers
    text = body.decode()
    assert status == 200
    assert re.search(r'edgelstm_requests_total\{route="/predict",status="200"\} [1-9]', text)
    assert re.search(r'edgelstm_texts_total\{route="/predict",status="200"\} [1-9]', text)
    assert 'edgelstm_request_duration_seconds_bucket{le="0.005",route="/predict"}' in text
    assert re.search(r'edgelstm_model_loaded\{.*name="sentiment-en.int8".*\} 1\.0', text)
    assert "edgelstm_ready_workers 2.0" in text  # summed over both worker processes
    status, body = server.request("GET", "/")
    assert status == 200 and body  # the web/ page where it exists, a short text otherwise


BAD_INPUTS = [
    # (method, path, body, status, words in the one-line reason)
    ("POST", "/predict", b"{not json", 400, "not valid JSON"),
    ("POST", "/predict", b"\xff\xfe\x00", 400, "not UTF-8"),
    ("POST", "/predict", b'["a"]', 400, "JSON object"),
    ("POST", "/predict", b'{"text": ["a"]}', 422, '"texts"'),
    ("POST", "/predict", b'{"texts": "a"}', 422, "must be a list"),
    ("POST", "/predict", b'{"texts": ["a", 3]}', 422, '"texts"[1] must be a string'),
    ("POST", "/predict", b'{"texts": [null]}', 422, "not null"),
    ("POST", "/predict", json.dumps({"texts": ["x"] * 1001}).encode(), 413, "limit of 1000"),
    ("POST", "/predict", b'{"texts": ["' + b"a" * (1 << 20) + b'"]}', 413, "over the limit"),
    ("POST", "/v2/models/sentiment-en.int8/infer", b'{"inputs": "a"}', 400, '"inputs"'),
    (
        "POST",
        "/v2/models/sentiment-en.int8/infer",
        b'{"inputs": [{"name": "text", "datatype": "FP32", "shape": [1], "data": [1.0]}]}',
        400,
        "BYTES",
    ),
    (
        "POST",
        "/v2/models/sentiment-en.int8/infer",
        b'{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [3], "data": ["a"]}]}',
        400,
        "holds 3",
    ),
    (
        "POST",
        "/v2/models/sentiment-en.int8/infer",
        b'{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [5]}]}',
        422,
        "must be a string",
    ),
    (
        "POST",
        "/v2/models/sentiment-en.int8/infer",
        b'{"inputs": [{"name": "t", "datatype": "BYTES", "shape": [1], "data": ["a"]}], "outputs": [{"name": "x"}]}',
        400,
        "unknown outputs",
    ),
    ("POST", "/v2/models/other/infer", b"{}", 404, "no model named"),
    ("GET", "/v2/models/other", None, 404, "no model named"),
    ("GET", "/predict", None, 405, "Not Allowed"),
    ("GET", "/no/such/route", None, 404, "Not Found"),
    # the shape's product is 2**64: numpy's int64 wrapped it to 0, which matched the empty data
    (
        "POST",
        "/v2/models/sentiment-en.int8/infer",
        b'{"inputs": [{"name": "t", "datatype": "BYTES", "shape": [4294967296, 4294967296], "data": []}]}',
        400,
        "holds 18446744073709551616 elements but data has 0",
    ),
    (
        "POST",
        "/v2/models/sentiment-en.int8/infer",
        b'{"inputs": [{"name": "t", "datatype": "BYTES", "shape": [' + b"4294967296," * 40 + b'1], "data": []}]}',
        400,
        "holds more than 18446744073709551616 elements",
    ),
    # json.loads raised RecursionError (a 500) on this; anything nested past 32 levels is refused
    ("POST", "/predict", b'{"texts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "nested more than 32"),
    (
        "POST",
        "/v2/models/sentiment-en.int8/infer",
        b'{"id": ' + b"[" * 40 + b"]" * 40 + b', "inputs": [{"datatype": "BYTES", "shape": [1], "data": ["a"]}]}',
        400,
        "nested more than 32",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "reason"), BAD_INPUTS, ids=[f"{c[3]}-{c[4]}" for c in BAD_INPUTS]
)
def test_bad_input_gets_a_clear_one_line_error(server, method, path, body, status, reason):
    got_status, got_body = server.request(method, path, body)
    assert got_status == status, got_body[:300]
    assert len(got_body) < 1000, got_body[:300]
    error = json.loads(got_body)["error"]
    assert reason in error and "\n" not in error and "Traceback" not in error


def test_edge_cases_that_are_not_errors(server, classifier):
    assert server.post_json("/predict", {"texts": []}) == (200, {"predictions": []})
    # a long text (close to the 1 MiB body limit) is read by its tail, never refused
    long_text = "terrible " * 110_000 + "yet in the end a masterpiece"
    status, body = server.post_json("/predict", {"texts": [long_text]})
    assert status == 200
    assert abs(body["predictions"][0]["probability"] - classifier.predict([long_text])[0].probability) <= TOLERANCE
    # exactly the limits is allowed
    assert server.post_json("/predict", {"texts": ["x"] * 1000})[0] == 200


def test_one_access_log_line_per_request(server):
    def live_lines() -> list[str]:
        return [line for line in server.access_lines() if '"GET /v2/health/live HTTP/1.1" 200 0 texts' in line]

    before = len(live_lines())
    for _ in range(3):
        server.request("GET", "/v2/health/live")
    deadline = time.monotonic() + 5
    while len(live_lines()) < before + 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # a fourth line would show up by now
    assert len(live_lines()) == before + 3


def test_keep_alive_requests_are_not_delayed_by_nagle(server):
    """With TCP_NODELAY lost (uvicorn --workers, uvicorn#3149) each of these takes ~40 ms."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    body = json.dumps({"texts": [TEXTS[0]]})
    times = []
    try:
        for _ in range(30):
            started = time.perf_counter()
            connection.request("POST", "/predict", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            assert response.status == 200
            response.read()
            times.append(time.perf_counter() - started)
    finally:
        connection.close()
    assert statistics.median(times) < 0.020, times


def _client(server: Server, texts: list[str], requests: int, results: list, errors: list) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        for i in range(requests):
            text = texts[i % len(texts)]
            connection.request(
                "POST", "/predict", body=json.dumps({"texts": [text]}), headers={"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            results.append((text, response.status, json.loads(response.read())))
    except Exception as exc:  # noqa: BLE001  (reported by the test, not lost in a thread)
        errors.append(repr(exc))
    finally:
        connection.close()


def test_load_32_clients_times_50_requests(server, classifier):
    expected = {text: classifier.predict([text])[0] for text in TEXTS}
    results: list = []
    errors: list = []
    threads = [
        threading.Thread(target=_client, args=(server, TEXTS[i % 3 :] + TEXTS[: i % 3], 50, results, errors))
        for i in range(32)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors
    assert len(results) == 32 * 50
    assert all(status == 200 for _, status, _ in results)
    for text, _, body in results:
        (served,) = body["predictions"]
        assert served["label"] == expected[text].label
        assert abs(served["probability"] - expected[text].probability) <= TOLERANCE


def test_sigterm_under_load_loses_no_accepted_request(tmp_path, classifier):
    texts = [f"review number {i}: " + TEXTS[i % len(TEXTS)] for i in range(200)]
    with running_server(tmp_path, *SERVER_ARGS) as server:
        outcomes: list = []  # (sent, answered, status, predictions or None, error or None)
        stop_at = time.monotonic() + 20

        def client() -> None:
            while time.monotonic() < stop_at:
                sent = time.monotonic()
                try:
                    status, body = server.post_json("/predict", {"texts": texts})
                except (ConnectionError, http.client.HTTPException, OSError) as exc:
                    outcomes.append((sent, time.monotonic(), None, None, type(exc).__name__))
                    if server.process.poll() is not None:
                        return
                    time.sleep(0.01)
                    continue
                outcomes.append((sent, time.monotonic(), status, body, None))

        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        exit_status = server.process.wait(timeout=15)
        stopped = time.monotonic()
        for thread in threads:
            thread.join(timeout=30)
        log_tail = server.log.read_text(encoding="utf-8")[-2000:]
        assert exit_status == 0, log_tail
        assert stopped - signalled < 10, log_tail
        answered = [o for o in outcomes if o[2] is not None]
        assert all(status == 200 for _, _, status, _, _ in answered), {o[2] for o in answered}
        expected = classifier.predict_proba(texts)
        for *_, body, _ in answered:
            assert np.abs(_probabilities(body["predictions"]) - expected).max() <= TOLERANCE
        # requests in flight when the signal came were finished, not dropped
        assert any(sent < signalled < done for sent, done, *_ in answered), (len(answered), len(outcomes))
        # every request the server accepted (logged) reached its client
        logged = [line for line in server.access_lines() if '"POST /predict HTTP/1.1" 200' in line]
        failures = sorted({o[4] for o in outcomes if o[4]})
        assert len(logged) == len(answered), (len(logged), len(answered), failures)


def test_micro_batching_gives_in_process_answers(tmp_path):
    classifier = Classifier.load(TINY_LSTM)
    with running_server(tmp_path, "--model", str(TINY_LSTM), "--batch-wait-ms", "20") as server:
        results: list = []
        errors: list = []
        threads = [
            threading.Thread(target=_client, args=(server, TEXTS[i:] + TEXTS[:i], 10, results, errors))
            for i in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors and len(results) == 80
        for text, status, body in results:
            assert status == 200
            local = classifier.predict([text])[0]
            assert abs(body["predictions"][0]["probability"] - local.probability) <= TOLERANCE


def test_micro_batching_is_refused_for_a_batch_dependent_model(tmp_path):
    onnx = pytest.importorskip("onnx")
    from edgelstm.config import METADATA_KEY

    # a model whose int8 recipe quantizes activations per batch (as --activation-int8 records it)
    proto = onnx.load(str(TINY_LSTM))
    config = json.loads(next(p.value for p in proto.metadata_props if p.key == METADATA_KEY))
    config["quantization"] = {"recipe": {"name": "dynamic-all-s8"}, "batch_invariant": False}
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(config)})
    model = tmp_path / "dynamic.onnx"
    onnx.save(proto, str(model))
    result = subprocess.run(
        [sys.executable, "-m", "edgelstm.cli", "serve", "--model", str(model), "--port", "0", "--batch-wait-ms", "5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "not batch-invariant" in result.stderr


def test_import_edgelstm_and_predict_never_load_the_web_framework(tmp_path):
    document = tmp_path / "one.txt"
    document.write_text("a fine film\n", encoding="utf-8")
    code = f"""
import sys
import edgelstm
from edgelstm.cli import app
try:
    app(["predict", {str(document)!r}], standalone_mode=False)
finally:
    loaded = sorted(m for m in ("fastapi", "uvicorn", "starlette", "prometheus_client") if m in sys.modules)
    print("LOADED", loaded, file=sys.stderr)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stderr


def test_readiness_waits_for_the_warm_up(monkeypatch):
    """In process: /v2/health/ready is 503 until the model has answered its warm-up text."""
    from fastapi.testclient import TestClient

    import edgelstm.serve.app as serve_app
    from edgelstm.serve import ServeOptions

    release = threading.Event()
    original = Classifier.predict

    def slow_warm_up(self, texts, batch_size=64):
        if list(texts) == [serve_app.WARM_UP_TEXT]:
            release.wait(timeout=10)
        return original(self, texts, batch_size)

    monkeypatch.setattr(Classifier, "predict", slow_warm_up)
    app = serve_app.create_app(ServeOptions(model=TINY_LSTM, name="tiny"))
    with TestClient(app) as client:
        assert client.get("/v2/health/live").status_code == 200
        assert client.get("/v2/health/ready").status_code == 503
        assert client.get("/v2/models/tiny/ready").json() == {"name": "tiny", "ready": False}
        release.set()
        deadline = time.monotonic() + 10
        while client.get("/v2/health/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.get("/v2/health/ready").json() == {"ready": True}
        assert client.post("/predict", json={"texts": ["fine"]}).status_code == 200


def test_an_unexpected_error_is_a_short_500(monkeypatch):
    from fastapi.testclient import TestClient

    import edgelstm.serve.app as serve_app
    from edgelstm.serve import ServeOptions

    def broken(self, texts, batch_size=64):
        raise RuntimeError("boom")

    app = serve_app.create_app(ServeOptions(model=TINY_LSTM, name="tiny"))
    with TestClient(app, raise_server_exceptions=False) as client:
        deadline = time.monotonic() + 10
        while client.get("/v2/health/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        monkeypatch.setattr(Classifier, "predict_proba", broken)
        response = client.post("/predict", json={"texts": ["fine"]})
    assert response.status_code == 500
    assert response.json() == {"error": "internal error (RuntimeError); the server log has the details"}


def test_sigint_stops_a_single_worker_server_cleanly(tmp_path):
    with running_server(tmp_path, "--workers", "1", "--threads", "1") as server:
        assert server.post_json("/predict", {"texts": ["fine"]})[0] == 200
        status, metrics = server.request("GET", "/metrics")  # one worker: its own registry
        assert status == 200 and 'edgelstm_requests_total{route="/predict",status="200"} 1.0' in metrics.decode()
        assert "edgelstm_ready_workers 1.0" in metrics.decode()
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(timeout=10) == 0
    assert "stopped" in server.log.read_text(encoding="utf-8")


CLI_ERRORS = [
    # (code run in a fresh interpreter, exit status, words on stderr)
    ("main(['serve', '--model', 'missing.onnx'])", 3, "model file not found"),
    (
        (
            "import sys\n"
            "class NoFastapi:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'fastapi':\n"
            "            raise ModuleNotFoundError(\"No module named 'fastapi'\", name='fastapi')\n"
            "sys.meta_path.insert(0, NoFastapi())\n"
            "main(['serve'])"
        ),
        8,
        "pip install 'edgelstm[serve]'",
    ),
    ("main(['serve', '--web', '.'])", 2, "has no index.html"),
]


@pytest.mark.parametrize(("code", "status", "message"), CLI_ERRORS, ids=["bad-model", "no-extra", "no-page"])
def test_serve_command_errors(tmp_path, code, status, message):
    program = "from edgelstm.cli import app\ndef main(args):\n    app(args, prog_name='edgelstm')\n" + code
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False
    )
    assert result.returncode == status, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_home_serves_the_web_folder_when_there_is_one(tmp_path):
    from fastapi.testclient import TestClient

    from edgelstm.serve import ServeOptions, create_app

    (tmp_path / "index.html").write_text("<!doctype html><title>edgelstm</title>", encoding="utf-8")
    (tmp_path / "edgelstm.js").write_text("export const x = 1;", encoding="utf-8")
    with TestClient(create_app(ServeOptions(model=TINY_LSTM, name="tiny", web=tmp_path))) as client:
        assert "<title>edgelstm</title>" in client.get("/").text
        assert (
            client.get("/edgelstm.js").headers["content-type"].startswith(("text/javascript", "application/javascript"))
        )
        assert client.get("/v2/health/live").json() == {"live": True}  # the API still wins over the folder
    with TestClient(create_app(ServeOptions(model=TINY_LSTM, name="tiny"))) as client:
        assert "POST /predict" in client.get("/").text


@pytest.mark.parametrize(
    ("quantization", "allowed"),
    [
        (None, True),  # fp32
        ({"recipe": {"name": "weights-only"}, "batch_invariant": True}, True),
        ({"recipe": {"name": "all-s8"}, "batch_invariant": False}, False),
        ({"recipe": {"name": "all-s8"}}, False),  # today's shipped model: no claim, so no batching
    ],
)
def test_micro_batching_only_for_batch_invariant_models(quantization, allowed):
    from edgelstm import ModelConfig
    from edgelstm.serve import batching_refusal

    refusal = batching_refusal(ModelConfig(quantization=quantization))
    assert (refusal is None) == allowed
    if refusal:
        assert "not batch-invariant" in refusal and "\n" not in refusal


def test_micro_batcher_runs_concurrent_requests_as_one_batch():
    from edgelstm.serve.batching import MicroBatcher

    classifier = Classifier.load(TINY_LSTM)
    calls: list[int] = []
    original = classifier.predict_ids

    def counted(sequences, batch_size=64):
        calls.append(len(sequences))
        return original(sequences, batch_size)

    classifier.predict_ids = counted  # type: ignore[method-assign]
    batcher = MicroBatcher(classifier, wait_s=0.5)
    results: dict[int, np.ndarray] = {}
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, batcher.predict([TEXTS[i], TEXTS[i + 1]])))
        for i in range(3)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    finally:
        batcher.close()
    assert calls == [6]  # three requests, one window
    for i in range(3):
        assert np.abs(results[i] - original(classifier.encode([TEXTS[i], TEXTS[i + 1]]))).max() <= TOLERANCE


# The HTTP layer (protocol.py): read deadlines, the connection cap and its errors as JSON. One
# server with short limits; raw sockets, as slow or broken clients send bytes.
HEADER_TIMEOUT_S = BODY_TIMEOUT_S = 1.0
MAX_CONNECTIONS = 4
SLACK_S = 2.0  # on top of a timeout: scheduling on a busy shared machine


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> Iterator[Server]:
    limits = ("--header-timeout", str(HEADER_TIMEOUT_S), "--body-timeout", str(BODY_TIMEOUT_S),
              "--max-connections", str(MAX_CONNECTIONS))
    with running_server(tmp_path_factory.mktemp("guarded"), "--workers", "1", "--threads", "1",
                        "--web", str(REPO / "web"), *limits) as running:
        time.sleep(0.2)  # the readiness probes' connections are gone
        yield running


def _send_and_read(sock: socket.socket, data: bytes, wait_s: float) -> tuple[bytes, float | None]:
    """Send ``data``, read until the server closes: what came back and after how many seconds
    (None: still open after ``wait_s``)."""
    started = time.monotonic()
    sock.settimeout(wait_s)
    if data:
        sock.sendall(data)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        return received, None
    except ConnectionResetError:
        pass
    return received, time.monotonic() - started


def _raw(server: Server, data: bytes, wait_s: float = HEADER_TIMEOUT_S + SLACK_S + 2) -> tuple[bytes, float | None]:
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        return _send_and_read(sock, data, wait_s)


def _json_error(response: bytes) -> tuple[int, str]:
    """The status and the reason of a ``{"error": ...}`` response that closes its connection."""
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    assert headers.get("content-type") == "application/json", response[:300]
    assert headers.get("connection") == "close", response[:300]
    return int(lines[0].split()[1]), json.loads(body)["error"]


def test_slow_headers_get_a_408_within_the_header_timeout(guarded):
    received, after = _raw(guarded, b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
    assert after is not None, "the server still holds a request whose headers never came"
    assert HEADER_TIMEOUT_S * 0.9 <= after < HEADER_TIMEOUT_S + SLACK_S
    assert _json_error(received) == (408, "request headers not received within 1 s")


def test_an_idle_connection_is_closed_at_the_header_timeout(guarded):
    received, after = _raw(guarded, b"")
    assert after is not None and after < HEADER_TIMEOUT_S + SLACK_S
    assert received == b""  # nothing was asked: nothing is answered


def test_a_slow_body_gets_a_408_within_the_body_timeout(guarded):
    head = b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    received, after = _raw(guarded, head + b'{"texts": ["a')
    assert after is not None and BODY_TIMEOUT_S * 0.9 <= after < BODY_TIMEOUT_S + SLACK_S
    assert _json_error(received) == (408, "request body not received within 1 s")
    assert guarded.request("GET", "/v2/health/live")[0] == 200  # and the server goes on


def test_a_kept_alive_connection_cannot_trickle_its_next_request(guarded):
    """uvicorn's keep-alive timer is reset by every byte: without a header deadline this is held."""
    with socket.create_connection((guarded.host, guarded.port), timeout=5) as sock:
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = b""
        while not first.endswith(b'{"live":true}'):
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        for piece in (b"GET /v2", b"/health", b"/live HT"):  # a byte now and then, never the end
            sock.sendall(piece)
            time.sleep(0.3)
        received, after = _send_and_read(sock, b"T", HEADER_TIMEOUT_S + SLACK_S + 2)
    assert after is not None, "the server still holds a request whose headers never came"
    assert time.monotonic() - started < HEADER_TIMEOUT_S + SLACK_S
    assert _json_error(received)[0] == 408


def test_pipelined_requests_are_answered_in_order_then_a_partial_one_times_out(guarded):
    request = b"GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    predict = b'{"texts": ["fine"]}'
    post = b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s" % (len(predict), predict)
    received, after = _raw(guarded, request + post + request + b"GET /v2/hea")
    assert after is not None and after < HEADER_TIMEOUT_S + SLACK_S
    answers = received.split(b"HTTP/1.1 ")[1:]
    assert [a[:3] for a in answers] == [b"200", b"200", b"200", b"408"], received[:600]
    assert answers[1].endswith(b"}]}") and b'"predictions"' in answers[1]


def test_headers_over_the_size_limit_get_a_431_at_once(guarded):
    from edgelstm.serve.protocol import MAX_HEADER_BYTES

    received, after = _raw(guarded, b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEADER_BYTES + 1024))
    assert after is not None and after < SLACK_S  # not held until the header timeout
    assert _json_error(received) == (431, f"request headers are over the limit of {MAX_HEADER_BYTES} bytes")


def test_bytes_that_are_not_http_get_a_json_400(guarded):
    received, after = _raw(guarded, b"\x16\x03\x01\x02\x00 not http at all\r\n\r\n")
    assert after is not None and after < SLACK_S
    assert _json_error(received) == (400, "the request is not valid HTTP/1.1")


def test_connections_past_the_cap_get_a_503_and_are_closed(guarded):
    started = time.monotonic()
    sockets = [socket.create_connection((guarded.host, guarded.port), timeout=5) for _ in range(MAX_CONNECTIONS + 2)]
    try:  # read one after the other: each answer is there, whenever it is read
        outcomes = [_send_and_read(sock, b"", HEADER_TIMEOUT_S + SLACK_S + 2) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert time.monotonic() - started >= HEADER_TIMEOUT_S * 0.9  # the first ones were held ...
    for received, after in outcomes[:MAX_CONNECTIONS]:  # ... until the header timeout, then closed
        assert received == b"" and after is not None
    for received, _ in outcomes[MAX_CONNECTIONS:]:  # the ones past the cap: refused at once
        status, reason = _json_error(received)
        assert status == 503 and f"{MAX_CONNECTIONS} open connections" in reason
    assert guarded.request("GET", "/v2/health/live")[0] == 200  # below the cap again: served


def test_page_files_follow_the_model_links_and_nothing_else(guarded):
    """`edgelstm serve --web web/`: the page's model and tokenizer are links to the shipped files."""
    for name in ("model.onnx", "tokenizer.json"):
        status, body = guarded.request("GET", f"/model/{name}")
        assert status == 200 and body == (REPO / "web" / "model" / name).read_bytes()
    status, body = guarded.request("GET", "/")
    assert status == 200 and b'src="./page.js"' in body
    for path in ("/../pyproject.toml", "/model/../../pyproject.toml", "/model/%2e%2e/%2e%2e/pyproject.toml",
                 "/model/../../runtime/shipped/sentiment-en.int8.json", "/..%2f..%2fetc/passwd"):
        received, _ = _raw(guarded, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        assert received.startswith(b"HTTP/1.1 404"), (path, received[:200])


def test_page_files_refuse_links_that_leave_the_allowed_roots(tmp_path):
    from fastapi.testclient import TestClient

    from edgelstm.serve import ServeOptions, create_app

    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web", encoding="utf-8")
    web = tmp_path / "web"
    (web / "model").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>page</title>", encoding="utf-8")
    (web / "model" / "model.onnx").symlink_to(TINY_LSTM)  # a link in model/: followed
    (web / "leak.txt").symlink_to(secret)  # a link elsewhere that leaves the folder: not followed
    (web / "model" / "sub").mkdir()
    (web / "model" / "sub" / "leak.txt").symlink_to(secret)  # nor one below model/
    with TestClient(create_app(ServeOptions(model=TINY_LSTM, name="tiny", web=web))) as client:
        assert client.get("/model/model.onnx").content == TINY_LSTM.read_bytes()
        assert client.get("/leak.txt").status_code == 404
        assert client.get("/model/sub/leak.txt").status_code == 404
        assert client.get("/model/model.onnx/../../../secret.txt").status_code == 404


def test_an_error_outside_the_framework_is_a_json_500():
    """An exception that reaches the outermost layer before any answer: JSON, not uvicorn's text."""
    from fastapi.testclient import TestClient

    from edgelstm.serve.app import _Observed
    from edgelstm.serve.metrics import Metrics

    async def broken(scope, receive, send):
        raise RuntimeError("boom")

    client = TestClient(_Observed(broken, Metrics()), raise_server_exceptions=False)  # type: ignore[arg-type]
    response = client.get("/anything")
    assert response.status_code == 500 and response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "internal error (RuntimeError); the server log has the details"}


def test_metrics_label_requests_by_the_route_that_answered():
    from fastapi.testclient import TestClient

    from edgelstm.serve import ServeOptions, create_app

    app = create_app(ServeOptions(model=TINY_LSTM, name="tiny", web=REPO / "web"))
    with TestClient(app) as client:
        client.get("/v2")
        client.get("/v2/models/other/ready")  # 404 from the route: still that route's
        client.get("/predict")  # 405: no route of that method
        client.get("/model/tokenizer.json")  # the page
        metrics = client.get("/metrics").text
    assert 'edgelstm_requests_total{route="/v2",status="200"} 1.0' in metrics
    assert 'edgelstm_requests_total{route="/v2/models/{name}/ready",status="404"} 1.0' in metrics
    assert 'edgelstm_requests_total{route="other",status="405"} 1.0' in metrics
    assert 'edgelstm_requests_total{route="/",status="200"} 1.0' in metrics
