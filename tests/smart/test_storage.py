"""The auth record store: the same contract on the SQLite file and on MongoDB (stand-in)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from auth.storage import AuthStore, Claim
from auth.storage.mongo import MongoAuthStore
from auth.storage.sqlite import SqliteAuthStore
from tests.support.backends import BACKENDS, MONGODB_URI
from tests.support.mongo_standin import AsyncMongoStandIn


@pytest.fixture(params=BACKENDS)
async def records(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AuthStore]:
    """The auth records on each backend of the matrix (tests/support/backends.py)."""
    store: AuthStore
    client: Any = None
    database = f"fhir_test_{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        store = SqliteAuthStore(str(tmp_path / "fhir.db"))
    elif request.param == "mongo-standin":
        store = MongoAuthStore(AsyncMongoStandIn()[database])
    else:
        from pymongo import AsyncMongoClient

        client = AsyncMongoClient(MONGODB_URI)
        store = MongoAuthStore(client[database])
    await store.open()
    try:
        yield store
    finally:
        await store.close()
        if client is not None:
            await client.drop_database(database)
            await client.close()


async def test_put_get_delete(records: AuthStore) -> None:
    assert await records.get("client", "app") is None
    await records.put("client", "app", {"name": "Æblet"}, group="g")
    found = await records.get("client", "app")
    assert found is not None
    assert (found.key, found.doc, found.group, found.used) == ("app", {"name": "Æblet"}, "g", False)
    assert await records.get("user", "app") is None  # kinds are separate
    assert await records.delete("client", "app") is True
    assert await records.delete("client", "app") is False
    assert await records.get("client", "app") is None


async def test_expired_records_are_gone_for_readers_and_purged(records: AuthStore) -> None:
    past = time.time() - 1
    await records.put("code", "old", {}, expires=past)
    await records.put("code", "new", {}, expires=time.time() + 60)
    assert await records.get("code", "old") is None
    assert [r.key for r in await records.all("code")] == ["new"]
    assert await records.claim("code", "old") is None
    await records.purge()  # MongoDB's TTL index may have deleted it already
    assert await records.purge() == 0
    assert [r.key for r in await records.all("code")] == ["new"]


async def test_sqlite_purge_deletes_expired_rows(tmp_path: Path) -> None:
    records = SqliteAuthStore(str(tmp_path / "fhir.db"))
    await records.open()
    try:
        await records.put("code", "old", {}, expires=time.time() - 1)
        await records.put("code", "keep", {})
        assert await records.purge() == 1
        assert [r.key for r in await records.all("code")] == ["keep"]
    finally:
        await records.close()


async def test_add_refuses_a_live_record_but_replaces_an_expired_one(records: AuthStore) -> None:
    assert await records.add("jti", "c:1", {"n": 1}, expires=time.time() + 60) is True
    assert await records.add("jti", "c:1", {"n": 2}, expires=time.time() + 60) is False
    found = await records.get("jti", "c:1")
    assert found is not None and found.doc == {"n": 1}
    await records.put("jti", "c:2", {"n": 1}, expires=time.time() - 1)
    assert await records.add("jti", "c:2", {"n": 2}, expires=time.time() + 60) is True
    found = await records.get("jti", "c:2")
    assert found is not None and found.doc == {"n": 2}


async def test_concurrent_adds_of_one_key_let_exactly_one_win(records: AuthStore) -> None:
    results = await asyncio.gather(*(records.add("jti", "same", {"i": i}) for i in range(8)))
    assert sorted(results) == [False] * 7 + [True]


async def test_claim_marks_used_once(records: AuthStore) -> None:
    await records.put("code", "abc", {"client": "app"}, expires=time.time() + 60)
    first = await records.claim("code", "abc")
    assert first is not None and first[1] == Claim.FIRST and first[0].doc == {"client": "app"}
    again = await records.claim("code", "abc")
    assert again is not None and again[1] == Claim.SPENT and again[0].used is True
    assert await records.claim("code", "nope") is None


async def test_concurrent_claims_let_exactly_one_spend(records: AuthStore) -> None:
    await records.put("refresh", "r", {}, expires=time.time() + 60)
    outcomes = await asyncio.gather(*(records.claim("refresh", "r") for _ in range(6)))
    assert sorted(o[1] for o in outcomes if o) == [Claim.FIRST] + [Claim.SPENT] * 5


async def test_groups(records: AuthStore) -> None:
    await records.put("access", "j1", {}, group="grant-1")
    await records.put("access", "j2", {}, group="grant-1")
    await records.put("access", "j3", {}, group="grant-2")
    await records.put("refresh", "r1", {}, group="grant-1")
    assert sorted(r.key for r in await records.in_group("access", "grant-1")) == ["j1", "j2"]
    assert await records.in_group("access", "grant-3") == []


async def test_sqlite_records_share_the_fhir_file(tmp_path: Path) -> None:
    path = str(tmp_path / "fhir.db")
    one, two = SqliteAuthStore(path), SqliteAuthStore(path)
    await one.open()
    await two.open()
    try:
        await one.put("client", "app", {"x": 1})
        found = await two.get("client", "app")
        assert found is not None and found.doc == {"x": 1}
    finally:
        await one.close()
        await two.close()
