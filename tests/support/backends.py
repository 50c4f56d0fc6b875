"""The one backend matrix every suite runs on: SQLite on a real file, the MongoDB store on the
in-process stand-in (tests/support/mongo_standin.py), and a real MongoDB when
``FHIR_TEST_MONGODB_URI`` is set (each store then gets a database of its own, dropped on close).

Suites parametrize their fixtures with `BACKENDS` (the ids are the backend names) and build the
store with `make_store`; a suite whose app opens SQLite from ``store_url`` itself (as in
production) asks `app_store`, which gives None for SQLite.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from fhir_server.search.extract import index_resource
from fhir_server.store.base import Store

MONGODB_URI = os.environ.get("FHIR_TEST_MONGODB_URI")

BACKENDS = ["sqlite", "mongo-standin", *(["mongodb"] if MONGODB_URI else [])]


def make_store(
    backend: str, tmp_path: Path | None = None, snapshot_isolation: bool = False
) -> Store:
    """A new, unopened store of ``backend`` (SQLite: a new file in ``tmp_path``).
    ``snapshot_isolation``: the stand-in runs
    transactions concurrently and reports write conflicts as a replica set does (for races; it
    copies every collection per transaction, so only for small data); a real MongoDB always
    does."""
    if backend == "sqlite" and tmp_path is not None:
        from fhir_server.store.sqlite.store import SqliteStore

        return SqliteStore(str(tmp_path / f"fhir-{uuid.uuid4().hex[:8]}.db"), index_resource)
    from fhir_server.store.mongo.store import MongoStore

    if backend == "mongo-standin":
        from tests.support.mongo_standin import AsyncMongoStandIn

        client = AsyncMongoStandIn(snapshot_isolation=snapshot_isolation)
        return MongoStore(client, f"fhir_{uuid.uuid4().hex[:8]}", index_resource)
    if backend == "mongodb" and MONGODB_URI:
        from pymongo import AsyncMongoClient

        database = f"fhir_test_{uuid.uuid4().hex[:8]}"
        return MongoStore(
            AsyncMongoClient(MONGODB_URI), database, index_resource, drop_on_close=True
        )
    raise ValueError(f"unknown test backend {backend!r}")


def app_store(backend: str) -> Store | None:
    """The store to hand to ``ServerApp``: None for SQLite (the app opens ``store_url``)."""
    return None if backend == "sqlite" else make_store(backend)
