"""The HTTP layer under the app: uvicorn's httptools protocol, with what uvicorn does not do.

- TCP_NODELAY on every accepted connection: ``uvicorn --workers N`` loses it (uvicorn#3149) and
  every keep-alive response then waits ~40 ms for a delayed ACK; set here whatever the event
  loop or however the socket reached the worker.
- Read deadlines (uvicorn has none, uvicorn#157; its keep-alive timeout only covers the idle time
  between requests and is reset by every byte): a request's headers must arrive within
  ``header_timeout_s`` of the connection opening (or of the request's first byte on a kept-alive
  connection), its body within ``body_timeout_s`` after them. Late: 408 and the connection closes.
  An idle new connection that sent nothing is closed without an answer.
- A cap on the size of a request's headers, ``MAX_HEADER_BYTES``: more is 431 and closed
  (httptools has none, so within the header timeout a fast client could send gigabytes).
- A cap on open connections per worker: the connection past ``max_connections`` gets 503 and is
  closed at once (uvicorn's ``limit_concurrency`` only answers once a request's headers arrive,
  so connections that never finish them were not counted against anything).
- Its errors in the app's form, ``{"error": ...}`` as JSON, where uvicorn writes ``text/plain``:
  the 400 for bytes that are not HTTP, and the 408s, the 431 and the 503 above.

httptools only (the serve extra installs it): uvicorn's h11 protocol has other hooks.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from http import HTTPStatus
from typing import Any

from .options import ServeOptions
from .schemas import error_body

__all__ = ["MAX_HEADER_BYTES", "http_protocol", "raw_error"]

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 64 * 1024  # a request line and headers; browsers send a few KiB


def raw_error(status: int, reason: str) -> bytes:
    """A whole HTTP/1.1 response ``{"error": reason}`` that closes the connection."""
    body = error_body(reason)
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def http_protocol(options: ServeOptions) -> type:
    """uvicorn's httptools protocol class with the additions above, for ``uvicorn.Config(http=...)``."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    header_timeout, body_timeout = options.header_timeout_s, options.body_timeout_s
    cap = options.max_connections

    class Protocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None
        _started = False  # a byte of the current request has arrived
        _header_bytes = -1  # bytes received while its headers were incomplete; -1: not in its headers

        def connection_made(self, transport: Any) -> None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().connection_made(transport)  # counted in self.connections from here on
            if len(self.connections) > cap:
                log.warning("refused a connection: %d open, the limit is %d", len(self.connections) - 1, cap)
                self._refuse(503, f"the server has {cap} open connections, its limit; try again later")
                return
            self._arm(header_timeout, self._headers_late)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._header_bytes >= 0 and not self.transport.is_closing():  # still in the headers
                self._header_bytes += len(data)
                if self._header_bytes > MAX_HEADER_BYTES:
                    self._refuse(431, f"request headers are over the limit of {MAX_HEADER_BYTES} bytes")

        def send_400_response(self, msg: str) -> None:  # bytes that httptools cannot parse
            self._refuse(400, "the request is not valid HTTP/1.1")

        # httptools' parser callbacks: a request begins, its headers end, it ends
        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._started = True
            self._header_bytes = 0
            if self._deadline is None:  # a new connection's deadline runs from its opening
                self._arm(header_timeout, self._headers_late)

        def on_headers_complete(self) -> None:
            self._disarm()
            self._header_bytes = -1
            super().on_headers_complete()  # starts the app, or queues the request behind the one running
            cycle = self.cycle
            if cycle is not None and not any(queued is cycle for queued, _ in self.pipeline):
                self._arm(body_timeout, lambda: self._body_late(cycle))

        def on_message_complete(self) -> None:
            self._disarm()
            self._started = False
            super().on_message_complete()

        def on_response_complete(self) -> None:
            # A queued (pipelined) request starts now; uvicorn stopped reading while it waited,
            # so its body deadline starts now too.
            starting = self.pipeline[-1][0] if self.pipeline else None
            super().on_response_complete()
            if starting is not None and starting.more_body and not self.transport.is_closing():
                self._arm(body_timeout, lambda: self._body_late(starting))

        def _arm(self, seconds: float, late: Any) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, late)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _refuse(self, status: int, reason: str) -> None:
            """Answer ``status`` and close, or, while an earlier (pipelined) request is still being
            answered, read no more and close after that answer: never an answer inside another."""
            self._disarm()
            if self.transport.is_closing():
                return
            earlier = self.cycle
            if earlier is not None and not earlier.response_complete and not earlier.disconnected:
                earlier.keep_alive = False
                self.flow.pause_reading()
                return
            self.transport.write(raw_error(status, reason))
            self.transport.close()

        def _headers_late(self) -> None:
            self._deadline = None
            if not self._started:  # nothing sent: an idle connection, closed quietly
                self.transport.close()
                return
            self._refuse(408, f"request headers not received within {header_timeout:g} s")

        def _body_late(self, cycle: Any) -> None:
            self._deadline = None
            if cycle.response_started:  # answered without waiting for its body: just close
                self.transport.close()
                return
            # The app is waiting for the body: it now reads a disconnect, and what it sends is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
            self._refuse(408, f"request body not received within {body_timeout:g} s")

    return Protocol
