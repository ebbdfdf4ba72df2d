"""The ASGI app of one worker process: routes, metrics and the access log.

The model is loaded and warmed up in a background thread, so ``/v2/health/live`` answers at
once and ``/v2/health/ready`` turns true only after the model has answered a warm-up text.
Predictions come from ``Classifier.predict_proba``, so they are the numbers that
``Classifier.predict`` and ``edgelstm predict`` give for the same list of texts. Request bodies
are checked by the models in ``schemas``; every error is ``{"error": reason}`` from one handler.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from .. import __version__
from ..classifier import Classifier
from .batching import MicroBatcher
from .metrics import Metrics
from .options import ServeOptions
from .schemas import BadRequest, InferRequest, PredictRequest, error_body, parse_json, validate

__all__ = ["create_app"]

log = logging.getLogger(__name__)
access_log = logging.getLogger("edgelstm.serve.access")

WARM_UP_TEXT = "A warm-up review: the model answers once before the server says it is ready."
JSON_TYPE = "application/json"
# A prediction that arrives while this worker still loads its model waits this long for it
# (other workers may be ready already: /v2/health/ready answers for the worker it reaches).
LOAD_WAIT_S = 30.0
PAGE_ROUTE = "/{path:path}"  # the browser page's files; its metrics label is "/"
OUTPUTS = ("probabilities", "label")  # the OIP outputs, in the order they are sent

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def create_app(options: ServeOptions, classifier: Classifier | None = None) -> FastAPI:
    """The app of one worker; ``classifier`` (already loaded) saves loading it again."""
    metrics = Metrics()
    model = Model(options, classifier, metrics)
    app = _framework(model)
    _add_error_handler(app)
    _add_predict(app, options, model)
    _add_open_inference_protocol(app, options, model)
    _add_metrics(app, metrics)
    _add_home(app, options)
    return _Observed(app, metrics)  # type: ignore[return-value]


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

    async def require_ready(self) -> Classifier:
        """The classifier; a request that comes while it loads waits for it (bounded)."""
        if not self.ready.is_set() and not self.failed:
            from starlette.concurrency import run_in_threadpool

            await run_in_threadpool(self.settled.wait, LOAD_WAIT_S)
        if self.failed:
            raise BadRequest(503, f"the model failed to load: {self.failed}")
        if not self.ready.is_set() or self.classifier is None:
            raise BadRequest(503, "the model is still loading")
        return self.classifier

    async def answer(self, request: Request, texts: list[str]) -> tuple[list[str], np.ndarray]:
        """The labels and (N, labels) float32 probabilities of ``texts``, on a worker thread."""
        from starlette.concurrency import run_in_threadpool

        classifier = await self.require_ready()
        request.state.texts = len(texts)
        if not texts:
            return classifier.labels, np.zeros((0, len(classifier.labels)), np.float32)
        return classifier.labels, await run_in_threadpool(self._probabilities, classifier, texts)

    def _probabilities(self, classifier: Classifier, texts: list[str]) -> np.ndarray:
        if self.batcher is not None:
            return self.batcher.predict(texts)
        return classifier.predict_proba(texts)


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
    return Response(error_body(reason), status_code=status, media_type=JSON_TYPE)


async def _read_json(request: Request, max_body: int) -> Any:
    """The parsed JSON body; 413 past ``max_body`` bytes (read no further), 400 if not JSON."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise BadRequest(413, f"request body of {int(declared)} bytes is over the limit of {max_body}")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise BadRequest(413, f"request body is over the limit of {max_body} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # gone, or cut off by the body timeout (protocol.py sent that 408)
        raise BadRequest(408, "the connection closed before the request body arrived") from None
    return parse_json(b"".join(chunks))


def _framework(model: Model) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        model.start()
        yield
        model.close()

    return FastAPI(
        title="edgelstm", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )


def _add_error_handler(app: FastAPI) -> None:
    """Every error, the app's own or the framework's (404, 405), as ``{"error": one line}``."""

    async def error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, BadRequest):
            return _error(exc.status, exc.reason)
        if isinstance(exc, StarletteHTTPException):
            return _error(exc.status_code, exc.detail if isinstance(exc.detail, str) else str(exc.detail))
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, f"internal error ({type(exc).__name__}); the server log has the details")

    for kind in (BadRequest, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, error)


def _add_predict(app: FastAPI, options: ServeOptions, model: Model) -> None:
    @app.post("/predict")
    async def predict(request: Request) -> Response:
        body = validate(PredictRequest, await _read_json(request, options.max_body), options.max_texts)
        labels, probabilities = await model.answer(request, body.checked_texts(options.max_texts))
        return _json({"predictions": _predictions(labels, probabilities)})


