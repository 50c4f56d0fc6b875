"""The store's deferred journal (`UnitOfWork.append_deferred`, `Store.index_deferred`): what is
appended is durable at once, stored exactly once later, and visible to every read before that
(the read drains first). A crash while indexing (a real SIGKILL of a process on the same SQLite
file, or a failure at the crash point on either store) neither loses nor duplicates a resource;
two stores on one SQLite file (as two server processes) or two concurrent takers on MongoDB
store each resource once. Both stores."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from fhir_server.search.extract import index_resource
from fhir_server.search.terms import Filter, Include, ReferenceValue, SearchQuery
from fhir_server.store.base import (
    HistoryQuery,
    RetryableConflict,
    Store,
    UnitOfWork,
    in_transaction,
)
from fhir_server.store.deferred import index_all
from fhir_server.store.mongo.store import MongoStore
from fhir_server.store.sqlite.store import SqliteStore
from tests.support.backends import BACKENDS, make_store

N = 120


def _event(i: int) -> dict[str, Any]:
    return {
        "resourceType": "AuditEvent",
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
        "action": "R",
        "recorded": "2026-01-01T00:00:00Z",
        "outcome": "0",
        "agent": [{"requestor": True, "who": {"identifier": {"value": f"user{i % 3}"}}}],
        "source": {"observer": {"display": "server"}},
        "entity": [{"what": {"reference": f"Patient/p{i % 5}"}}],
    }


async def _journal(store: Store, ids: range) -> None:
    async def append(uow: UnitOfWork) -> None:
        for i in ids:
            await uow.append_deferred("AuditEvent", f"e{i}", _event(i))

    await in_transaction(store, append)


async def _stored_ids(store: Store) -> list[str]:
    page = await store.search(SearchQuery("AuditEvent", count=10_000))
    return sorted(s.id for s in page.items)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    made = make_store(str(request.param), tmp_path, snapshot_isolation=True)
    await made.open()
    try:
        yield made
    finally:
        await made.close()


async def test_every_read_sees_journaled_resources_each_stored_once(store: Store) -> None:
    await _journal(store, range(N))
    assert await store.has_deferred(("AuditEvent",))
    assert not await store.has_deferred(("Patient",))
    # a search of the type drains the journal first: exact, and each resource once
    assert await _stored_ids(store) == sorted(f"e{i}" for i in range(N))
    assert not await store.has_deferred(None)
    found = await store.read("AuditEvent", "e7")
    assert found is not None and found.version == 1
    assert orjson.loads(found.content or b"{}")["agent"][0]["who"]["identifier"]["value"] == "user1"
    entity = Filter("entity", "reference", (ReferenceValue("Patient", "p2"),))
    query = SearchQuery("AuditEvent", [entity], count=1000)
    assert len((await store.search(query)).items) == N // 5  # indexed like any write


@pytest.mark.parametrize("read", ["read", "vread", "history", "count", "include"])
async def test_each_kind_of_read_drains_first(store: Store, read: str) -> None:
    await _journal(store, range(3))
    if read == "read":
        assert await store.read("AuditEvent", "e1") is not None
    elif read == "vread":
        assert await store.vread("AuditEvent", "e2", 1) is not None
    elif read == "history":
        page = await store.history(HistoryQuery())
        assert sorted(s.id for s in page.items) == ["e0", "e1", "e2"]
    elif read == "count":
        assert await store.count(SearchQuery("AuditEvent")) == 3
    else:  # a search of another type that includes: its targets may be journaled
        query = SearchQuery("Patient", revincludes=[Include("AuditEvent", "entity")])
        await store.search(query)
    assert not await store.has_deferred(("AuditEvent",))


async def test_a_reads_of_other_types_leave_the_journal_alone(store: Store) -> None:
    await _journal(store, range(3))
    assert await store.read("Patient", "nobody") is None
    await store.search(SearchQuery("Patient"))
    assert await store.has_deferred(("AuditEvent",))


async def test_a_crash_while_indexing_loses_and_duplicates_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crash point: every resource of the batch written, the commit not reached."""
    await _journal(store, range(N))
    real_write = UnitOfWork.write
    calls = 0

    async def dying_write(self: UnitOfWork, *args: Any, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == N:
            raise SystemExit("killed")
        return await real_write(self, *args, **kw)

    monkeypatch.setattr(UnitOfWork, "write", dying_write)
    with pytest.raises(SystemExit):
        await store.index_deferred(limit=N)
    monkeypatch.setattr(UnitOfWork, "write", real_write)
    assert await store.has_deferred(("AuditEvent",))
    assert await index_all(store) == N
    assert await _stored_ids(store) == sorted(f"e{i}" for i in range(N))


async def test_concurrent_indexers_store_each_resource_once(store: Store, tmp_path: Path) -> None:
    """On SQLite a second store on the same file, as a second server process; on MongoDB two
    takers of the same documents (their deletes conflict, one retries)."""
    other: Store
    if isinstance(store, SqliteStore):
        other = SqliteStore(store.path, index_resource)
        await other.open()
    else:
        assert isinstance(store, MongoStore)
        other = MongoStore(store.client, store.database, index_resource)
    try:
        await _journal(store, range(N))
        await asyncio.gather(
            *(_index_some(s) for s in (store, other, store, other) for _ in range(4))
        )
        await index_all(other)
        assert await _stored_ids(store) == sorted(f"e{i}" for i in range(N))
    finally:
        if isinstance(other, SqliteStore):
            await other.close()


async def _index_some(store: Store) -> None:
    """As the background indexer does: a batch that keeps losing the race is tried later."""
    with contextlib.suppress(RetryableConflict):
        await store.index_deferred(limit=17)


_CHILD = """
import asyncio, os, signal, sys
from fhir_server.search.extract import index_resource
from fhir_server.store.base import in_transaction
from fhir_server.store.mongo.store import MongoStore
from fhir_server.store.sqlite.store import SqliteStore
from fhir_server.store.sqlite.unit_of_work import SqliteUnitOfWork
from tests.system.test_deferred_journal import N, _journal

async def main(path):
    store = SqliteStore(path, index_resource)
    await store.open()
    await _journal(store, range(N))
    flush = SqliteUnitOfWork._flush
    def flush_and_die(self):
        flush(self)  # the batch's versions and index rows are in the open transaction
        os.kill(os.getpid(), signal.SIGKILL)
    SqliteUnitOfWork._flush = flush_and_die
    await store.index_deferred(limit=N)

asyncio.run(main(sys.argv[1]))
"""


async def test_sigkill_while_indexing_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "killed.db")
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run([sys.executable, "-c", _CHILD, path], cwd=root, timeout=120)
    assert child.returncode == -9  # killed at the crash point, not finished
    store = SqliteStore(path, index_resource)
    await store.open()
    try:
        assert await store.has_deferred(("AuditEvent",))
        assert await store.last_written(["AuditEvent"]) == (None,)  # nothing stored half-way
        assert await _stored_ids(store) == sorted(f"e{i}" for i in range(N))
        assert not await store.has_deferred(None)
    finally:
        await store.close()


