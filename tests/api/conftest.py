"""The API suite runs real HTTP through the ASGI app against every store: SQLite on a real file,
and the MongoDB store on the in-process MongoDB-API stand-in.

``client`` is an ``httpx.AsyncClient`` whose base is the FHIR base (``http://testserver/fhir``), so
tests write ``client.get("Patient/1")``. ``make_client(**settings)`` builds another one over a fresh
app with changed Settings (e.g. a small ``max_body_bytes``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from fhir_server.search.extract import index_resource
from fhir_server.store.base import Store
from tests.api.support import BASE

BACKENDS = ["sqlite", "mongo-standin"]

MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]


def _store(backend: str) -> Store | None:
    """None: the app builds its store from ``store_url`` (SQLite), as in production."""
    if backend == "sqlite":
        return None
    from fhir_server.store.mongo.store import MongoStore
    from tests.support.mongo_standin import AsyncMongoStandIn

    return MongoStore(AsyncMongoStandIn(), f"fhir_{uuid.uuid4().hex[:8]}", index_resource)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_client(backend: str, tmp_path: Path) -> AsyncIterator[MakeClient]:
    async with AsyncExitStack() as stack:

        async def make(**overrides: Any) -> httpx.AsyncClient:
            db = tmp_path / f"fhir-{uuid.uuid4().hex[:8]}.db"
            # the REST core's tests use minimal resources; profile tests ask for profiles
            overrides.setdefault("required_profiles", {})
            overrides.setdefault("install_conformance", False)
            overrides.setdefault("auth", "off")  # the auth suites (tests/auth) turn it on
            settings = Settings(store_url=f"sqlite:///{db}", **overrides)
            app = ServerApp(settings, store=_store(backend))
            await app.startup()
            stack.push_async_callback(app.shutdown)
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
            return await stack.enter_async_context(client)

        yield make


@pytest.fixture
async def client(make_client: MakeClient) -> httpx.AsyncClient:
    return await make_client()
