"""An in-process stand-in for ``pymongo.AsyncMongoClient``, built on mongomock.

It implements exactly the subset of the async client API that ``MongoStore`` uses, with the same
call shapes (``client[db][coll]``, ``await coll.find_one(...)``, ``coll.find(...)`` returning a
cursor with ``sort``/``limit``/``to_list``/``async for``, ``client.start_session()`` used as an
async context manager, ``await session.start_transaction()``...), so the store has no stand-in
branches. mongomock supplies the query semantics and raises pymongo's own error classes.

Transactions are emulated, because mongomock has none. By default (serial mode):

* a transaction holds a per-client ``asyncio.Lock`` from ``start_transaction`` until commit or
  abort, so transactions run one at a time (a real server runs them concurrently and reports
  WriteConflict instead; the stand-in never produces ``TransientTransactionError``);
* writes inside a transaction apply to mongomock immediately; the first write to a collection
  snapshots it (deep copy), and abort restores those snapshots.

Limitations: reads outside a transaction (and by other coroutines) can see uncommitted writes;
writes outside a transaction are not blocked by one in progress, and an abort rolls them back too
if they touched a collection the transaction wrote; a coroutine that starts a second transaction
while its first is still open deadlocks. Every operation yields to the event loop
(``asyncio.sleep(0)``) so concurrent callers really interleave.

``AsyncMongoStandIn(snapshot_isolation=True)`` models what a replica set does instead, for tests of
races (serial transactions can never race):

* transactions run concurrently; each works on its own copy of every collection taken when it
  starts (a snapshot: it sees neither later commits nor other transactions' writes);
* a write to a document that another open transaction has written, or that a transaction
  committed after this one started, raises WriteConflict labelled ``TransientTransactionError``
  (first writer wins, as on a real server);
* commit applies the documents it wrote; abort discards the copy.

Copying every collection per transaction is only fit for small data (the contract suite).

In either mode a test can make a conflict happen where it wants one, to exercise the store's
retries and locks deterministically: ``client.inject_write_conflict("locks", after=1,
before=...)`` lets one write to that collection inside a transaction through and makes the next
one fail with WriteConflict (``TransientTransactionError``), after ``before`` has run (what the
other writer did; one that writes in a transaction of its own needs snapshot-isolation mode, as
serial transactions would wait for this one). ``client.injected`` lists the conflicts not yet
raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import mongomock
from pymongo import IndexModel
from pymongo.errors import InvalidOperation, OperationFailure
from pymongo.results import DeleteResult, InsertManyResult, InsertOneResult, UpdateResult


def _copy(projection: Any) -> Any:
    """mongomock adds ``_id`` to a projection dict in place; pymongo never changes its arguments
    (and a shared exclusion projection with ``_id: 1`` added is invalid in ``$project``)."""
    return dict(projection) if isinstance(projection, Mapping) else projection


_scan = mongomock.Collection._iter_documents


def _iter_documents(self: mongomock.Collection, filter: Any) -> Any:
    """mongomock scans every document of a collection for every query; the store keys most of
    its reads and writes by ``_id`` (a string), which makes a transaction of n PUTs cost n²
    filter evaluations (800 entries: half a minute). A filter naming one string ``_id`` is
    answered from that one document, through mongomock's own matching, so the result is the
    same as the scan's (``_id`` is unique)."""
    key = filter.get("_id") if isinstance(filter, Mapping) else None
    if not isinstance(key, str):
        return _scan(self, filter)
    try:
        candidates = [self._store[key]]
    except KeyError:
        candidates = []
    return (doc for doc in candidates if mongomock.filtering.filter_applies(filter, doc))


mongomock.Collection._iter_documents = _iter_documents


DocKey = tuple[str, str, Any]
"""(database, collection, ``_id``) of one document."""


def _write_conflict() -> OperationFailure:
    """What a replica set answers to the second writer of a document (code 112)."""
    details = {"code": 112, "errmsg": "WriteConflict", "errorLabels": ["TransientTransactionError"]}
    return OperationFailure("WriteConflict", 112, details)