def _add_open_inference_protocol(app: FastAPI, options: ServeOptions, model: Model) -> None:
    """The Open Inference Protocol v2 routes (KServe, Triton, MLServer, Seldon)."""
    served = options.name

    def require_model(name: str) -> None:
        if name != served:
            raise BadRequest(404, f"no model named {name!r}; this server has {served!r}")

    @app.get("/v2/health/live")
    async def live() -> Response:
        return _json({"live": True})

    @app.get("/v2/health/ready")
    async def ready() -> Response:
        is_ready = model.ready.is_set()
        return _json({"ready": is_ready}, 200 if is_ready else 503)

    @app.get("/v2")
    async def server_metadata() -> Response:
        return _json({"name": "edgelstm", "version": __version__, "extensions": []})

    @app.get("/v2/models/{name}")
    async def model_metadata(name: str) -> Response:
        require_model(name)
        classifier = await model.require_ready()
        labels = classifier.labels
        return _json(
            {
                "name": served,
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

    @app.get("/v2/models/{name}/ready")
    async def model_ready(name: str) -> Response:
        require_model(name)
        is_ready = model.ready.is_set()
        return _json({"name": served, "ready": is_ready}, 200 if is_ready else 503)

    @app.post("/v2/models/{name}/infer")
    async def infer(name: str, request: Request) -> Response:
        require_model(name)
        body = validate(InferRequest, await _read_json(request, options.max_body), options.max_texts)
        texts = body.checked_texts(options.max_texts)
        await model.require_ready()  # a loading model is a 503 before an unknown output is a 400
        wanted = [o.name for o in body.outputs] if body.outputs is not None else list(OUTPUTS)
        unknown = [n for n in wanted if n not in OUTPUTS]
        if unknown:
            raise BadRequest(400, f"unknown outputs {unknown}; this model has {list(OUTPUTS)}")
        labels, probabilities = await model.answer(request, texts)
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
        response: dict[str, Any] = {"model_name": served, "model_version": "", "outputs": [tensors[n] for n in wanted]}
        if body.id is not None:
            response["id"] = body.id
        return _json(response)


def _add_metrics(app: FastAPI, metrics: Metrics) -> None:
    @app.get("/metrics")
    async def prometheus() -> Response:
        content, media_type = metrics.render()
        return Response(content, media_type=media_type)


def _add_home(app: FastAPI, options: ServeOptions) -> None:
    """GET /: the browser page from ``options.web``, or a short text where there is none."""
    if options.web is None or not (options.web / "index.html").is_file():

        @app.get("/")
        async def home() -> Response:
            return PlainTextResponse(
                f"edgelstm {__version__} serving model {options.name!r}.\n"
                f'POST /predict with {{"texts": [...]}}, or POST /v2/models/{options.name}/infer '
                "(Open Inference Protocol v2).\n"
                "GET /metrics for Prometheus. (No browser page: this install has no web/ folder.)\n"
            )

        return
    from fastapi.routing import APIRoute
    from starlette.routing import Match

    from .web import PageFiles

    files = PageFiles(options.web)
    api_routes = [route for route in app.routes if isinstance(route, APIRoute)]

    # A route, not a mount at "/": a mount would answer GET /predict with the page's 404
    # where the API's 405 is right.
    @app.api_route(PAGE_ROUTE, methods=["GET", "HEAD"], include_in_schema=False)
    async def web_page(request: Request, path: str) -> Response:
        for route in api_routes:
            if route.matches(request.scope)[0] == Match.PARTIAL:
                request.scope["route"] = route  # the 405 is that route's (and so is its metrics label)
                return _error(405, "Method Not Allowed")
        return await files.get_response(path or ".", request.scope)


def _route_label(scope: Scope) -> str:
    """The metrics label: the path of the route that answered (by the router's match), else "other"."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None or scope["method"] not in (getattr(route, "methods", None) or ()):
        return "other"  # no route (404), or a route of another method (405)
    return "/" if path == PAGE_ROUTE else path


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
        answering = complete = False
        state = scope.setdefault("state", {})

        async def observe(message: Message) -> None:
            nonlocal status, answering, complete
            if message["type"] == "http.response.start":
                status, answering = message["status"], True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True
            await send(message)

        try:
            await self.app(scope, receive, observe)
        except Exception as exc:
            # Starlette re-raises what its 500 handler has answered (and logged): done, and the
            # connection may stay open. Half an answer: uvicorn closes the connection. No answer
            # yet: this one, in the app's form rather than uvicorn's text/plain.
            if answering and not complete:
                raise
            if not answering:
                log.error("unexpected error on %s %s", scope["method"], scope["path"], exc_info=exc)
                reason = f"internal error ({type(exc).__name__}); the server log has the details"
                await observe({"type": "http.response.start", "status": 500,
                               "headers": [(b"content-type", JSON_TYPE.encode())]})
                await observe({"type": "http.response.body", "body": error_body(reason)})
        finally:
            seconds = time.perf_counter() - started
            route = _route_label(scope)
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
