"""The storage contract runs against every backend: SQLite (a real file), the MongoDB store on the
in-process MongoDB-API stand-in (in its snapshot-isolation mode, so races can happen), and a real
MongoDB when FHIR_TEST_MONGODB_URI is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from fhir_server.search.extract import index_resource
from fhir_server.store.base import Store

BACKENDS = ["sqlite", "mongo-standin"]
if os.environ.get("FHIR_TEST_MONGODB_URI"):
    BACKENDS.append("mongodb")


async def make_backend(name: str, tmp_path) -> Store:  # type: ignore[no-untyped-def]
    if name == "sqlite":
        from fhir_server.store.sqlite.store import SqliteStore

        return SqliteStore(str(tmp_path / "fhir.db"), index_resource)
    from fhir_server.store.mongo.store import MongoStore

    if name == "mongo-standin":
        from tests.support.mongo_standin import AsyncMongoStandIn

        # snapshot isolation: transactions run concurrently and conflict as on a replica set
        client = AsyncMongoStandIn(snapshot_isolation=True)
        return MongoStore(client, f"fhir_{uuid.uuid4().hex[:8]}", index_resource)
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient = AsyncMongoClient(os.environ["FHIR_TEST_MONGODB_URI"])
    name = f"fhir_test_{uuid.uuid4().hex[:8]}"
    return MongoStore(client, name, index_resource, drop_on_close=True)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Store]:  # type: ignore[no-untyped-def]
    backend = await make_backend(request.param, tmp_path)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()
