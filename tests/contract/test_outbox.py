"""The store's durable queues (`UnitOfWork.append_outbox`) and its journal of changes
(`Store.journal_changes`), on every backend: kept exactly when the unit of work commits,
numbered per queue without reuse, and numbered uniquely by concurrent appenders."""

from __future__ import annotations

import asyncio

import pytest

from fhir_server.store.base import CHANGES, Store, UnitOfWork, in_transaction


async def test_changes_of_watched_types_are_journalled_with_the_change(store: Store) -> None:
    store.journal_changes({"Patient"})
    async with store.transaction() as uow:
        await uow.write("Patient", "a", {"resourceType": "Patient"}, method="PUT")
        await uow.write("Observation", "o", {"resourceType": "Observation"}, method="PUT")
    with pytest.raises(RuntimeError):
        async with store.transaction() as uow:  # rolled back: journals nothing
            await uow.write("Patient", "b", {"resourceType": "Patient"}, method="PUT")
            raise RuntimeError("the transaction fails")
    async with store.transaction() as uow:
        await uow.write("Patient", "a", {"resourceType": "Patient", "active": True}, method="PUT")
        await uow.delete("Patient", "a")
    async with store.transaction() as uow:
        items = await uow.outbox_items(CHANGES, 0, 100)
    got = [(i["id"], i["version"], i["before"], i["deleted"]) for _, i in items]
    assert got == [("a", 1, 0, False), ("a", 2, 1, False), ("a", 3, 2, True)]
    assert [n for n, _ in items] == [1, 2, 3]
    assert (await store.outbox_heads())[CHANGES] == (3, 0)


async def test_queues_are_numbered_without_reuse_and_keep_a_mark(store: Store) -> None:
    async def append(uow: UnitOfWork) -> list[int]:
        return [await uow.append_outbox("q", {"i": i}) for i in range(3)]

    assert await in_transaction(store, append) == [1, 2, 3]
    async with store.transaction() as uow:
        assert await uow.trim_outbox("q", 2) == 2
        await uow.mark_outbox("q", 2)
    assert await in_transaction(store, append) == [4, 5, 6]
    async with store.transaction() as uow:
        assert [n for n, _ in await uow.outbox_items("q", 3, 10, until=5)] == [4, 5]
        assert await uow.outbox_state("q") == (6, 2)
    assert (await store.outbox_heads())["q"] == (6, 2)
    async with store.transaction() as uow:
        await uow.drop_outbox("q")
        assert await uow.outbox_state("q") == (0, 0)
    assert "q" not in await store.outbox_heads()


async def test_concurrent_appenders_get_distinct_numbers(store: Store) -> None:
    async def append(uow: UnitOfWork) -> int:
        n = await uow.append_outbox("race", {})
        await asyncio.sleep(0)  # let the others interleave
        return n

    numbers = await asyncio.gather(*(in_transaction(store, append, 50) for _ in range(10)))
    assert sorted(numbers) == list(range(1, 11))
