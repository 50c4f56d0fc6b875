"""The consent suite's servers: the real app with ``FHIR_AUTH=smart`` over real HTTP (ASGI), on
every store, holding the world of tests/consent/world.py written with a ``system/*.cruds``
token. `world` is built once per store for the read-only modules (their tests never write);
`fresh_world` once per test, for the tests that write. The audit suites use the authorization
suite's `server` (tests/auth/conftest.py) and read the AuditEvents from the store.

"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio

import auth.users
from auth.clients import Registration
from fhir_server.app import ServerApp
from fhir_server.config import Settings
from fhir_server.search.terms import SearchQuery
from tests.api.conftest import backend, make_client  # noqa: F401 (fixtures for the audit suites)
from tests.api.support import BASE
from tests.auth.conftest import Revocations, Server, TestKeys, bearer, server  # noqa: F401
from tests.consent.world import ADMIN, RESOURCES
from tests.smart.support import PASSWORD, REDIRECT
from tests.support.backends import BACKENDS, app_store

SMART_USERS = {  # username → fhirUser, for the patient picker
    "gp": "Practitioner/gp-doc",
    "other": "Practitioner/other-doc",
    "nurse": "PractitionerRole/nurse-role",
}


@asynccontextmanager
async def running(store_backend: str, tmp_path: Path) -> AsyncIterator[Server]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'fhir.db'}",
        auth="smart",
        required_profiles={},
        install_conformance=False,
    )
    revocations = Revocations()
    app = ServerApp(
        settings, app_store(store_backend), keys=TestKeys(), is_revoked=revocations.is_revoked
    )
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            bundle = {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [
                    {
                        "resource": r,
                        "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
                    }
                    for r in RESOURCES
                ],
            }
            resp = await client.post("", json=bundle, headers=bearer(ADMIN))
            assert resp.status_code == 200, resp.text[:2000]
            assert app.smart is not None
            await app.smart.clients.add(
                Registration("picker-app", "public", "Picker", redirect_uris=[REDIRECT])
            )
            saved, auth.users.SCRYPT_COST = auth.users.SCRYPT_COST, 2**10
            try:
                for username, fhir_user in SMART_USERS.items():
                    await app.smart.users.add(username, fhir_user, PASSWORD, username)
            finally:
                auth.users.SCRYPT_COST = saved
            yield Server(client, revocations, app)
    finally:
        await app.shutdown()


@pytest_asyncio.fixture(scope="package", loop_scope="package", params=BACKENDS)
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    async with running(str(request.param), tmp_path_factory.mktemp("consent")) as built:
        yield built


@pytest.fixture(params=BACKENDS)
async def fresh_world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Server]:
    async with running(str(request.param), tmp_path) as built:
        yield built


async def audit_events(on: Server) -> list[dict[str, Any]]:
    """Every AuditEvent in the store, oldest first (read from the store, not through a token;
    page by page: the package's shared world holds more than one page of them)."""
    query = SearchQuery("AuditEvent", count=5_000)
    events: list[dict[str, Any]] = []
    while True:
        page = await on.app.store.search(query)
        events += [orjson.loads(s.content or b"{}") for s in page.items]
        if page.next_cursor is None:
            return sorted(events, key=lambda e: (e["recorded"], e["id"]))
        query.after_id = page.next_cursor


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
