"""The consent and audit suites run on the authorization suite's app (tests/auth/conftest.py):
``FHIR_AUTH=smart``, real RS256 JWTs (`mint`), every store, seeded with `DATA`."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from fhir_server.search.model import SearchQuery
from tests.api.conftest import backend, make_client  # noqa: F401 (fixtures)
from tests.auth.conftest import Server, server  # noqa: F401 (the fixture)


async def audit_events(on: Server) -> list[dict[str, Any]]:
    """Every AuditEvent in the store, oldest first (read from the store, not through a token)."""
    page = await on.app.store.search(SearchQuery("AuditEvent", count=10_000))
    events = [orjson.loads(s.content or b"{}") for s in page.items]
    return sorted(events, key=lambda e: (e["recorded"], e["id"]))


async def new_events(on: Server, before: list[dict[str, Any]]) -> list[dict[str, Any]]:
    known = {e["id"] for e in before}
    return [e for e in await audit_events(on) if e["id"] not in known]


def patients(event: dict[str, Any]) -> list[str]:
    """The patients an AuditEvent is about (entity role 1)."""
    return [
        e["what"]["reference"]
        for e in event.get("entity", [])
        if e.get("role", {}).get("code") == "1"
    ]


def query_of(event: dict[str, Any]) -> str | None:
    for e in event.get("entity", []):
        if e.get("role", {}).get("code") == "24":
            return base64.b64decode(e["query"]).decode()
    return None


def user_agent(event: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in event["agent"] if a.get("requestor"))
