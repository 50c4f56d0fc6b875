"""The durable audit trail of reads: AuditEvents appended in batches, each request answered
only after its events are committed (docs/audit.md).

A request's `append` queues its events and waits; one drain task per store appends everything
queued in one unit of work to the store's deferred journal (`UnitOfWork.append_deferred`: one
compact row per event, its id given now; one SQLite transaction, whose COMMIT the group commit
may share with other writers; one MongoDB transaction), then wakes every request of the batch.
Requests arriving while a batch commits form the next one, so under load a commit carries the
events of many requests and a request waits for at most about two commits. The store turns the
journal into ordinary AuditEvents with their search index later, in big batches
(`Store.index_deferred`: the server's background indexer, and every read of AuditEvents first),
with the index `event_index` makes. Writes do not come here: their events join the write's own
unit of work (`auth.audit.access`), as stored AuditEvents.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
import weakref
from functools import partial
from typing import Any

from auth.audit.index import event_index
from fhir_server.store.base import Store, UnitOfWork, in_transaction


class AuditJournal:
    """The queue of one store's AuditEvents still to commit."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: list[tuple[list[dict[str, Any]], asyncio.Future[None]]] = []
        self._drain: asyncio.Task[None] | None = None

    async def append(self, events: list[dict[str, Any]]) -> None:
        """Return once ``events`` are committed; raise what the store raised if they could
        not be (the access must then not be answered)."""
        if not events:
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.append((events, done))
        if self._drain is None or self._drain.done():
            self._drain = loop.create_task(self._run())
        await asyncio.shield(done)  # a request that goes away still leaves its record

    async def _run(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            events = [event for group, _ in batch for event in group]
            try:
                await in_transaction(self.store, partial(_append_batch, events))
            except Exception as err:  # each waiting request answers the failure itself
                for _, done in batch:
                    if not done.done():
                        done.set_exception(err)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)


async def _append_batch(events: list[dict[str, Any]], uow: UnitOfWork) -> None:
    """A batch's events, journaled; its commit may sync off the event loop
    (`UnitOfWork.sync_off_loop`): the requests it answers wait for it anyway, the others need
    not."""
    uow.sync_off_loop = True
    for event in events:
        await uow.append_deferred("AuditEvent", event.get("id") or ordered_id(), event)


async def append_all(events: list[dict[str, Any]], uow: UnitOfWork) -> None:
    """Write ``events`` as new AuditEvents in ``uow`` (the journal's, or a write's own),
    their index made by `event_index` (what the store's indexer gives, most of it remembered)."""
    indexer = getattr(uow, "indexer", None)
    for event in events:
        await uow.write(
            "AuditEvent",
            event.get("id") or ordered_id(),
            dict(event),
            method="POST",
            minted=True,
            index=event_index(indexer, event),
        )


def ordered_id() -> str:
    """A new AuditEvent's id: a UUID laid out as version 7 (RFC 9562: 48 bits of Unix
    milliseconds, then random bits), so ids are increasing in time. Events are written at a
    read's pace; a random id put each one at a random place in the store's id indexes (the
    resource key, the version key), dirtying a page of each per event, where increasing ids
    append to the same few pages."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & (2**62 - 1)
    return str(uuid.UUID(int=value))


_JOURNALS: weakref.WeakKeyDictionary[Store, AuditJournal] = weakref.WeakKeyDictionary()


def journal_for(store: Store) -> AuditJournal:
    """The one journal of ``store`` in this process."""
    journal = _JOURNALS.get(store)
    if journal is None:
        journal = _JOURNALS[store] = AuditJournal(store)
        store.index_deferred_with("AuditEvent", event_index)
    return journal
