"""The access log: one JSON line per request on standard error (``FHIR_ACCESS_LOG=json``, the
default), or none (``off``).

A line holds what an operator needs and nothing a log must not keep::

    {"at":"2026-12-03T15:40:12Z","method":"GET","path":"/fhir/Patient/123","status":200,
     "ms":1.42,"client":"demo-writer"}

the method, the path (with the ids in it), the status, the duration and the client id the
request's access token names — never the query string (search values such as a CPR number),
headers, bodies or tokens. ``status`` 499 (as nginx names it): the client went away before
an answer was sent.

uvicorn's own access log is switched off (``fhir-server serve``): it writes the whole request
line, query values included, and formatting it through ``logging`` halved read throughput.
These lines are not ``logging`` records either: each is appended to a buffer that is written
once per turn of the event loop, a few microseconds per request (bench/, docs/performance.md).
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import IO, Any

import orjson

CLIENT_KEY = "fhir_server.client_id"
"""Where the FHIR API leaves the caller's client id in the ASGI scope for this log."""

DISCONNECTED = 499


class LineWriter:
    """Writes lines to a binary stream, batched per turn of the event loop."""

    def __init__(self, stream: IO[bytes] | None = None) -> None:
        self._stream = stream
        self._lines: list[bytes] = []

    def write(self, line: bytes) -> None:
        self._lines.append(line)
        if len(self._lines) == 1:
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        lines, self._lines = self._lines, []
        if not lines:
            return
        stream = self._stream or getattr(sys.stderr, "buffer", None)
        try:
            if stream is None:  # a text-only stderr (a test's capture)
                sys.stderr.write(b"".join(lines).decode())
                sys.stderr.flush()
            else:
                stream.write(b"".join(lines))
                stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr loses log lines, not requests
            pass


class _Clock:
    """The ``at`` of a line: UTC to the second, formatted once per second."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self, epoch: float) -> str:
        second = int(epoch)
        if second != self._second:
            self._second = second
            self._text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
        return self._text


class AccessLog:
    """Wraps an ASGI app: one line per HTTP request once it is answered."""

    def __init__(self, app: Any, writer: LineWriter | None = None) -> None:
        self.app = app
        self.writer = writer or LineWriter()
        self._clock = _Clock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.time()
        status = DISCONNECTED

        async def send_noting_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            ended = time.time()
            line = {
                "at": self._clock.now(ended),
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "ms": round((ended - started) * 1000, 2),
                "client": scope.get(CLIENT_KEY),
            }
            self.writer.write(orjson.dumps(line) + b"\n")
