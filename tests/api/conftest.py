"""The API suite runs real HTTP through the ASGI app against every store of the backend matrix
(tests/support/backends.py): SQLite on a real file, the MongoDB store on the in-process
MongoDB-API stand-in, and a real MongoDB when ``FHIR_TEST_MONGODB_URI`` is set.

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
from tests.api.support import BASE, serve
from tests.support.backends import BACKENDS, app_store

MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]


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
            app = ServerApp(settings, store=app_store(backend))
            await app.startup()
            stack.push_async_callback(app.shutdown)
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
            return serve(await stack.enter_async_context(client), app)

        yield make


@pytest.fixture
async def client(make_client: MakeClient) -> httpx.AsyncClient:
    return await make_client()