@dataclass
class InjectedConflict:
    """A WriteConflict a transactional write to ``collection`` (None: any) will get, once
    ``after`` such writes went through."""

    collection: str | None
    after: int
    before: Callable[[], Awaitable[Any]] | None


def _copy_of(source: mongomock.MongoClient) -> mongomock.MongoClient:
    """Every document and unique index of ``source`` in a new, independent client."""
    copy_ = mongomock.MongoClient()
    for db in source.list_database_names():
        for name in source[db].list_collection_names():
            src, dst = source[db][name], copy_[db][name]
            for index, info in src.index_information().items():
                if info.get("unique") and index != "_id_":
                    dst.create_index(info["key"], unique=True, name=index)
            docs = list(src.find({}))
            if docs:
                dst.insert_many(docs)
    return copy_


class _Snapshot:
    """One transaction in snapshot-isolation mode: its private copy and what it wrote."""

    def __init__(self, client: AsyncMongoStandIn) -> None:
        self.client = client
        self.started = client._commits
        self.copy = _copy_of(client._sync)
        self.written: dict[DocKey, None] = {}  # ordered set

    def collection(self, coll: mongomock.Collection) -> mongomock.Collection:
        return self.copy[coll.database.name][coll.name]

    def wrote(self, coll: mongomock.Collection, ids: list[Any]) -> None:
        """Record writes to ``ids``; raise WriteConflict if another transaction got there first."""
        for id_ in ids:
            key = (coll.database.name, coll.name, id_)
            others = (t for t in self.client._open if t is not self)
            if self.client._written_at.get(key, -1) > self.started or any(
                key in t.written for t in others
            ):
                raise _write_conflict()
            self.written[key] = None

    def commit(self) -> None:
        client = self.client
        client._commits += 1
        for db, name, id_ in self.written:
            doc = self.copy[db][name].find_one({"_id": id_})
            target = client._sync[db][name]
            if doc is None:
                target.delete_one({"_id": id_})
            else:
                target.replace_one({"_id": id_}, doc, upsert=True)
            client._written_at[(db, name, id_)] = client._commits


class StandInSession:
    """Mirrors ``AsyncClientSession``: ``start_session()`` is sync, the rest is awaited."""

    def __init__(self, client: AsyncMongoStandIn) -> None:
        self.client = client
        self._in_transaction = False
        self._ended = False
        self._snapshots: dict[tuple[str, str, Any], dict[str, Any] | None] = {}
        """(database, collection, _id) → the document before this transaction first wrote it
        (None: there was none) — an undo log, so a transaction costs what it touches."""
        self._snapshot: _Snapshot | None = None

    @property
    def in_transaction(self) -> bool:
        return self._in_transaction

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.end_session()

    def _check_ended(self) -> None:
        if self._ended:
            raise InvalidOperation("Cannot use ended session")

    async def start_transaction(
        self,
        read_concern: Any = None,
        write_concern: Any = None,
        read_preference: Any = None,
        max_commit_time_ms: int | None = None,
    ) -> _TransactionContext:
        self._check_ended()
        if self._in_transaction:
            raise InvalidOperation("Transaction already in progress")
        if self.client.snapshot_isolation:
            await asyncio.sleep(0)
            self._snapshot = _Snapshot(self.client)
            self.client._open.add(self._snapshot)
        else:
            await self.client._transaction_lock.acquire()
        self._in_transaction = True
        self._snapshots = {}
        return _TransactionContext(self)

    async def commit_transaction(self) -> None:
        self._check_ended()
        if not self._in_transaction:
            raise InvalidOperation("No transaction started")
        await asyncio.sleep(0)
        if self._snapshot is not None:
            self._snapshot.commit()
        self._finish()

    async def abort_transaction(self) -> None:
        """Restores before the first await, so a cancelled abort still leaves no trace."""
        self._check_ended()
        if not self._in_transaction:
            raise InvalidOperation("No transaction started")
        try:
            for (db, coll, id_), before in self._snapshots.items():
                target = self.client._sync[db][coll]
                target.delete_one({"_id": id_})
                if before is not None:
                    target.insert_one(before)
        finally:
            self._finish()
        await asyncio.sleep(0)

    async def end_session(self) -> None:
        if self._ended:
            return
        if self._in_transaction:
            await self.abort_transaction()
        self._ended = True

    def _finish(self) -> None:
        self._in_transaction = False
        self._snapshots = {}
        if self._snapshot is not None:
            self.client._open.discard(self._snapshot)
            self._snapshot = None
        else:
            self.client._transaction_lock.release()

    def _before_write(self, coll: mongomock.Collection, docs: list[dict[str, Any]]) -> None:
        """Keep the documents a write is about to change, the first time this transaction
        touches each (``docs``: full copies as ``find`` returns them)."""
        if not self._in_transaction:
            return
        for doc in docs:
            self._snapshots.setdefault((coll.database.name, coll.name, doc["_id"]), doc)

    def _created(self, coll: mongomock.Collection, ids: list[Any]) -> None:
        """Documents a write created: undone by removing them."""
        if not self._in_transaction:
            return
        for id_ in ids:
            self._snapshots.setdefault((coll.database.name, coll.name, id_), None)


