"""One server per store, seeded once per session with `fixtures.ALL` (search is read-only).

Every async test in this folder runs in the session event loop (see
`pytest_collection_modifyitems`), so the seeded app and its client outlive a single test. The
``search`` fixture is parametrized over both stores, like the API suite.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from pytest_asyncio import is_async_test

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from tests.api.support import BASE
from tests.search.fixtures import ALL
from tests.search.support import Searcher
from tests.support.backends import BACKENDS, app_store

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    session_loop = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if is_async_test(item) and item.path.is_relative_to(HERE):
            item.add_marker(session_loop, append=False)


@dataclass
class Seeded:
    client: httpx.AsyncClient
    last_updated: dict[str, str]
    """``Type/id`` → meta.lastUpdated as the server stamped it."""


@pytest_asyncio.fixture(scope="session", loop_scope="session", params=BACKENDS)
async def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Seeded]:
    backend = str(request.param)
    db: Path = tmp_path_factory.mktemp("search") / f"fhir-{uuid.uuid4().hex[:8]}.db"
    # the seed is bulk data (as `fhir-server load` loads it: references not checked): it names
    # resources it never stores on purpose (a search must match a reference to anything)
    settings = Settings(
        store_url=f"sqlite:///{db}",
        validate_profiles=False,
        install_conformance=False,
        auth="off",
        referential_integrity=False,
    )
    app = ServerApp(settings, store=app_store(backend))  # search semantics only: no profiles
    await app.startup()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE
        ) as client:
            stamped = {}
            for resource in ALL:
                key = f"{resource['resourceType']}/{resource['id']}"
                resp = await client.put(key, json=resource)
                assert resp.status_code == 201, (key, resp.text)
                stamped[key] = resp.json()["meta"]["lastUpdated"]
            yield Seeded(client, stamped)
    finally:
        await app.shutdown()


@pytest.fixture
def search(seeded: Seeded) -> Searcher:
    return Searcher(seeded.client)
