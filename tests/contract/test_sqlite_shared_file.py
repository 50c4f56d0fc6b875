"""Two SQLite stores on one file behave like two server processes: writers wait for each other's
write lock, and a read always sees what the other committed before the read was asked for."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from fhir_server.search.extract import index_resource
from fhir_server.store.base import VersionConflict, in_transaction
from fhir_server.store.sqlite.store import SqliteStore


async def _two(tmp_path: Path) -> tuple[SqliteStore, SqliteStore]:
    a = SqliteStore(str(tmp_path / "fhir.db"), index_resource, "NORMAL")
    b = SqliteStore(str(tmp_path / "fhir.db"), index_resource, "NORMAL")
    await a.open()
    await b.open()
    return a, b


async def test_reads_see_the_other_process_commits(tmp_path: Path) -> None:
    a, b = await _two(tmp_path)
    try:
        assert await b.read("Patient", "p") is None  # b now holds a snapshot for this iteration
        async with a.transaction() as uow:
            await uow.write("Patient", "p", {"resourceType": "Patient"}, method="PUT")
        await asyncio.sleep(0)  # the reply to the writer goes out in a later loop iteration
        seen = await b.read("Patient", "p")
        assert seen is not None and seen.version == 1
    finally:
        await a.close()
        await b.close()


async def test_writers_in_two_processes_wait_for_each_other(tmp_path: Path) -> None:
    a, b = await _two(tmp_path)
    async with a.transaction() as uow:
        await uow.write("Patient", "hot", {"resourceType": "Patient", "name": []}, method="PUT")

    async def writer(store: SqliteStore, n: int) -> int:
        while True:
            await asyncio.sleep(0)
            current = await store.read("Patient", "hot")
            assert current and current.content
            body = orjson.loads(current.content)
            body["name"].append({"family": f"w{n}"})

            async def work(uow, body=body, v=current.version):  # type: ignore[no-untyped-def]
                return await uow.write("Patient", "hot", body, method="PUT", if_match=v)

            try:
                return (await in_transaction(store, work))[0].version
            except VersionConflict:
                continue

    try:
        versions = await asyncio.gather(*(writer(a if n % 2 else b, n) for n in range(12)))
        assert sorted(versions) == list(range(2, 14))
        await asyncio.sleep(0)
        final = await a.read("Patient", "hot")
        assert final is not None and final.content is not None
        names = sorted(n["family"] for n in orjson.loads(final.content)["name"])
        assert names == sorted(f"w{n}" for n in range(12))
    finally:
        await a.close()
        await b.close()


async def _put(store: SqliteStore, rid: str, body: dict[str, object]) -> int:
    async def work(uow):  # type: ignore[no-untyped-def]
        return await uow.write("Patient", rid, {"resourceType": "Patient", **body}, method="PUT")

    return (await in_transaction(store, work))[0].version


async def test_a_kept_current_version_is_dropped_when_another_process_writes(
    tmp_path: Path,
) -> None:
    """Reads by id are answered from the versions a process keeps until any process commits
    (``PRAGMA data_version``): an update or a delete elsewhere is seen by the next read."""
    a, b = await _two(tmp_path)
    try:
        await _put(a, "k", {"active": True})
        await asyncio.sleep(0)
        first = await b.read("Patient", "k")
        assert first is not None and first.version == 1
        await asyncio.sleep(0)
        assert await b.read("Patient", "k") is first  # kept: no query
        assert await _put(a, "k", {"active": False}) == 2
        await asyncio.sleep(0)
        second = await b.read("Patient", "k")
        assert second is not None and second.version == 2
        assert orjson.loads(second.content or b"{}")["active"] is False
        async with a.transaction() as uow:
            await uow.delete("Patient", "k")
        await asyncio.sleep(0)
        gone = await b.read("Patient", "k")
        assert gone is not None and gone.deleted and gone.version == 3
    finally:
        await a.close()
        await b.close()


async def test_a_process_sees_its_own_write_at_once(tmp_path: Path) -> None:
    a, b = await _two(tmp_path)
    try:
        await _put(a, "own", {"active": True})
        assert (await a.read("Patient", "own")).version == 1  # type: ignore[union-attr]
        await _put(a, "own", {"active": False})
        assert (await a.read("Patient", "own")).version == 2  # type: ignore[union-attr]
    finally:
        await a.close()
        await b.close()


async def test_keeping_nothing_reads_the_file_every_time(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "fhir.db"), index_resource, "NORMAL", kept=0)
    await store.open()
    try:
        await _put(store, "n", {})
        first = await store.read("Patient", "n")
        again = await store.read("Patient", "n")
        assert first == again and first is not again
    finally:
        await store.close()


async def test_a_write_lock_held_too_long_is_a_503(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Another process keeping the write lock beyond the wait: the client gets 503 transient
    with Retry-After, not a 500, and nothing is written."""
    import sqlite3

    import httpx

    from fhir_server.app import ServerApp
    from fhir_server.config import Settings
    from fhir_server.store.sqlite import unit_of_work

    monkeypatch.setattr(unit_of_work, "LOCK_WAIT_SECONDS", 0.05)
    db = tmp_path / "fhir.db"
    app = ServerApp(
        Settings(
            store_url=f"sqlite:///{db}", auth="off", required_profiles={}, install_conformance=False
        )
    )
    await app.startup()
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/fhir") as client:
            resp = await client.post("Patient", json={"resourceType": "Patient"})
            assert resp.status_code == 503
            assert resp.headers["retry-after"] == "1"
            assert resp.json()["issue"][0]["code"] == "transient"
            other.execute("ROLLBACK")
            assert (await client.get("Patient")).json().get("entry", []) == []
            assert (
                await client.post("Patient", json={"resourceType": "Patient"})
            ).status_code == 201
    finally:
        other.close()
        await app.shutdown()


