"""The ASGI app of one worker process: routes, input checks, metrics and the access log.

The model is loaded and warmed up in a background thread, so ``/v2/health/live`` answers at
once and ``/v2/health/ready`` turns true only after the model has answered a warm-up text.
Predictions come from ``Classifier.predict_proba``, so they are the numbers that
``Classifier.predict`` and ``edgelstm predict`` give for the same list of texts.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..classifier import Classifier
from .batching import MicroBatcher
from .metrics import Metrics
from .options import ServeOptions

__all__ = ["BadRequest", "create_app"]

log = logging.getLogger(__name__)
access_log = logging.getLogger("edgelstm.serve.access")

WARM_UP_TEXT = "A warm-up review: the model answers once before the server says it is ready."
JSON_TYPE = "application/json"
# A prediction that arrives while this worker still loads its model waits this long for it
# (other workers may be ready already: /v2/health/ready answers for the worker it reaches).
LOAD_WAIT_S = 30.0

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BadRequest(Exception):
    """A client error: its status and a one-line reason, sent as ``{"error": reason}``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Model:
    """The worker's one classifier (one onnxruntime session shared by the request threads)."""

    def __init__(self, options: ServeOptions, preloaded: Classifier | None, metrics: Metrics) -> None:
        self.options = options
        self.metrics = metrics
        self.classifier: Classifier | None = None
        self.batcher: MicroBatcher | None = None
        self.ready = threading.Event()  # loaded and warmed up
        self.settled = threading.Event()  # loaded or failed: waiting requests stop waiting
        self.failed: str | None = None
        self._preloaded = preloaded
        self._thread = threading.Thread(target=self._load, name="edgelstm-load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _load(self) -> None:
        try:
            classifier = self._preloaded or Classifier.load(self.options.model, threads=self.options.threads)
            classifier.predict([WARM_UP_TEXT])
        except Exception as exc:  # a model that loaded in the parent but fails here
            log.exception("loading %s failed", self.options.model)
            self.failed = f"{type(exc).__name__}: {exc}"
            self.settled.set()
            return
        self.classifier = classifier
        if self.options.batch_wait_ms > 0:
            self.batcher = MicroBatcher(classifier, self.options.batch_wait_ms / 1000)
        self.metrics.model_loaded(self.options.name, classifier)
        self.ready.set()
        self.settled.set()

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """(N, labels) float32, N = len(texts); runs on a worker thread."""
        assert self.classifier is not None
        if self.batcher is not None:
            return self.batcher.predict(texts)
        return self.classifier.predict_proba(texts)


def _predictions(labels: list[str], probabilities: np.ndarray) -> list[dict[str, Any]]:
    """The JSON form of ``Classifier.predict``'s ``Prediction`` objects."""
    results = []
    for row in probabilities.tolist():  # (labels,) floats, exactly the float32 values
        best = max(range(len(row)), key=row.__getitem__)  # the first maximum, as np.argmax
        results.append(
            {
                "label": labels[best],
                "probability": row[best],
                "probabilities": dict(zip(labels, row)),
            }
        )
    return results


def _json(content: Any, status: int = 200) -> Response:
    body = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type=JSON_TYPE)


def _error(status: int, reason: str) -> Response:
    return _json({"error": reason}, status)


