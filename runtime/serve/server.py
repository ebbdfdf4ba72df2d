"""Processes and sockets: one listening socket bound here, shared by ``workers`` uvicorn processes.

Why bind it ourselves: ``uvicorn --workers N`` hands its socket to the workers in a way that
loses TCP_NODELAY on the accepted connections (uvicorn#3149); ``protocol.http_protocol`` sets it
on every accepted connection, with the read deadlines and the connection cap.

Signals: SIGTERM or SIGINT stops accepting, lets in-flight requests finish (at most
``GRACEFUL_SHUTDOWN_S``) and exits 0. The parent forwards SIGTERM to its workers.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from multiprocessing.connection import wait
from types import FrameType

from ..classifier import Classifier
from ..errors import InputError
from .metrics import MULTIPROC_ENV
from .options import GRACEFUL_SHUTDOWN_S, ServeOptions

__all__ = ["bind_socket", "run_worker", "serve"]

log = logging.getLogger(__name__)

BACKLOG = 2048  # connections the kernel queues before the workers accept them
WORKER_STOP_S = GRACEFUL_SHUTDOWN_S + 1.0  # then a worker that has not exited is killed


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (``port`` 0: a free one, see ``getsockname()``).

    An address that cannot be listened on (the port is taken, the host is not this machine's)
    is the user's input, not a bug: an InputError (exit 4) naming it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY itself on sockets that say they are TCP.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def _setup_logging(level: int) -> None:
    """A spawned worker starts with bare logging: the access log and errors go to stderr."""
    root = logging.getLogger("edgelstm")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(handler)
        root.setLevel(level)
        root.propagate = False


_early_signals: list[int] = []


def _record(signum: int, frame: FrameType | None) -> None:
    """Installed under uvicorn's handlers. Before uvicorn runs, a signal is remembered (the worker
    then stops at once); after it, uvicorn re-raises the signal it stopped for, and this makes
    that a no-op, so the process exits 0."""
    _early_signals.append(signum)


def run_worker(sock: socket.socket, options: ServeOptions, classifier: Classifier | None = None) -> None:
    """Serve on ``sock`` until SIGTERM/SIGINT (the body of each worker process)."""
    signal.signal(signal.SIGTERM, _record)
    signal.signal(signal.SIGINT, _record)
    import uvicorn

    from .app import create_app
    from .protocol import http_protocol

    _setup_logging(options.log_level)
    config = uvicorn.Config(
        create_app(options, classifier),
        http=http_protocol(options),
        ws="none",  # no WebSocket routes: an upgrade request is answered as plain HTTP, in JSON
        lifespan="on",
        access_log=False,  # ours: one line per request, from the app, on stderr
        log_config=None,
        log_level="warning",
        timeout_graceful_shutdown=int(GRACEFUL_SHUTDOWN_S),
        server_header=False,
    )
    server = uvicorn.Server(config)
    server.should_exit = bool(_early_signals)  # stopped while starting: start and stop at once
    server.run(sockets=[sock])


def _worker_main(sock: socket.socket, options: ServeOptions) -> None:
    run_worker(sock, options)
    sys.exit(0)


def serve(options: ServeOptions, classifier: Classifier | None = None) -> int:
    """Run the server until SIGTERM/SIGINT; the exit status (0: a clean shutdown).

    ``classifier``, when given, is ``options.model`` already loaded (one worker reuses it).
    """
    sock = bind_socket(options.host, options.port)
    host, port = sock.getsockname()[:2]
    metrics_dir = None
    if options.workers > 1:  # the workers' metrics meet in files (before they import prometheus_client)
        metrics_dir = tempfile.mkdtemp(prefix="edgelstm-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
    else:  # one process: an ordinary in-memory registry
        os.environ.pop(MULTIPROC_ENV, None)
    shown = f"[{host}]" if ":" in host else host
    log.info("edgelstm serve: model %r from %s on http://%s:%d (%d worker%s)", options.name, options.model,
             shown, port, options.workers, "" if options.workers == 1 else "s")
    try:
        if options.workers == 1:
            run_worker(sock, options, classifier)
            return 0
        return _supervise(sock, options)
    finally:
        sock.close()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        log.info("edgelstm serve: stopped")


def _supervise(sock: socket.socket, options: ServeOptions) -> int:
    from prometheus_client import multiprocess

    context = multiprocessing.get_context("spawn")  # fresh processes: no onnxruntime threads forked
    workers = [context.Process(target=_worker_main, args=(sock, options), name=f"edgelstm-worker-{i}", daemon=False)
               for i in range(options.workers)]
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.pid is not None and worker.exitcode is None:
                os.kill(worker.pid, signal.SIGTERM)  # SIGTERM, also for SIGINT: a second SIGINT forces

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for worker in workers:
        worker.start()
    failed = False
    while not stopping:
        wait([w.sentinel for w in workers], timeout=0.5)
        if not stopping and any(w.exitcode is not None for w in workers):
            log.error("edgelstm serve: a worker exited unexpectedly (status %s); stopping",
                      [w.exitcode for w in workers])
            failed = True
            stop(signal.SIGTERM, None)
    deadline = time.monotonic() + WORKER_STOP_S
    for worker in workers:
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
        if worker.exitcode is None:
            log.error("edgelstm serve: worker %d did not stop in time; killing it", worker.pid)
            worker.kill()
            worker.join(timeout=1.0)
            failed = True
        elif worker.exitcode not in (0, -signal.SIGTERM):  # -SIGTERM: ours came before its handler
            failed = True
        if worker.pid is not None:
            multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
    return 1 if failed else 0