async def test_what_is_kept_is_bounded_in_bytes_too(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from fhir_server.store.sqlite import read_cache

    monkeypatch.setattr(read_cache, "KEPT_BYTES", 300)
    store = SqliteStore(str(tmp_path / "fhir.db"), index_resource, "NORMAL")
    await store.open()
    try:
        for n in range(5):
            await _put(store, f"b{n}", {"name": [{"family": "x" * 100}]})
        await asyncio.sleep(0)
        for n in range(5):
            assert (await store.read("Patient", f"b{n}")) is not None
            assert store.current.bytes <= 300
        assert 0 < len(store.current) < 5
    finally:
        await store.close()


async def _audit(store: SqliteStore, rid: str) -> None:
    async def work(uow):  # type: ignore[no-untyped-def]
        event = {"resourceType": "AuditEvent", "action": "R", "recorded": "2026-12-03T10:00:00Z"}
        return await uow.write("AuditEvent", rid, event, method="POST", minted=True)

    await in_transaction(store, work)


async def test_a_new_audit_event_leaves_the_kept_versions_current(tmp_path: Path) -> None:
    """Every audited read commits an AuditEvent: a new AuditEvent changes no resource a
    process keeps, so it does not empty what is kept (any process's); any other write does —
    a relationship recorded without a resource written too."""
    a, b = await _two(tmp_path)
    try:
        await _put(a, "k", {"active": True})
        await asyncio.sleep(0)
        first = await b.read("Patient", "k")
        assert first is not None
        for store in (a, b):
            await _audit(store, f"e-{id(store)}")
            await asyncio.sleep(0)
            assert await b.read("Patient", "k") is first  # still kept: no query
        assert await _put(a, "k", {"active": False}) == 2
        await asyncio.sleep(0)
        second = await b.read("Patient", "k")
        assert second is not None and second.version == 2
        await asyncio.sleep(0)
        assert await b.read("Patient", "k") is second
        async with a.transaction() as uow:
            await uow.relate("k", "Organization/o", "patient-creator", "2026-12-03T10:00:00Z")
        await asyncio.sleep(0)
        assert await b.read("Patient", "k") is not second  # dropped: read again
    finally:
        await a.close()
        await b.close()
