"""``edgelstm serve``: the model behind HTTP, for apps in any language.

Needs the ``serve`` extra (``pip install 'edgelstm[serve]'``: FastAPI, uvicorn, httptools,
prometheus_client). Nothing else in edgelstm imports this package, so ``import edgelstm`` and
``edgelstm predict`` never load a web framework.

Routes: the Open Inference Protocol v2 (``/v2/...``, as KServe, Triton, MLServer and Seldon
speak it), ``POST /predict``, ``GET /metrics`` (Prometheus) and ``GET /`` (the browser page).
"""

from __future__ import annotations

import importlib.util


def _require_extra() -> None:
    """A missing piece of the serve extra is a ModuleNotFoundError naming it, at import time."""
    for module in ("fastapi", "uvicorn", "prometheus_client"):
        if importlib.util.find_spec(module) is None:
            raise ModuleNotFoundError(f"No module named {module!r}", name=module)


_require_extra()

from .app import create_app
from .options import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_TEXTS,
    DEFAULT_PORT,
    ServeOptions,
    batching_refusal,
)
from .server import bind_socket, serve

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_TEXTS",
    "DEFAULT_PORT",
    "ServeOptions",
    "batching_refusal",
    "bind_socket",
    "create_app",
    "serve",
]
