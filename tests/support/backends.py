"""The one backend matrix every suite runs on: SQLite on a real file, the MongoDB store on the
in-process stand-in (tests/support/mongo_standin.py), and a real MongoDB when
``FHIR_TEST_MONGODB_URI`` is set (each store then gets a database of its own, dropped on close).

Suites parametrize their fixtures with `BACKENDS` (the ids are the backend names) and build the
store with `make_store`; a suite whose app opens SQLite from ``store_url`` itself (as in
production) asks `app_store`, which gives None for SQLite.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

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


Seed = Callable[[Store | None, str], Awaitable[None]]
"""Writes a test's starting data: given ``app_store``'s store and a ``store_url``, it starts an
app over them, writes, and shuts the app down (which closes the store)."""


class Templates:
    """Starting data written once per session and copied for each test that starts from it.

    Writing a suite's data set over HTTP for every test costs far more than the test (the auth
    suite: 14 authorized PUTs, each audited, before each of ~380 tests); a copy of the stored
    result is the same database a restarted server opens. SQLite: the file is copied; the
    stand-in: its documents (``_copy_of``). A real MongoDB is written afresh for each test.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: dict[tuple[str, str], Any] = {}

    async def copy(
        self, name: str, backend: str, tmp_path: Path, seed: Seed
    ) -> tuple[Store | None, str, bool]:
        """A store for a ``ServerApp`` of this test, ``(store, store_url, seeded)`` as
        ``app_store`` and a SQLite URL in ``tmp_path`` give them; ``seeded``: it holds what
        ``seed`` wrote (a real MongoDB's is new and empty: the test writes its data itself)."""
        url = f"sqlite:///{tmp_path / 'fhir.db'}"
        if backend not in ("sqlite", "mongo-standin"):
            return app_store(backend), url, False
        key = (name, backend)
        if key not in self._made:
            self._made[key] = await self._make(name, backend, seed)
        if backend == "sqlite":
            template: Path = self._made[key]
            for suffix in ("", "-wal", "-shm"):
                if template.with_name(template.name + suffix).exists():
                    shutil.copyfile(
                        template.with_name(template.name + suffix), tmp_path / f"fhir.db{suffix}"
                    )
            return None, url, True
        from fhir_server.store.mongo.store import MongoStore
        from tests.support.mongo_standin import AsyncMongoStandIn, _copy_of

        client = AsyncMongoStandIn()
        client._sync = _copy_of(self._made[key])
        return MongoStore(client, TEMPLATE_DATABASE, index_resource), url, True

    async def _make(self, name: str, backend: str, seed: Seed) -> Any:
        folder = self.root / f"{name}-{backend}"
        folder.mkdir(parents=True)
        path = folder / "fhir.db"
        if backend == "sqlite":
            await seed(None, f"sqlite:///{path}")
            return path
        from fhir_server.store.mongo.store import MongoStore
        from tests.support.mongo_standin import AsyncMongoStandIn

        client = AsyncMongoStandIn()
        await seed(MongoStore(client, TEMPLATE_DATABASE, index_resource), f"sqlite:///{path}")
        return client._sync


TEMPLATE_DATABASE = "fhir_template"