async def _read_json(request: Request, max_body: int) -> Any:
    """The parsed JSON body; 413 past ``max_body`` bytes (read no further), 400 if not JSON."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise BadRequest(413, f"request body of {int(declared)} bytes is over the limit of {max_body}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            raise BadRequest(413, f"request body is over the limit of {max_body} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise BadRequest(400, "request body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(
            400, f"request body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None


def _check_texts(texts: Any, where: str, max_texts: int) -> list[str]:
    if not isinstance(texts, list):
        raise BadRequest(422, f"{where} must be a list of strings, not {_json_type(texts)}")
    if len(texts) > max_texts:
        raise BadRequest(413, f"{len(texts)} texts in one request is over the limit of {max_texts}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise BadRequest(422, f"{where}[{i}] must be a string, not {_json_type(text)}")
    return texts


def _json_type(value: Any) -> str:
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _flatten(data: Any) -> list[Any]:
    """OIP tensors may send ``data`` flat or nested by shape: one flat list either way."""
    if not isinstance(data, list):
        return [data]
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:  # iterative, so a deeply nested body cannot exhaust the stack
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _infer_texts(body: Any, max_texts: int) -> tuple[list[str], list[str] | None, Any]:
    """The texts, the requested output names (None: all) and the id of an OIP infer request."""
    if not isinstance(body, dict):
        raise BadRequest(400, 'request body must be a JSON object {"inputs": [...]}')
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise BadRequest(
            400,
            '"inputs" must be a list of one tensor: {"name": "text", "datatype": "BYTES", "shape": [N], "data": [...]}',
        )
    tensor = inputs[0]
    if tensor.get("datatype") != "BYTES":
        raise BadRequest(400, f'input datatype must be "BYTES", not {json.dumps(tensor.get("datatype"))}')
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise BadRequest(400, '"shape" must be a list of non-negative integers')
    if "data" not in tensor:
        raise BadRequest(400, 'the input tensor has no "data"')
    data = _flatten(tensor["data"])
    count = int(np.prod(shape)) if shape else 1
    if count != len(data):
        raise BadRequest(400, f"shape {shape} holds {count} elements but data has {len(data)}")
    texts = _check_texts(data, "input data", max_texts)
    outputs = body.get("outputs")
    names = None
    if outputs is not None:
        if not isinstance(outputs, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
        ):
            raise BadRequest(400, '"outputs" must be a list of {"name": ...} objects')
        names = [o["name"] for o in outputs]
    return texts, names, body.get("id")


def create_app(options: ServeOptions, classifier: Classifier | None = None) -> FastAPI:
    """The app of one worker; ``classifier`` (already loaded) saves loading it again."""
    metrics = Metrics()
    model = Model(options, classifier, metrics)
    name = options.name

    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        model.start()
        yield
        model.close()

    app = FastAPI(
        title="edgelstm", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )

    async def require_ready() -> Classifier:
        """The classifier; a request that comes while it loads waits for it (bounded)."""
        if not model.ready.is_set() and not model.failed:
            from starlette.concurrency import run_in_threadpool

            await run_in_threadpool(model.settled.wait, LOAD_WAIT_S)
        if model.failed:
            raise BadRequest(503, f"the model failed to load: {model.failed}")
        if not model.ready.is_set() or model.classifier is None:
            raise BadRequest(503, "the model is still loading")
        return model.classifier

    def require_model(requested: str) -> None:
        if requested != name:
            raise BadRequest(404, f"no model named {requested!r}; this server has {name!r}")

    async def run(request: Request, texts: list[str]) -> np.ndarray:
        from starlette.concurrency import run_in_threadpool

        request.state.texts = len(texts)
        if not texts:
            return np.zeros((0, len(model.classifier.labels) if model.classifier else 0), np.float32)
        return await run_in_threadpool(model.probabilities, texts)

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> Response:
        return _error(exc.status, exc.reason)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        reason = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return _error(exc.status_code, reason)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, f"internal error ({type(exc).__name__}); the server log has the details")

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        request.state.route = "/predict"
        body = await _read_json(request, options.max_body)
        if not isinstance(body, dict):
            raise BadRequest(400, 'request body must be a JSON object {"texts": [...]}')
        if "texts" not in body:
            raise BadRequest(422, 'request body has no "texts" (a list of strings)')
        texts = _check_texts(body["texts"], '"texts"', options.max_texts)
        classifier = await require_ready()
        probabilities = await run(request, texts)
        return _json({"predictions": _predictions(classifier.labels, probabilities)})

    @app.get("/v2/health/live")
    async def live(request: Request) -> Response:
        request.state.route = "/v2/health/live"
        return _json({"live": True})

    @app.get("/v2/health/ready")
    async def ready(request: Request) -> Response:
        request.state.route = "/v2/health/ready"
        is_ready = model.ready.is_set()
        return _json({"ready": is_ready}, 200 if is_ready else 503)

    @app.get("/v2")
    async def server_metadata(request: Request) -> Response:
        request.state.route = "/v2"
        return _json({"name": "edgelstm", "version": __version__, "extensions": []})

    @app.get("/v2/models/{requested}")
    async def model_metadata(requested: str, request: Request) -> Response:
        request.state.route = "/v2/models/{name}"
        require_model(requested)
        classifier = await require_ready()
        labels = classifier.labels
        return _json(
            {
                "name": name,
                "versions": [],
                "platform": "onnxruntime_onnx",
                "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
                "outputs": [
                    {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(labels)]},
                    {"name": "label", "datatype": "BYTES", "shape": [-1]},
                ],
                "parameters": {
                    "labels": labels,
                    "arch": classifier.config.arch,
                    "max_len": classifier.config.max_len,
                    "int8": classifier.config.quantization is not None,
                },
            }
        )

    @app.get("/v2/models/{requested}/ready")
    async def model_ready(requested: str, request: Request) -> Response:
        request.state.route = "/v2/models/{name}/ready"
        require_model(requested)
        is_ready = model.ready.is_set()
        return _json({"name": name, "ready": is_ready}, 200 if is_ready else 503)

    @app.post("/v2/models/{requested}/infer")
    async def infer(requested: str, request: Request) -> Response:
        request.state.route = "/v2/models/{name}/infer"
        require_model(requested)
        texts, wanted, request_id = _infer_texts(await _read_json(request, options.max_body), options.max_texts)
        classifier = await require_ready()
        labels = classifier.labels
        available = ("probabilities", "label")
        unknown = [n for n in wanted or () if n not in available]
        if unknown:
            raise BadRequest(400, f"unknown outputs {unknown}; this model has {list(available)}")
        probabilities = await run(request, texts)
        tensors = {
            "probabilities": {
                "name": "probabilities",
                "datatype": "FP32",
                "shape": [len(texts), len(labels)],
                "data": probabilities.reshape(-1).tolist(),
            },
            "label": {
                "name": "label",
                "datatype": "BYTES",
                "shape": [len(texts)],
                "data": [p["label"] for p in _predictions(labels, probabilities)],
            },
        }
        response: dict[str, Any] = {
            "model_name": name,
            "model_version": "",
            "outputs": [tensors[n] for n in wanted or available],
        }
        if request_id is not None:
            response["id"] = request_id
        return _json(response)

    @app.get("/metrics")
    async def prometheus(request: Request) -> Response:
        request.state.route = "/metrics"
        content, media_type = metrics.render()
        return Response(content, media_type=media_type)

    if options.web is not None and (options.web / "index.html").is_file():
        from fastapi.routing import APIRoute
        from fastapi.staticfiles import StaticFiles
        from starlette.routing import Match

        static = StaticFiles(directory=options.web, html=True)
        api_routes = [route for route in app.routes if isinstance(route, APIRoute)]

        # A route, not a mount at "/": a mount would answer GET /predict with the page's 404
        # where the API's 405 is right.
        @app.api_route("/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
        async def web_page(request: Request, path: str) -> Response:
            if any(route.matches(request.scope)[0] == Match.PARTIAL for route in api_routes):
                return _error(405, "Method Not Allowed")
            request.state.route = "/"
            return await static.get_response(path or ".", request.scope)
    else:

        @app.get("/")
        async def home(request: Request) -> Response:
            request.state.route = "/"
            return PlainTextResponse(
                f"edgelstm {__version__} serving model {name!r}.\n"
                f'POST /predict with {{"texts": [...]}}, or POST /v2/models/{name}/infer '
                "(Open Inference Protocol v2).\n"
                "GET /metrics for Prometheus. (No browser page: this install has no web/ folder.)\n"
            )

    return _Observed(app, metrics)  # type: ignore[return-value]


class _Observed:
    """Outermost ASGI layer: one access-log line and the metrics of every HTTP request."""

    def __init__(self, app: FastAPI, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    def __getattr__(self, attribute: str) -> Any:  # tests and tools may look at the FastAPI app
        return getattr(self.app, attribute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app fails before it starts a response
        state = scope.setdefault("state", {})

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            seconds = time.perf_counter() - started
            route = state.get("route") or ("/" if scope["path"] == "/" else "static" if status < 400 else "other")
            texts = state.get("texts", 0)
            self.metrics.observe(route, status, texts, seconds)
            client = scope.get("client")
            access_log.info(
                '%s "%s %s HTTP/%s" %d %d texts %.2f ms',
                f"{client[0]}:{client[1]}" if client else "-",
                scope["method"],
                scope["path"],
                scope.get("http_version", "1.1"),
                status,
                texts,
                seconds * 1000,
            )
