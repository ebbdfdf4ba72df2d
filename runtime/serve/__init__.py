"""``edgelstm serve``: the model behind HTTP, for apps in any language.

Needs the ``serve`` extra (``pip install 'edgelstm[serve]'``: FastAPI with pydantic, uvicorn,
httptools, uvloop, prometheus_client). Importing this package loads none of them (the CLI reads the defaults
here); ``create_app`` and ``serve`` do. Nothing else in edgelstm imports the web framework, so
``import edgelstm`` and ``edgelstm predict`` never load it.

Routes: the Open Inference Protocol v2 (``/v2/...``, as KServe, Triton, MLServer and Seldon
speak it), ``POST /predict``, ``GET /metrics`` (Prometheus) and ``GET /`` (the browser page).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from .options import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_TEXTS,
    DEFAULT_PORT,
    ServeOptions,
    batching_refusal,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_TEXTS",
    "DEFAULT_PORT",
    "ServeOptions",
    "batching_refusal",
    "bind_socket",
    "create_app",
    "require_extra",
    "serve",
]

EXTRA_MODULES = ("fastapi", "uvicorn", "httptools", "prometheus_client")


def require_extra() -> None:
    """Raise ModuleNotFoundError naming the first missing module of the serve extra."""
    for module in EXTRA_MODULES:
        if importlib.util.find_spec(module) is None:
            raise ModuleNotFoundError(f"No module named {module!r}", name=module)


def __getattr__(name: str) -> Any:  # the heavy parts load when first used
    if name == "create_app":
        require_extra()
        from .app import create_app

        return create_app
    if name in ("serve", "bind_socket"):
        require_extra()
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
