"""Prometheus metrics at ``/metrics`` (``FHIR_METRICS=true``; off by default).

Off, nothing here runs: the application is not wrapped, so the default configuration pays
nothing. On, every HTTP request is counted by its FHIR interaction and status and timed by its
interaction — labels from a fixed, small vocabulary (`interaction_of`), never ids, types a
client made up, query values or client ids, so no label carries personal data and their number
stays bounded. Queue depths (the store's deferred journal, the MedCom outbox, and whatever
else the bootstrap registers in `Metrics.queues`) are measured when scraped.

Each server process counts its own requests (with ``WORKERS`` > 1 a scrape reaches one of
them); the queue depths are the store's, the same from every process.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from fhir_server.resource_types import SERVED_TYPES

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
Depth = Callable[[], Awaitable[int]]
"""How many items wait in one queue, asked when ``/metrics`` is scraped."""

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def interaction_of(method: str, path: str, prefix: str = "/fhir") -> str:
    """The FHIR interaction an HTTP request asks for, from its method and path shape alone
    (``read``, ``search-type``, ``operation``, …; ``auth`` for the authorization server,
    ``service`` outside the FHIR base, ``other`` for what matches no FHIR route)."""
    if method == "OPTIONS":
        return "preflight"
    if path != prefix and not path.startswith(prefix + "/"):
        return "service"
    parts = [p for p in path[len(prefix) :].split("/") if p]
    if parts[:1] in (["auth"], [".well-known"]):
        return "auth"
    if method == "HEAD":
        method = "GET"
    if not parts:
        return {"GET": "search-system", "POST": "batch-transaction"}.get(method, "other")
    first, rest = parts[0], parts[1:]
    if first.startswith("$"):
        return "operation"
    if first == "metadata" and not rest:
        return "capabilities" if method == "GET" else "other"
    if first == "_history" and not rest:
        return "history-system" if method == "GET" else "other"
    if first not in SERVED_TYPES:
        return "other"
    if not rest:
        return _TYPE_LEVEL.get(method, "other")
    second = rest[0]
    if second == "_search" and len(rest) == 1:
        return "search-type" if method in ("GET", "POST") else "other"
    if second == "_history" and len(rest) == 1:
        return "history-type" if method == "GET" else "other"
    if second.startswith("$"):
        return "operation"
    if len(rest) == 1:
        return _INSTANCE_LEVEL.get(method, "other")
    if rest[1].startswith("$"):
        return "operation"
    if rest[1] == "_history" and method == "GET":
        return "history-instance" if len(rest) == 2 else "vread" if len(rest) == 3 else "other"
    return "other"


_TYPE_LEVEL = {
    "GET": "search-type",
    "POST": "create",
    "PUT": "conditional-update",
    "PATCH": "conditional-patch",
    "DELETE": "conditional-delete",
}
_INSTANCE_LEVEL = {"GET": "read", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class Metrics:
    """Wraps an ASGI app: counts and times each HTTP request; `exposition` is ``/metrics``."""

    def __init__(self, app: Any, queues: dict[str, Depth] | None = None) -> None:
        self.app = app
        self.queues: dict[str, Depth] = dict(queues or {})
        """Queue name → its depth: the bootstrap registers the store's deferred journal and
        the MedCom outbox; another queue (a subscription notification outbox) adds itself
        here under its own name."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "fhir_requests",
            "HTTP requests answered, by FHIR interaction and status code",
            ["interaction", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "fhir_request_duration_seconds",
            "Time to answer an HTTP request, by FHIR interaction",
            ["interaction"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.depth = Gauge(
            "fhir_queue_depth",
            "Items waiting in a queue when scraped (deferred_journal: reads' AuditEvents "
            "not yet indexed; medcom_outbox: messages not yet acknowledged or failed)",
            ["queue"],
            registry=self.registry,
        )

        self._series: dict[tuple[str, int], tuple[Any, Any]] = {}
        """Each label combination's counter and histogram, looked up once (``labels()`` takes
        a lock and builds a key on every call)."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 499  # the client went away before an answer (as the access log says)

        async def send_noting_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            elapsed = time.perf_counter() - started
            key = (interaction_of(scope["method"], scope["path"]), status)
            series = self._series.get(key)
            if series is None:  # a bounded set: each interaction with each status code
                interaction = key[0]
                series = self._series[key] = (
                    self.requests.labels(interaction, str(status)),
                    self.latency.labels(interaction),
                )
            series[0].inc()
            series[1].observe(elapsed)

    async def exposition(self) -> bytes:
        """The Prometheus text format, with each queue's depth measured now (a queue that
        cannot be measured is left out of this scrape and logged, not an error answer)."""
        for name, depth in self.queues.items():
            try:
                self.depth.labels(name).set(await depth())
            except Exception:
                log.exception("measuring the depth of queue %s failed", name)
                with contextlib.suppress(KeyError):  # never measured yet
                    self.depth.remove(name)
        return generate_latest(self.registry)
