"""Group commit in the SQLite store: single-resource units of work of one process that arrive
together share one COMMIT; each is answered only once that COMMIT is done, a failing one is
undone alone, and a failed COMMIT fails every unit of its batch."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fhir_server.search.extract import index_resource
from fhir_server.store.base import VersionConflict
from fhir_server.store.sqlite import group_commit
from fhir_server.store.sqlite.store import SqliteStore, SqliteUnitOfWork

UNITS = 12


@pytest.fixture
async def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = SqliteStore(str(tmp_path / "fhir.db"), index_resource, "FULL")
    await s.open()
    yield s
    await s.close()


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The transaction-control statements the units of work run, in order."""
    seen: list[str] = []
    original = SqliteUnitOfWork._execute

    def execute(self: SqliteUnitOfWork, sql: str) -> None:
        seen.append(sql)
        original(self, sql)

    monkeypatch.setattr(SqliteUnitOfWork, "_execute", execute)
    return seen


async def _create(store: SqliteStore, rid: str, if_match: int | None = None) -> int:
    async with store.transaction() as uow:
        stored, _ = await uow.write(
            "Patient", rid, {"resourceType": "Patient"}, method="PUT", if_match=if_match
        )
    return stored.version


async def test_concurrent_units_share_a_commit(store: SqliteStore, statements: list[str]) -> None:
    versions = await asyncio.gather(*(_create(store, f"g{n}") for n in range(UNITS)))
    assert versions == [1] * UNITS
    commits = statements.count("COMMIT")
    assert 1 <= commits < UNITS  # they really were batched
    assert statements.count("BEGIN IMMEDIATE") == commits
    for n in range(UNITS):  # every acknowledged unit is committed and visible
        found = await store.read("Patient", f"g{n}")
        assert found is not None and found.version == 1


async def test_a_failing_unit_is_undone_alone(store: SqliteStore, statements: list[str]) -> None:
    async def stale(n: int) -> int:
        return await _create(store, f"s{n}", if_match=9)  # no such version: refused

    tasks = [_create(store, f"ok{n}") if n % 3 else stale(n) for n in range(UNITS)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert statements.count("COMMIT") < UNITS
    for n, result in enumerate(results):
        if n % 3:
            assert result == 1
            assert (await store.read("Patient", f"ok{n}")) is not None
        else:
            assert isinstance(result, VersionConflict)
            assert (await store.read("Patient", f"s{n}")) is None


async def test_a_failed_commit_fails_every_unit_of_its_batch(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = SqliteUnitOfWork._execute
    failed: list[str] = []

    def execute(self: SqliteUnitOfWork, sql: str) -> None:
        if sql == "COMMIT" and not failed:
            failed.append(sql)
            raise OSError("disk full")
        original(self, sql)

    monkeypatch.setattr(SqliteUnitOfWork, "_execute", execute)
    results = await asyncio.gather(
        *(_create(store, f"f{n}") for n in range(UNITS)), return_exceptions=True
    )
    lost = [n for n, r in enumerate(results) if isinstance(r, OSError)]
    assert len(lost) >= 2  # the whole first batch, not only the unit that ran COMMIT
    for n, result in enumerate(results):
        found = await store.read("Patient", f"f{n}")
        if n in lost:
            assert found is None  # refused and not written
        else:
            assert result == 1 and found is not None
    assert await _create(store, "after") == 1  # the store goes on


async def test_a_unit_cancelled_while_waiting_does_not_strand_its_batch(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unit a batch was left open for is cancelled before it gets the lock: the units
    waiting for that batch's COMMIT are still committed and answered."""
    monkeypatch.setattr(group_commit, "BATCH_SECONDS", 60.0)
    first = asyncio.ensure_future(_create(store, "c1"))
    second = asyncio.ensure_future(_create(store, "c2"))
    await asyncio.sleep(0)  # c1 holds the lock, c2 waits for it
    await asyncio.sleep(0)
    second.cancel()
    assert await asyncio.wait_for(first, timeout=5) == 1
    assert (await store.read("Patient", "c1")) is not None
    assert await asyncio.wait_for(_create(store, "c3"), timeout=5) == 1


@pytest.mark.parametrize("seed", range(6))
async def test_cancelled_units_never_strand_the_others(store: SqliteStore, seed: int) -> None:
    """Units cancelled at any point (waiting for the lock, inside their work, waiting for
    their batch): every other unit is still committed and answered, and the store goes on."""
    import random

    rng = random.Random(seed)
    tasks = [asyncio.ensure_future(_create(store, f"x{n}")) for n in range(UNITS)]
    for _ in range(rng.randrange(1, 6)):
        await asyncio.sleep(0)
    doomed = set(rng.sample(range(UNITS), 4))
    for n in doomed:
        tasks[n].cancel()
    _done, pending = await asyncio.wait(tasks, timeout=5)
    assert not pending
    for n, task in enumerate(tasks):
        if not task.cancelled():
            assert task.result() == 1
            assert (await store.read("Patient", f"x{n}")) is not None
    assert await asyncio.wait_for(_create(store, "after"), timeout=5) == 1


async def test_a_unit_cancelled_while_it_waits_for_company_still_settles(
    store: SqliteStore,
) -> None:
    """A lone single-resource unit gives the loop one turn before its COMMIT, holding the
    lock; cancelled right then (a client gone), it still commits and lets go of the lock."""
    task = asyncio.ensure_future(_create(store, "lone"))
    await asyncio.sleep(0)  # the unit now waits one turn for others, holding the lock
    assert store.commits.lock.locked()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not store.commits.lock.locked()
    assert (await store.read("Patient", "lone")) is not None  # written, as the client may
    # not have heard: the same as a cancel during COMMIT
    assert await asyncio.wait_for(_create(store, "next"), timeout=5) == 1
