"""What a server is started with: one dataclass, and the defaults' one home."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import ModelConfig

__all__ = [
    "DEFAULT_BODY_TIMEOUT_S",
    "DEFAULT_HEADER_TIMEOUT_S",
    "DEFAULT_HOST",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_TEXTS",
    "DEFAULT_PORT",
    "GRACEFUL_SHUTDOWN_S",
    "ServeOptions",
    "batching_refusal",
]

DEFAULT_HOST = "127.0.0.1"  # loopback: exposing the server is an explicit choice
DEFAULT_PORT = 8000
DEFAULT_MAX_BODY = 1 << 20  # bytes of one request body (1 MiB); larger gets 413
DEFAULT_MAX_TEXTS = 1000  # texts in one request; more gets 413
# A request's headers must arrive within this many seconds of the connection opening (or of the
# request's first byte on a kept-alive connection), its body within this many more after them;
# otherwise 408 and the connection is closed. uvicorn has neither (uvicorn#157): a client that
# trickles its headers would hold a connection forever.
DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 30.0  # 1 MiB (--max-body) at 35 KB/s
# Open connections per worker process; one more is answered 503 and closed at once. Below the
# usual 1,024 open files a process may have, so the cap, not the OS, refuses them.
DEFAULT_MAX_CONNECTIONS = 500
# In-flight requests get this long after SIGTERM/SIGINT; the whole exit stays under 10 s.
GRACEFUL_SHUTDOWN_S = 8.0


@dataclass(frozen=True)
class ServeOptions:
    model: Path  # the model file every worker loads
    name: str  # the model's name in /v2/models/{name}
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT  # 0: any free port (the chosen one is logged)
    workers: int = 1  # processes sharing one listening socket
    threads: int | None = None  # onnxruntime threads per worker (None: cores / workers)
    max_body: int = DEFAULT_MAX_BODY
    max_texts: int = DEFAULT_MAX_TEXTS
    batch_wait_ms: float = 0.0  # > 0: micro-batch requests arriving within this window
    web: Path | None = None  # a folder served at GET / (the browser page), if any
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    max_connections: int = DEFAULT_MAX_CONNECTIONS  # per worker
    log_level: int = 20  # logging.INFO: one access-log line per request on stderr


def batching_refusal(config: ModelConfig) -> str | None:
    """Why requests may not be batched together for this model, or None if they may.

    Micro-batching puts texts of different requests into one batch, so it is only allowed
    where a text's answer cannot depend on its batch neighbours: fp32 models, and int8 models
    whose metadata says ``batch_invariant: true`` (weight-only int8).
    """
    if config.batch_invariant or config.quantization is None:
        return None
    return (
        f"this model's int8 recipe ({config.quantization.recipe_name}) is not batch-invariant: batching "
        "requests together would change their answers; serve an fp32 or weight-only int8 model to use --batch-wait-ms"
    )
