"""The storage protocol every backend implements, and the bookkeeping written once on top.

A backend implements a handful of primitives; the unit of work (`transaction()`) is the only way to
write, so a single create and a 500-entry transaction Bundle are the same code path. Version checks
(If-Match, concurrent writers) happen inside the backend's transaction, never in Python memory.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import contextvars
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, Protocol, TypeVar

import orjson

from fhir_server import fhir_json
from fhir_server.care_relationships import SOURCE_TYPES, CareRelationship, relationships_of
from fhir_server.search.extract import with_last_updated
from fhir_server.search.terms import Index, SearchQuery
from fhir_server.stored import StoredResource, instant, now_us

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

Indexer = Callable[[str, dict[str, Any]], Index]

DeferredIndexer = Callable[[Indexer, dict[str, Any]], Index | None]
"""Makes a deferred resource's index from the store's indexer and the resource (None: let the
store extract it): what `Store.index_deferred_with` registers for a type."""

DEFERRED_BATCH = 100
"""Deferred resources indexed per unit of work (`Store.index_deferred`): big enough to share a
commit among many, small enough that the writers queued behind its write lock (the next audit
batch, whose reads wait for it) wait some tens of milliseconds, not a few hundred (measured
with 500: p99 of audited reads ~400 ms)."""
DEFERRED_ROUNDS = 1000
"""Batches a read drains at most before it answers (`Store.drain_deferred`): bounded, and far
more than appenders can add while it drains (indexing outpaces appending many times over)."""

_IN_UNIT: contextvars.ContextVar[bool] = contextvars.ContextVar("in_unit_of_work", default=False)
"""Set while a unit of work runs: its store reads must not drain (the drain's own unit of work
would wait for the lock this one holds)."""


CHANGES = "changes"
"""The outbox queue of journalled changes (`UnitOfWork.append_outbox`, `Store.journal_changes`):
``{type, id, version, before, deleted, ts}`` per change of a watched type, ``before`` the
version it replaced (0: none, or a deleted one)."""


class VersionConflict(Exception):
    """The expected version is not the current one (If-Match), or the resource must not exist."""

    def __init__(self, current: StoredResource | None) -> None:
        super().__init__("version conflict")
        self.current = current


class InvalidCursor(Exception):
    """A paging position the store cannot continue from (it belongs to another query)."""


class StoreBusy(Exception):
    """The store could not start a write in time (another process held its write lock)."""


class StoreUnusable(Exception):
    """The configured store cannot serve this server at all (a MongoDB that is not a replica
    set): the message says why and what to do; the server does not start."""


class RetryableConflict(Exception):
    """Two transactions touched the same data; the caller may retry the whole unit of work."""


class DuplicateId(RetryableConflict):
    """A first version of a resource that exists already: a concurrent writer chose the same
    id (retrying decides again), or a server-made id exists after all (a retry cannot help)."""


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    type: str | None = None
    id: str | None = None
    since: int | None = None
    """Only versions written at or after this timestamp (µs)."""
    at: tuple[int, int] | None = None
    """Only versions current at some point during [start, end) (µs)."""
    count: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[StoredResource]
    next_cursor: str | None
    """The position of the last item, when more rows follow it."""
    prev_cursor: str | None = None
    """The position of the first item, when rows precede it (search pages only)."""
    positions: list[str] | None = None
    """Each item's own position (history pages only): paging can go on after any of them, so
    a page the caller filters (what a token may not see) can be filled up exactly."""


def keyset_page(
    rows: list[T],
    query: SearchQuery,
    item: Callable[[T], StoredResource],
    position: Callable[[T], str],
) -> Page:
    """A search page from the store's ``count + 1`` rows, fetched in the query's order or, when
    paging backwards, in the reverse order (the extra row says whether more lie that way)."""
    more = len(rows) > query.count
    rows = rows[: query.count]
    if query.backward:
        rows.reverse()
    return edge_page(rows, item, position, more, query.after_id is not None, query.backward)


def edge_page(
    rows: list[T],
    item: Callable[[T], StoredResource],
    position: Callable[[T], str],
    more: bool,
    from_position: bool,
    backward: bool,
) -> Page:
    """A page of ``rows`` (in order) and its edges: in the direction fetched there are more
    rows when the store found ``more``; on the other side when the search started from a
    position (the page it came from), none when it started from an end."""
    if not rows:
        return Page([], None)
    after, before = (from_position, more) if backward else (more, from_position)
    return Page(
        [item(r) for r in rows],
        position(rows[-1]) if after else None,
        position(rows[0]) if before else None,
    )


def stamp(resource: dict[str, Any], rid: str, version: int, ts: int) -> bytes:
    """Set the server-owned id and meta, and serialize: the bytes stored are the bytes served
    (each number as the client wrote it)."""
    resource["id"] = rid
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = instant(ts)
    resource["meta"] = meta
    return fhir_json.dumps(resource)


@dataclass(frozen=True, slots=True)
class Referrer:
    """A current resource whose reference index names a target: `UnitOfWork.referrers`."""

    type: str
    id: str
    param: str
    """The parameter (of ``type``) whose reference names the target."""
    target: tuple[str, str]
    url: str
    """The reference as written when it is an absolute URL (whose base the caller judges), else
    ``''``."""


class UnitOfWork(abc.ABC):
    """One atomic set of reads and writes; rolled back unless committed."""

    sync_off_loop = False
    """Whether this unit's commit may wait for the disk off the event loop (SQLite: on the
    writer thread, while the loop serves other requests), at the price of a thread hand-over
    (up to the interpreter's switch interval) after it: for batches whose callers wait for the
    commit anyway (the audit journal). Backends that commit without blocking the loop ignore
    it."""

    _unit_token: contextvars.Token[bool] | None = None

    async def __aenter__(self) -> UnitOfWork:
        await self._begin()
        self._unit_token = _IN_UNIT.set(True)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._unit_token is not None:
            # left in another context than entered: nothing to undo there
            with contextlib.suppress(ValueError):
                _IN_UNIT.reset(self._unit_token)
            self._unit_token = None
        if et is None:
            await self._commit()
        else:
            await self._rollback()

    @abc.abstractmethod
    async def _begin(self) -> None: ...

    @abc.abstractmethod
    async def _commit(self) -> None: ...

    @abc.abstractmethod
    async def _rollback(self) -> None: ...

    @abc.abstractmethod
    async def read(self, type_: str, id_: str) -> StoredResource | None:
        """The current version, a tombstone included (``deleted=True``)."""

    @abc.abstractmethod
    async def search(self, query: SearchQuery) -> Page: ...

    @abc.abstractmethod
    async def reindex(
        self,
        current: StoredResource,
        index: Index | None,
        relationships: Sequence[CareRelationship] | None = None,
    ) -> None:
        """Replace the search index entries of a current version (``fhir-server reindex``)
        unless ``index`` is None, and the care relationships derived from it unless
        ``relationships`` is None (the recorded ones stay); nothing if ``current`` is no longer
        the current version (its successor was indexed when it was written)."""

    @abc.abstractmethod
    async def related_patients(self, holders: Sequence[str], at: str) -> set[str]:
        """The ids of the patients any of ``holders`` (``Organization/x``, …) has a care
        relationship with at instant ``at``, as this unit of work sees them (its own writes
        included). An index lookup per holder (docs/implementation/relationships.md)."""

    @abc.abstractmethod
    async def is_related(self, patient: str, holders: Sequence[str], at: str) -> bool:
        """Whether any of ``holders`` has a care relationship with Patient ``patient`` (an id)
        at instant ``at``."""

    @abc.abstractmethod
    async def relate(self, patient: str, holder: str, kind: str, start: str) -> None:
        """Record a care relationship the data does not show (the organization that created
        Patient ``patient``), from ``start`` on, in this unit of work: kept across updates of
        the Patient and reindexing, ended by its deletion. The Patient must be stored (in this
        unit of work, too); recording the same relationship twice keeps one."""

    @abc.abstractmethod
    async def lock(self, key: str) -> None:
        """Make concurrent units of work that lock the same key conflict (one of them retries).

        A conditional create decides on a search ("no match yet"); under snapshot isolation two
        writers could both decide so. Backends that serialize all writers (SQLite) need nothing.
        Callers lock the resource type a match searches (any two criteria texts may match the
        same resource), so conditional writes of one type are serialized by conflicts.
        """

    @abc.abstractmethod
    async def live(self, keys: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of ``keys`` (type, id) name a current, not deleted resource, as this unit of
        work sees them (its own writes included): one look-up for all of them (referential
        integrity, `fhir_server.interactions.integrity`)."""

    @abc.abstractmethod
    async def referrers(
        self, targets: Collection[tuple[str, str]], params: Sequence[tuple[str, str]], limit: int
    ) -> list[Referrer]:
        """Up to ``limit`` current, not deleted resources whose reference index, under one of
        ``params`` (source type, parameter name), names one of ``targets`` (type, id), as this
        unit of work sees them: the search index's reference entries, so current versions
        only (a past version references nothing)."""

    @abc.abstractmethod
    async def append_deferred(self, type_: str, id_: str, resource: dict[str, Any]) -> None:
        """Make ``resource`` (a new ``type_`` with id ``id_``, an id nobody else uses) durable in
        this unit of work as one compact row, to be stored and indexed later
        (`Store.index_deferred`) as if written then: an append-only journal, cheaper than a
        write by the whole search index. Every store read drains it before it answers
        (`Store.drain_deferred`), so readers never see the difference."""

    @abc.abstractmethod
    async def take_deferred(self, limit: int) -> list[tuple[str, str, dict[str, Any]]]:
        """Remove up to ``limit`` of the oldest deferred resources in this unit of work and return
        them (type, id, resource), oldest first. Concurrent units of work never both take one
        (SQLite: writers are serialized; MongoDB: the deletes conflict and one retries)."""

    @abc.abstractmethod
    async def append_outbox(self, queue: str, item: dict[str, Any]) -> int:
        """Append ``item`` to the durable queue ``queue`` in this unit of work (kept if and only
        if the unit commits) and return its number there: 1, 2, … in append order, never
        reused even after `trim_outbox` (subscription event numbers are these)."""

    @abc.abstractmethod
    async def outbox_items(
        self, queue: str, after: int, limit: int, until: int | None = None
    ) -> list[tuple[int, dict[str, Any]]]:
        """Up to ``limit`` items of ``queue`` numbered above ``after`` (and at most ``until``),
        in order; they stay (`trim_outbox` removes)."""

    @abc.abstractmethod
    async def trim_outbox(self, queue: str, upto: int) -> int:
        """Remove the items of ``queue`` numbered ``upto`` and below; how many were there. Of
        two units of work trimming the same items one conflicts (SQLite: writers are
        serialized, so the second finds them gone)."""

    @abc.abstractmethod
    async def outbox_state(self, queue: str) -> tuple[int, int]:
        """(the last number `append_outbox` gave in ``queue``, the mark `mark_outbox` set);
        (0, 0) for a queue never used."""

    @abc.abstractmethod
    async def mark_outbox(self, queue: str, mark: int) -> None:
        """Remember ``mark`` for ``queue`` (a consumer's position: delivered up to)."""

    @abc.abstractmethod
    async def drop_outbox(self, queue: str) -> None:
        """Forget ``queue``: its items, its numbering and its mark."""

    async def _journal_change(self, current: StoredResource | None, new: StoredResource) -> None:
        """Append a change of a watched type (`Store.journal_changes`) to the `CHANGES` queue,
        in the unit of work of the change itself: a change that commits is journalled, one
        that rolls back never (the subscriptions' outbox, docs/subscriptions.md)."""
        if new.type not in self.changes_of:
            return
        before = current.version if current is not None and not current.deleted else 0
        item = {"type": new.type, "id": new.id, "version": new.version, "before": before}
        await self.append_outbox(CHANGES, {**item, "deleted": new.deleted, "ts": new.ts})

    changes_of: frozenset[str] = frozenset()
    """The types whose changes this unit of work journals (`Store.journal_changes`)."""

    @abc.abstractmethod
    async def _put(
        self,
        current: StoredResource | None,
        new: StoredResource,
        index: Index | None,
        relationships: Sequence[CareRelationship] = (),
    ) -> None:
        """Write ``new`` as the next version after ``current``; raise RetryableConflict or
        VersionConflict if ``current`` is no longer the current version. The resource's derived
        care relationships become ``relationships`` (a tombstone: none, recorded ones too);
        backends may skip that for a type that shows none (`derives_relationships`)."""

    async def write(
        self,
        type_: str,
        id_: str,
        resource: dict[str, Any],
        *,
        method: str,
        if_match: int | None = None,
        must_not_exist: bool = False,
        index: Index | None = None,
        minted: bool = False,
    ) -> tuple[StoredResource, bool]:
        """Store the next version of a resource; returns it and whether it was (re)created.

        ``index`` is the resource's search index if the caller extracted it already, before
        the unit of work began: extraction then does not hold the store's write lock.
        ``minted``: the server has just made the id up (a create), so no version can exist and
        none is read; should one exist after all, `_put` refuses (VersionConflict)."""
        current = None if minted else await self.read(type_, id_)
        _check_expected(current, if_match, must_not_exist)
        version = current.version + 1 if current else 1
        ts = now_us()
        content = stamp(resource, id_, version, ts)
        new = StoredResource(type_, id_, version, ts, False, method, content)
        if index is None:
            index = self.indexer(type_, resource)
        # derived here, after `stamp`: a new Patient's relationships need the id just given
        related = relationships_of(type_, resource, self.base_url)
        try:
            await self._put(current, new, with_last_updated(index, ts), related)
        except DuplicateId:
            if minted:  # no concurrent writer made this id up too: it exists, a retry won't help
                raise VersionConflict(None) from None
            raise
        self.changed[(type_, id_)] = resource
        await self._journal_change(current, new)
        return new, current is None or current.deleted

    async def delete(
        self, type_: str, id_: str, *, if_match: int | None = None
    ) -> StoredResource | None:
        """Write a tombstone; deleting what is absent or already deleted changes nothing."""
        current = await self.read(type_, id_)
        _check_expected(current, if_match, False)
        if current is None or current.deleted:
            return None
        tomb = StoredResource(type_, id_, current.version + 1, now_us(), True, "DELETE", None)
        await self._put(current, tomb, None)
        self.changed[(type_, id_)] = None
        await self._journal_change(current, tomb)
        return tomb

    _changed: dict[tuple[str, str], dict[str, Any] | None] | None = None

    @property
    def changed(self) -> dict[tuple[str, str], dict[str, Any] | None]:
        """What this unit of work wrote, by (type, id): the resource as stored, or None for a
        deletion (the last write of each wins) — what is checked before the commit
        (referential integrity)."""
        if self._changed is None:
            self._changed = {}
        return self._changed

    indexer: Indexer
    base_url: str | None = None
    """The server's FHIR base, when configured: absolute references under it count as local
    when care relationships are derived (`Store.base_url`)."""


def derives_relationships(type_: str, related: Sequence[CareRelationship]) -> bool:
    """Whether a write of a ``type_`` may change care relationship rows: only the types that
    show some (a Patient also holds the recorded ones), so other writes skip the look-up."""
    return bool(related) or type_ in SOURCE_TYPES


def _check_expected(current: StoredResource | None, if_match: int | None, must_not: bool) -> None:
    live = current is not None and not current.deleted
    if must_not and live:
        raise VersionConflict(current)
    if if_match is not None and (not live or current is None or current.version != if_match):
        raise VersionConflict(current)


class DatabaseTenant(Protocol[T_co]):
    """Something that keeps its own records in the store's database, beside the FHIR data (the
    authorization server's clients and tokens): one constructor per kind of database. The store
    calls the one that fits (`Store.lend_database`), so the tenant needs neither the concrete
    store classes nor their attributes, and the store needs nothing of the tenant."""

    def sqlite_file(self, path: str) -> T_co:
        """Records in the SQLite file at ``path`` (``:memory:`` for none), on their own
        connection."""
        ...

    def mongodb_database(self, database: Any) -> T_co:
        """Records in collections of this MongoDB database object, through the store's client
        (which the store closes)."""
        ...


class Store(abc.ABC):
    """A FHIR resource store: current versions, every past version, and the search index."""

    indexer: Indexer

    base_url: str | None = None
    """The server's FHIR base when it is configured (``FHIR_BASE_URL``; the factory sets it):
    absolute references under it count as local when care relationships are derived. Without
    one, absolute references give no relationship (whose they are cannot be told)."""

    retries_work: bool = True
    """Whether `in_transaction` may run a unit of work again (MongoDB's transient conflicts);
    callers that mutate their input inside the work must then start each attempt from a copy."""

    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def read(self, type_: str, id_: str) -> StoredResource | None: ...

    @abc.abstractmethod
    async def vread(self, type_: str, id_: str, version: int) -> StoredResource | None: ...

    @abc.abstractmethod
    async def history(self, query: HistoryQuery) -> Page: ...

    @abc.abstractmethod
    async def search(self, query: SearchQuery) -> Page: ...

    async def count(self, query: SearchQuery) -> int:
        """How many resources match (``_total=accurate``); backends override with a count query."""
        total, page = 0, SearchQuery(query.type, query.filters, count=1000)
        while True:
            found = await self.search(page)
            total += len(found.items)
            if found.next_cursor is None:
                return total
            page.after_id = found.next_cursor

    async def last_written(self, types: Sequence[str]) -> tuple[str | None, ...]:
        """A mark of the newest version of each of ``types`` (None when there is none) that
        changes whenever one of them is written or deleted, by any server process: what a
        server compares before it relies on what it loaded from them (the conformance
        resources the validator uses). Backends override it with a cheaper query."""
        out = []
        for type_ in types:
            page = await self.history(HistoryQuery(type=type_, count=1))
            item = page.items[0] if page.items else None
            out.append(f"{item.id}/{item.version}/{item.ts}" if item is not None else None)
        return tuple(out)

    @abc.abstractmethod
    def transaction(self) -> UnitOfWork: ...

    @abc.abstractmethod
    async def related_patients(self, holders: Sequence[str], at: str) -> set[str]:
        """`UnitOfWork.related_patients`, on committed data."""

    @abc.abstractmethod
    async def is_related(self, patient: str, holders: Sequence[str], at: str) -> bool:
        """`UnitOfWork.is_related`, on committed data."""

    async def data_generation(self) -> int | None:
        """A number that stays the same while the committed data does — every commit but one
        that only adds new AuditEvents changes it, in any process — as the reads now see it;
        None when the backend cannot tell (then nothing derived from the data may be kept
        between requests). What a decision derives from committed data (a patient's Consents)
        may be kept with it and used while it holds."""
        return None

    @abc.abstractmethod
    def lend_database(self, tenant: DatabaseTenant[T]) -> T:
        """What ``tenant`` builds on this store's own database (the same file, the same
        client), so one database holds everything the server keeps."""

    @abc.abstractmethod
    async def has_deferred(self, types: Collection[str] | None) -> bool:
        """Whether resources of any of ``types`` (None: of any type) wait in the deferred
        journal (`UnitOfWork.append_deferred`), appended by any process, as committed."""

    async def deferred_depth(self) -> int:
        """How many resources wait in the deferred journal, appended by any process, as
        committed (the server's metrics: the background indexer keeps it near zero).
        Backends override it with a count; this default says only whether any wait."""
        return int(await self.has_deferred(None))

    _deferred_indexers: dict[str, DeferredIndexer] | None = None

    changes_of: frozenset[str] = frozenset()
    """The types whose changes every unit of work journals (`journal_changes`)."""

    @abc.abstractmethod
    async def outbox_heads(self) -> dict[str, tuple[int, int]]:
        """Per outbox queue in use: (the last number given, its mark), as committed — one cheap
        look, so a consumer polls without taking the write lock."""

    def journal_changes(self, types: Collection[str]) -> None:
        """Journal every change of ``types`` in the `CHANGES` outbox queue, in the unit of work
        that makes it (whatever writes it: a request, a transaction, a MedCom message)."""
        self.changes_of = frozenset(types)

    _drain_lock: asyncio.Lock | None = None
    _index_lock: asyncio.Lock | None = None

    def index_deferred_with(self, type_: str, make: DeferredIndexer) -> None:
        """Make the index of deferred ``type_`` resources with ``make`` (a cheaper way than the
        store's indexer the appender knows of); unregistered types use the indexer."""
        if self._deferred_indexers is None:
            self._deferred_indexers = {}
        self._deferred_indexers[type_] = make

    async def index_deferred(self, limit: int = DEFERRED_BATCH) -> int:
        """Store up to ``limit`` of the oldest deferred resources as ordinary first versions,
        with their search index, and remove their journal rows, in one unit of work: a crash
        before its commit leaves them all in the journal, after it none, so each is stored
        exactly once. Returns how many were stored (0: none waited). One at a time per process
        (takers of the same rows would only conflict); other processes take their turn at the
        write lock (SQLite) or conflict and retry (MongoDB: `RetryableConflict` if they keep
        winning)."""
        if self._index_lock is None:
            self._index_lock = asyncio.Lock()
        async with self._index_lock:
            if not await self.has_deferred(None):
                return 0
            return await in_transaction(self, partial(_index_deferred_batch, self, limit))

    async def drain_deferred(self, types: Collection[str] | None) -> None:
        """Before a read that may answer with ``types`` (None: any type): store every deferred
        resource of those types appended before it (by any process), so the read is exact.
        Bounded (`DEFERRED_ROUNDS`); nothing inside a unit of work (its reads see what it
        wrote, not the journal). Concurrent readers of one process share one drain. A batch
        this process is storing right now may already be out of the journal and not yet
        committed where a backend shows a unit's writes before its commit (the MongoDB
        stand-in's serial transactions): then the read waits for that batch."""
        if _IN_UNIT.get():
            return
        if not await self.has_deferred(types):
            if self._index_lock is not None and self._index_lock.locked():
                async with self._index_lock:
                    pass
            return
        if self._drain_lock is None:
            self._drain_lock = asyncio.Lock()
        async with self._drain_lock:
            for _ in range(DEFERRED_ROUNDS):
                try:
                    if await self.index_deferred() < DEFERRED_BATCH:
                        return
                except RetryableConflict:  # another process is storing them: look again
                    await asyncio.sleep(random.uniform(0, 0.01))

    async def reindex_type(
        self, type_: str, batch: int = 500, search_index: bool = True
    ) -> AsyncIterator[int]:
        """Rebuild the search index of every current ``type_`` resource, a batch per unit of
        work; yields how many were done after each batch (for a progress bar). A batch's
        expressions are evaluated on a worker thread, so the event loop goes on answering
        requests meanwhile (a custom parameter's FHIRPath over thousands of resources took
        it 20 s); a resource updated since its batch was read keeps the index its update
        wrote (`UnitOfWork.reindex` changes only the version it was given). The care
        relationships derived from each resource are rebuilt with it (``search_index=False``:
        only they)."""
        query = SearchQuery(type_, count=batch)
        while True:
            page = await self.search(query)
            if page.items:
                indexer = self.indexer if search_index else None
                derived = await asyncio.to_thread(
                    _derive, indexer, self.base_url, type_, page.items
                )
                pairs = list(zip(page.items, derived, strict=True))
                await in_transaction(self, partial(_reindex_batch, pairs))
                yield len(page.items)
            if page.next_cursor is None:
                return
            query.after_id = page.next_cursor


Derived = tuple[Index | None, list[CareRelationship]]


def _derive(
    indexer: Indexer | None, base: str | None, type_: str, items: list[StoredResource]
) -> list[Derived]:
    out: list[Derived] = []
    for stored in items:
        resource = orjson.loads(stored.content or b"{}")
        index = indexer(type_, resource) if indexer else None
        out.append((index, relationships_of(type_, resource, base)))
    return out


async def _reindex_batch(pairs: list[tuple[StoredResource, Derived]], uow: UnitOfWork) -> None:
    for stored, (index, related) in pairs:
        stamped = with_last_updated(index, stored.ts) if index is not None else None
        await uow.reindex(stored, stamped, related)


def search_types(query: SearchQuery) -> set[str] | None:
    """The types a search may answer with or decide by, for `Store.drain_deferred`: its own,
    and any (None) when it includes (the targets may be any type). Chains and ``_has`` are
    answered by inner searches through the store, which drain for themselves."""
    if query.includes or query.revincludes:
        return None
    return {query.type}


async def _index_deferred_batch(store: Store, limit: int, uow: UnitOfWork) -> int:
    uow.sync_off_loop = True  # a drain's readers wait for its commit anyway
    items = await uow.take_deferred(limit)
    makers = store._deferred_indexers or {}
    for type_, id_, resource in items:
        make = makers.get(type_)
        index = make(uow.indexer, resource) if make is not None else None
        await uow.write(type_, id_, resource, method="POST", index=index, minted=True)
    return len(items)


async def in_transaction(
    store: Store, work: Callable[[UnitOfWork], Awaitable[T]], attempts: int = 10
) -> T:
    """Run ``work`` in one unit of work, retrying it whole when the backend reports a transient
    write conflict (MongoDB's TransientTransactionError); SQLite never does."""
    for attempt in range(attempts):
        try:
            async with store.transaction() as uow:
                return await work(uow)
        except RetryableConflict:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))
    raise AssertionError("unreachable")