async def test_the_depth_counts_what_waits_until_it_is_indexed(store: Store) -> None:
    """What ``/metrics`` reports as ``fhir_queue_depth{queue="deferred_journal"}``."""
    assert await store.deferred_depth() == 0
    await _journal(store, range(7))
    assert await store.deferred_depth() == 7
    await index_all(store)
    assert await store.deferred_depth() == 0


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_read_while_this_process_indexes_a_batch_sees_the_batch(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The background indexer has taken a batch out of the journal and not yet committed it: a
    read of the type must wait for that batch, not answer without it (the stand-in's serial
    transactions show the taking at once; the consent suite's audit tests missed events)."""
    from fhir_server.store import base

    store = make_store(backend, tmp_path)
    await store.open()
    try:
        await _journal(store, range(10))
        taken = asyncio.Event()
        real = base._index_deferred_batch

        async def slow(on: Store, limit: int, uow: UnitOfWork) -> int:
            take = uow.take_deferred

            async def take_then_pause(n: int) -> Any:
                items = await take(n)
                taken.set()
                await asyncio.sleep(0.05)
                return items

            uow.take_deferred = take_then_pause  # type: ignore[method-assign]
            return await real(on, limit, uow)

        monkeypatch.setattr(base, "_index_deferred_batch", slow)
        indexing = asyncio.ensure_future(store.index_deferred())
        await taken.wait()
        assert await _stored_ids(store) == sorted(f"e{i}" for i in range(10))
        assert await indexing == 10
    finally:
        await store.close()
