"""The server the fuzzers talk to, the invariant every answer must hold, and the figures.

`LiveServer` runs the real ASGI app (`ServerApp`) over a real SQLite file (or the MongoDB store on
the in-process stand-in) with the demo data set loaded, on an event loop of its own in a
background thread: hypothesis and schemathesis drive synchronous tests, and the app, its store
and its locks must stay on one loop for the whole run.

The invariant (`Harness.send`): no 5xx; every 4xx/5xx body is an OperationOutcome with at least
one issue that has a severity and a code; a refused write stores nothing (the newest entry of
the system history is the same before and after it).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson

from dataset.demo import demo_resources, load_demo
from fhir_server import fhir_xml
from fhir_server.app import ServerApp
from fhir_server.config import Settings
from fhir_server.errors import FhirError
from tests.support.backends import app_store

T = TypeVar("T")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BASE = "http://testserver"


class LiveServer:
    """The app with the demo set loaded, served on its own loop thread."""

    def __init__(self, directory: Path, backend: str = "sqlite", **overrides: Any) -> None:
        overrides.setdefault("auth", "off")  # the fuzzers probe the API, not the tokens
        self.settings = Settings(store_url=f"sqlite:///{directory}/fuzz.db", **overrides)
        self.backend = backend
        self.app = ServerApp(self.settings, store=app_store(backend))
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.client: httpx.AsyncClient | None = None
        self.demo: list[dict[str, Any]] = demo_resources()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        await self.app.startup()
        report = await load_demo(self.app.store, self.settings, self.app.services, progress=False)
        assert not report.failures, report.failures
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=BASE)

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    async def _stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()
        await self.app.shutdown()

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        headers: dict[str, Any] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        assert self.client is not None
        raw = {k: _header_bytes(v) for k, v in (headers or {}).items()}
        return self.run(
            self.client.request(method, url, params=params, headers=raw, content=content)
        )


def _header_bytes(value: str | bytes) -> bytes:
    """Header octets as a client would put them on the wire (latin-1, else UTF-8)."""
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


@dataclass
class Finding:
    """One broken invariant, with everything needed to replay it."""

    problem: str
    method: str
    url: str
    headers: dict[str, Any]
    body: bytes | None
    status: int
    answer: bytes
    known: str | None = None
    """The ISSUE-10 item that owns this defect (tolerated in the seeded run until it lands)."""

    def reproducer(self, limit: int = 600) -> str:
        body = (self.body or b"")[:limit]
        return (
            f"{self.problem}: {self.method} {self.url} headers={self.headers} "
            f"body={body!r}{'…' if self.body and len(self.body) > limit else ''} "
            f"→ {self.status} {self.answer[:300]!r}"
        )


@dataclass
class Figures:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def unknown(self) -> list[Finding]:
        return [f for f in self.findings if f.known is None]


def outcome_problem(status: int, content_type: str | None, body: bytes) -> str | None:
    """What is wrong with an answer, or None."""
    if status >= 500:
        return f"server error {status}"
    if status < 400:
        return None
    if content_type and "xml" in content_type:  # asked for in XML (Accept, _format)
        try:
            doc = fhir_xml.parse(body)
        except FhirError:
            return f"error {status} body is not FHIR XML"
    elif not content_type or "json" not in content_type:
        return f"error {status} is not JSON but {content_type!r}"
    else:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            return f"error {status} body is not JSON"
    if not isinstance(doc, dict) or doc.get("resourceType") != "OperationOutcome":
        return f"error {status} body is not an OperationOutcome"
    issues = doc.get("issue")
    if not isinstance(issues, list) or not issues:
        return f"error {status} OperationOutcome has no issue"
    for issue in issues:
        if not (
            isinstance(issue, dict)
            and isinstance(issue.get("severity"), str)
            and isinstance(issue.get("code"), str)
        ):
            return f"error {status} OperationOutcome issue without severity and code"
    return None


class TimeUp(Exception):
    """The long run's time is over."""


class Harness:
    """Sends requests to a `LiveServer`, checks each answer and counts."""

    def __init__(self, server: LiveServer, known: Any = None, fail_fast: bool = True) -> None:
        self.server = server
        self.figures = Figures()
        self.known = known
        """(method, url, headers, body, status, answer) → the owning item of a known defect."""
        self.fail_fast = fail_fast
        self.cache: dict[str, Any] = {}
        """What a fuzzer builds once per server (schemathesis' strategies)."""
        self.stop_at: float | None = None
        """`time.monotonic()` after which `send` raises `TimeUp` (the long run's clock)."""

    def fingerprint(self) -> bytes:
        """The newest version in the store (any write adds one, deletes included)."""
        resp = self.server.request("GET", "/fhir/_history", params={"_count": "1"})
        assert resp.status_code == 200, resp.text
        entries = orjson.loads(resp.content).get("entry", [])
        if not entries:
            return b""
        entry = entries[0]
        return orjson.dumps([entry.get("fullUrl"), entry.get("response", {}).get("etag")])

    def send(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        headers: dict[str, Any] | None = None,
        body: bytes | None = None,
    ) -> httpx.Response:
        if self.stop_at is not None and time.monotonic() > self.stop_at:
            raise TimeUp
        headers = headers or {}
        before = self.fingerprint() if method in WRITES else None
        resp = self.server.request(method, url, params=params, headers=headers, content=body)
        self.figures.requests += 1
        self.figures.statuses[resp.status_code] += 1
        full_url = str(resp.request.url)
        problem = outcome_problem(resp.status_code, resp.headers.get("content-type"), resp.content)
        refused = before is not None and resp.status_code >= 400
        if problem is None and refused and self.fingerprint() != before:
            problem = f"refused write ({resp.status_code}) stored something"
        if problem is not None:
            finding = Finding(
                problem, method, full_url, dict(headers), body, resp.status_code, resp.content
            )
            if self.known is not None:
                finding.known = self.known(finding)
            self.figures.findings.append(finding)
            if self.fail_fast and finding.known is None:
                raise AssertionError(finding.reproducer())
        return resp