class _TransactionContext:
    """What ``start_transaction`` returns: commits on success, aborts on error."""

    def __init__(self, session: StandInSession) -> None:
        self._session = session

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session.in_transaction:
            if e is None:
                await self._session.commit_transaction()
            else:
                await self._session.abort_transaction()


class StandInCursor:
    """Lazy like pymongo's cursor: ``sort``/``limit`` chain, the query runs on first fetch."""

    def __init__(
        self, coll: mongomock.Collection, filter: Mapping[str, Any] | None, projection: Any
    ) -> None:
        self._coll = coll
        self._filter = filter
        self._projection = projection
        self._sort: list[tuple[str, int]] | None = None
        self._limit = 0
        self._results: list[dict[str, Any]] | None = None

    def sort(
        self, key_or_list: str | Sequence[tuple[str, int]], direction: int | None = None
    ) -> Self:
        if isinstance(key_or_list, str):
            self._sort = [(key_or_list, direction if direction is not None else 1)]
        else:
            self._sort = list(key_or_list)
        return self

    def limit(self, limit: int) -> Self:
        self._limit = limit
        return self

    async def _fetch(self) -> list[dict[str, Any]]:
        if self._results is None:
            await asyncio.sleep(0)
            cursor = self._coll.find(self._filter, _copy(self._projection))
            if self._sort:
                cursor = cursor.sort(self._sort)
            if self._limit:
                cursor = cursor.limit(self._limit)
            self._results = list(cursor)
        return self._results

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        results = await self._fetch()
        taken = results if length is None else results[:length]
        self._results = results[len(taken) :]
        return taken

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> dict[str, Any]:
        results = await self._fetch()
        if not results:
            raise StopAsyncIteration
        return results.pop(0)


class StandInCommandCursor:
    """What ``await coll.aggregate(...)`` returns (``AsyncCommandCursor``): ``to_list`` and
    ``async for``; the pipeline has already run."""

    def __init__(self, results: list[dict[str, Any]]) -> None:
        self._results = results

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        await asyncio.sleep(0)
        taken = self._results if length is None else self._results[:length]
        self._results = self._results[len(taken) :]
        return taken

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if not self._results:
            raise StopAsyncIteration
        return self._results.pop(0)


def _touched(before: dict[str, Any] | None, result: UpdateResult) -> list[Any]:
    """The ``_id`` an update or replace wrote: the matched document's, or the upserted one."""
    if before is not None:
        return [before["_id"]]
    return [] if result.upserted_id is None else [result.upserted_id]


class StandInCollection:
    def __init__(self, client: AsyncMongoStandIn, coll: mongomock.Collection) -> None:
        self._client = client
        self._coll = coll

    @property
    def name(self) -> str:
        return str(self._coll.name)

    async def _enter(self, session: StandInSession | None, write: bool) -> mongomock.Collection:
        """Every operation yields to the loop; writes in a (serial) transaction snapshot first.
        Returns the collection to work on: a snapshot transaction's own copy, or the shared one.
        A write in a transaction may meet a conflict a test injected."""
        await asyncio.sleep(0)
        if write and session is not None and session.in_transaction:
            await self._client._conflict(self.name)
        return self._target(session, write)

    def _target(self, session: StandInSession | None, write: bool) -> mongomock.Collection:
        if session is None:
            return self._coll
        if session.client is not self._client:
            raise InvalidOperation("Can only use session with the client that created it")
        session._check_ended()
        if session._snapshot is not None:
            return session._snapshot.collection(self._coll)
        return self._coll

    def _undo(
        self,
        session: StandInSession | None,
        coll: mongomock.Collection,
        before: list[dict[str, Any]],
        created: list[Any],
    ) -> None:
        """What an abort must restore (a snapshot transaction keeps its own copy instead)."""
        if session is None or session._snapshot is not None:
            return
        session._before_write(coll, before)
        session._created(coll, created)

    def _wrote(self, session: StandInSession | None, ids: list[Any]) -> None:
        if session is not None and session._snapshot is not None:
            session._snapshot.wrote(self._coll, ids)

    async def find_one(
        self,
        filter: Mapping[str, Any] | None = None,
        projection: Any = None,
        *,
        session: StandInSession | None = None,
    ) -> dict[str, Any] | None:
        coll = await self._enter(session, write=False)
        doc: dict[str, Any] | None = coll.find_one(filter, _copy(projection))
        return doc

    def find(
        self,
        filter: Mapping[str, Any] | None = None,
        projection: Any = None,
        *,
        session: StandInSession | None = None,
    ) -> StandInCursor:
        return StandInCursor(self._target(session, write=False), filter, projection)

    async def aggregate(
        self,
        pipeline: Sequence[Mapping[str, Any]],
        session: StandInSession | None = None,
        **kwargs: Any,
    ) -> StandInCommandCursor:
        """Options (``allowDiskUse``, ``let``, …) change nothing here."""
        coll = await self._enter(session, write=False)
        return StandInCommandCursor(list(coll.aggregate(list(pipeline))))

    async def count_documents(
        self, filter: Mapping[str, Any], session: StandInSession | None = None, **kwargs: Any
    ) -> int:
        coll = await self._enter(session, write=False)
        count: int = coll.count_documents(filter)
        return count

    async def insert_one(
        self, document: dict[str, Any], *, session: StandInSession | None = None
    ) -> InsertOneResult:
        coll = await self._enter(session, write=True)
        result: InsertOneResult = coll.insert_one(document)
        self._undo(session, coll, [], [result.inserted_id])
        self._wrote(session, [result.inserted_id])
        return result

    async def insert_many(
        self, documents: Sequence[dict[str, Any]], *, session: StandInSession | None = None
    ) -> InsertManyResult:
        coll = await self._enter(session, write=True)
        result: InsertManyResult = coll.insert_many(list(documents))
        self._undo(session, coll, [], list(result.inserted_ids))
        self._wrote(session, list(result.inserted_ids))
        return result

    async def update_one(
        self,
        filter: Mapping[str, Any],
        update: Mapping[str, Any],
        upsert: bool = False,
        *,
        session: StandInSession | None = None,
    ) -> UpdateResult:
        coll = await self._enter(session, write=True)
        before = coll.find_one(filter)
        self._undo(session, coll, [before] if before is not None else [], [])
        result: UpdateResult = coll.update_one(filter, update, upsert=upsert)
        self._undo(session, coll, [], [result.upserted_id] if result.upserted_id else [])
        self._wrote(session, _touched(before, result))
        return result

    async def replace_one(
        self,
        filter: Mapping[str, Any],
        replacement: Mapping[str, Any],
        upsert: bool = False,
        *,
        session: StandInSession | None = None,
    ) -> UpdateResult:
        coll = await self._enter(session, write=True)
        before = coll.find_one(filter)
        self._undo(session, coll, [before] if before is not None else [], [])
        result: UpdateResult = coll.replace_one(filter, replacement, upsert=upsert)
        self._undo(session, coll, [], [result.upserted_id] if result.upserted_id else [])
        self._wrote(session, _touched(before, result))
        return result

    async def delete_many(
        self, filter: Mapping[str, Any], *, session: StandInSession | None = None
    ) -> DeleteResult:
        coll = await self._enter(session, write=True)
        befores = list(coll.find(filter))
        self._undo(session, coll, befores, [])
        ids = [d["_id"] for d in befores]
        result: DeleteResult = coll.delete_many(filter)
        self._wrote(session, ids)
        return result

    async def create_indexes(
        self, indexes: Sequence[IndexModel], *, session: StandInSession | None = None
    ) -> list[str]:
        await self._enter(session, write=False)  # indexes are never made in a transaction
        names: list[str] = self._coll.create_indexes(list(indexes))
        return names

    async def create_index(
        self, keys: Any, *, session: StandInSession | None = None, **kwargs: Any
    ) -> str:
        await self._enter(session, write=False)
        name: str = self._coll.create_index(keys, **kwargs)
        return name


class StandInDatabase:
    def __init__(self, client: AsyncMongoStandIn, name: str) -> None:
        self._client = client
        self.name = name

    def __getitem__(self, name: str) -> StandInCollection:
        return self.get_collection(name)

    def get_collection(self, name: str) -> StandInCollection:
        return StandInCollection(self._client, self._client._sync[self.name][name])

    async def command(self, name: str, **kwargs: Any) -> dict[str, Any]:
        """``hello`` only: a primary of the replica set ``rs0``, or a standalone ``mongod``
        (``AsyncMongoStandIn(replica_set=False)``)."""
        await asyncio.sleep(0)
        if name != "hello":
            raise OperationFailure(f"no such command: '{name}'")
        answer: dict[str, Any] = {"isWritablePrimary": True, "ok": 1.0}
        if self._client.replica_set:
            answer["setName"] = "rs0"
        return answer


class AsyncMongoStandIn:
    """``AsyncMongoStandIn()`` where the code under test expects ``AsyncMongoClient(url)``."""

    def __init__(self, snapshot_isolation: bool = False, replica_set: bool = True) -> None:
        self._sync = mongomock.MongoClient()
        self.replica_set = replica_set
        """What ``hello`` reports: a replica set member (transactions work) or a standalone."""
        self._transaction_lock = asyncio.Lock()
        self._closed = False
        self.snapshot_isolation = snapshot_isolation
        self._commits = 0  # snapshot mode: commits so far, and the last one to write each document
        self._written_at: dict[DocKey, int] = {}
        self._open: set[_Snapshot] = set()
        self.injected: list[InjectedConflict] = []

    def inject_write_conflict(
        self,
        collection: str | None = None,
        after: int = 0,
        before: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        """Let ``after`` writes to ``collection`` (None: to any) inside a transaction through,
        then make the next fail with WriteConflict, once ``before`` (another writer's work) has
        run. Calls queue: the first not yet raised counts the writes."""
        self.injected.append(InjectedConflict(collection, after, before))

    async def _conflict(self, collection: str) -> None:
        """Raise the first injected conflict meant for ``collection``, if there is one."""
        for n, injected in enumerate(self.injected):
            if injected.collection in (None, collection):
                if injected.after > 0:
                    injected.after -= 1
                    return
                del self.injected[n]  # before `before` runs: its own writes go through
                if injected.before is not None:
                    await injected.before()
                raise _write_conflict()

    def __getitem__(self, name: str) -> StandInDatabase:
        return self.get_database(name)

    def get_database(self, name: str) -> StandInDatabase:
        return StandInDatabase(self, name)

    @property
    def admin(self) -> StandInDatabase:
        return StandInDatabase(self, "admin")

    def start_session(self, **kwargs: Any) -> StandInSession:
        if self._closed:
            raise InvalidOperation("Cannot use AsyncMongoClient after close")
        return StandInSession(self)

    async def drop_database(
        self, name_or_database: str | StandInDatabase, *, session: StandInSession | None = None
    ) -> None:
        await asyncio.sleep(0)
        name = name_or_database if isinstance(name_or_database, str) else name_or_database.name
        self._sync.drop_database(name)

    async def close(self) -> None:
        await asyncio.sleep(0)
        self._closed = True
        self._sync.close()
