"""The production store: MongoDB (a replica set, for multi-document transactions).

A unit of work is one client session running one multi-document transaction. Version checks are
conditional writes on the current-version document inside that transaction, so two writers that
race on a resource cannot both succeed: the server reports a WriteConflict (labelled
``TransientTransactionError``) to the loser, which surfaces as ``RetryableConflict`` and makes
``in_transaction`` re-run the whole unit of work against the new current version.

``client`` is a ``pymongo.AsyncMongoClient`` or anything with the same async API (the tests use an
in-process stand-in); this module never branches on which.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar

import orjson
from pymongo import DESCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from fhir_server.care_relationships import CareRelationship, instant_us, period_bounds
from fhir_server.search.terms import (
    Criterion,
    FilterGroup,
    Index,
    RelatedTo,
    SearchQuery,
    owner_filter,
)
from fhir_server.store.base import (
    DatabaseTenant,
    DuplicateId,
    HistoryQuery,
    Indexer,
    InvalidCursor,
    Page,
    Referrer,
    RetryableConflict,
    Store,
    UnitOfWork,
    VersionConflict,
    derives_relationships,
    keyset_page,
    search_types,
)
from fhir_server.store.mongo.query import (
    compile_history,
    compile_search,
    compile_sorted_search,
    compile_where,
    encode_cursor,
    sorted_cursor,
)
from fhir_server.store.mongo.schema import (
    DEFERRED,
    DEFERRED_INDEXES,
    INDEX_ARRAYS,
    LOCKS,
    OUTBOX,
    OUTBOX_INDEXES,
    OUTBOX_QUEUES,
    RELATIONSHIP_INDEXES,
    RELATIONSHIPS,
    RESOURCE_INDEXES,
    RESOURCE_PROJECTION,
    RESOURCES,
    VERSION_PROJECTION,
    VERSIONS,
    VERSIONS_INDEXES,
    relationship_docs,
    resource_doc,
    resource_key,
    stored,
    version_doc,
    version_key,
)
from fhir_server.store.mongo.topology import require_replica_set
from fhir_server.stored import StoredResource, now_us

T = TypeVar("T")

AsyncClient = Any
"""``AsyncMongoClient`` or an object with the same async API (``tests/support/mongo_standin``)."""

Session = Any
"""The client's session type (``AsyncClientSession`` for the real client)."""

_COMMIT_ATTEMPTS = 5


@contextmanager
def _conflicts() -> Iterator[None]:
    """Translate the server's "someone else got there first" into the store protocol's terms."""
    try:
        yield
    except DuplicateKeyError as e:  # a concurrent first version of the same resource
        raise DuplicateId(str(e)) from e
    except PyMongoError as e:
        if e.has_error_label("TransientTransactionError"):  # WriteConflict and friends
            raise RetryableConflict(str(e)) from e
        raise


class MongoStore(Store):
    def __init__(
        self, client: AsyncClient, database: str, indexer: Indexer, drop_on_close: bool = False
    ) -> None:
        self.client = client
        self.database = database
        self.indexer = indexer
        self.drop_on_close = drop_on_close
        db = client[database]
        self.resources = db[RESOURCES]
        self.versions = db[VERSIONS]
        self.relationships = db[RELATIONSHIPS]
        self.locks = db[LOCKS]
        self.deferred = db[DEFERRED]
        self.outbox = db[OUTBOX]
        self.outbox_queues = db[OUTBOX_QUEUES]

    @classmethod
    def from_url(cls, url: str, indexer: Indexer, database: str) -> MongoStore:
        """The async client connects lazily, on the first operation, not here."""
        return cls(AsyncMongoClient(url), database, indexer)

    def lend_database(self, tenant: DatabaseTenant[T]) -> T:
        return tenant.mongodb_database(self.client[self.database])

    async def open(self) -> None:
        """Creating the indexes also creates the collections, which transactions need up front;
        first, whether the deployment can run transactions at all (`require_replica_set`)."""
        await require_replica_set(self.client)
        await self.resources.create_indexes(RESOURCE_INDEXES)
        await self.versions.create_indexes(VERSIONS_INDEXES)
        await self.relationships.create_indexes(RELATIONSHIP_INDEXES)
        await self.deferred.create_indexes(DEFERRED_INDEXES)
        await self.outbox.create_indexes(OUTBOX_INDEXES)
        await self.outbox_queues.update_one({"_id": "init"}, {"$set": {"n": 0}}, upsert=True)
        await self.locks.update_one({"_id": "init"}, {"$set": {"n": 0}}, upsert=True)

    async def close(self) -> None:
        try:
            if self.drop_on_close:
                await self.client.drop_database(self.database)
        finally:
            await self.client.close()

    async def read(self, type_: str, id_: str) -> StoredResource | None:
        await self.drain_deferred((type_,))
        return await _read(self, type_, id_, None)

    async def vread(self, type_: str, id_: str, version: int) -> StoredResource | None:
        await self.drain_deferred((type_,))
        doc = await self.versions.find_one(
            {"type": type_, "id": id_, "version": version}, VERSION_PROJECTION
        )
        return stored(doc) if doc else None

    async def history(self, query: HistoryQuery) -> Page:
        await self.drain_deferred(None if query.type is None else (query.type,))
        where, sort, limit = compile_history(query)
        cursor = self.versions.find(where, VERSION_PROJECTION).sort(sort).limit(limit)
        docs = await cursor.to_list(None)
        more = len(docs) > query.count
        docs = docs[: query.count]
        return Page(
            [stored(d) for d in docs],
            encode_cursor(docs[-1]) if more and docs else None,
            positions=[encode_cursor(d) for d in docs],
        )

    async def search(self, query: SearchQuery) -> Page:
        await self.drain_deferred(search_types(query))
        return await _search(self, query, None)

    async def last_written(self, types: Sequence[str]) -> tuple[str | None, ...]:
        """The newest version of each type by ``history_type``, without its content."""
        out: list[str | None] = []
        for type_ in types:
            cursor = (
                self.versions.find({"type": type_}, {"_id": 0, "ts": 1, "id": 1, "version": 1})
                .sort([("ts", DESCENDING), ("id", DESCENDING), ("version", DESCENDING)])
                .limit(1)
            )
            docs = await cursor.to_list(None)
            out.append(f"{docs[0]['id']}/{docs[0]['version']}/{docs[0]['ts']}" if docs else None)
        return tuple(out)

    async def count(self, query: SearchQuery) -> int:
        await self.drain_deferred(search_types(query))
        query = await _resolved(self, query, None)
        return int(await self.resources.count_documents(compile_where(query)))

    async def related_patients(self, holders: Sequence[str], at: str) -> set[str]:
        return await _related_patients(self, holders, at, None)

    async def is_related(self, patient: str, holders: Sequence[str], at: str) -> bool:
        return await _is_related(self, patient, holders, at, None)

    def transaction(self) -> UnitOfWork:
        return MongoUnitOfWork(self)

    async def deferred_depth(self) -> int:
        return int(await self.deferred.count_documents({}))

    async def outbox_heads(self) -> dict[str, tuple[int, int]]:
        docs = await self.outbox_queues.find({"_id": {"$ne": "init"}}).to_list(None)
        return {str(d["_id"]): (int(d.get("n", 0)), int(d.get("mark", 0))) for d in docs}

    async def has_deferred(self, types: Collection[str] | None) -> bool:
        where = {} if types is None else {"type": {"$in": list(types)}}
        return await self.deferred.find_one(where, {"_id": 1}) is not None


def _holding(holders: Sequence[str], at: str) -> dict[str, Any]:
    """Relationships of ``holders`` that hold at ``at``: equality on the leading key of
    ``by_holder``, the period bounded inside it."""
    moment = instant_us(at)
    return {"holder": {"$in": list(holders)}, "lo": {"$lte": moment}, "hi": {"$gt": moment}}


async def _related_patients(
    store: MongoStore, holders: Sequence[str], at: str, session: Session
) -> set[str]:
    if not holders:
        return set()
    # $group, not `distinct`: a sharded collection refuses `distinct` inside a transaction
    pipeline = [{"$match": _holding(holders, at)}, {"$group": {"_id": "$patient"}}]
    cursor = await store.relationships.aggregate(pipeline, session=session)
    return {str(doc["_id"]) for doc in await cursor.to_list(None)}


async def _is_related(
    store: MongoStore, patient: str, holders: Sequence[str], at: str, session: Session
) -> bool:
    if not holders:
        return False
    where = {**_holding(holders, at), "patient": patient}
    return await store.relationships.find_one(where, {"_id": 1}, session=session) is not None


async def _read(store: MongoStore, type_: str, id_: str, session: Session) -> StoredResource | None:
    doc = await store.resources.find_one(
        {"_id": resource_key(type_, id_)}, RESOURCE_PROJECTION, session=session
    )
    return stored(doc) if doc else None


async def _resolved(store: MongoStore, query: SearchQuery, session: Session) -> SearchQuery:
    """``query`` with each care relationship criterion (`RelatedTo`) replaced by the patients
    it names, read from the ``care_relationships`` collection (its ``by_holder`` index) in the
    same session as the search, once per holders and instant. MongoDB cannot join a collection
    into a ``find``; a ``$lookup`` per candidate resource would cost more than one indexed read
    of the holders' rows, and it would leave the resources' own indexes unused."""
    if not any(_mentions_related(c) for c in query.filters):
        return query
    found: dict[tuple[tuple[str, ...], str], set[str]] = {}

    async def resolve(c: Criterion) -> Criterion:
        if isinstance(c, RelatedTo):
            key = (c.holders, c.at)
            if key not in found:
                found[key] = await _related_patients(store, c.holders, c.at, session)
            return owner_filter(c.param, found[key])
        if isinstance(c, FilterGroup):
            branches = [tuple([await resolve(x) for x in b]) for b in c.any_of]
            return FilterGroup(tuple(branches), c.negate)
        return c

    return replace(query, filters=[await resolve(c) for c in query.filters])


def _mentions_related(c: Criterion) -> bool:
    if isinstance(c, FilterGroup):
        return any(_mentions_related(x) for b in c.any_of for x in b)
    return isinstance(c, RelatedTo)


async def _search(store: MongoStore, query: SearchQuery, session: Session) -> Page:
    query = await _resolved(store, query, session)
    if query.sort:
        return await _sorted_search(store, query, session)
    where, sort, limit = compile_search(query)
    cursor = store.resources.find(where, RESOURCE_PROJECTION, session=session)
    docs = await cursor.sort(sort).limit(limit).to_list(None)
    return keyset_page(docs, query, stored, lambda doc: str(doc["id"]))


async def _sorted_search(store: MongoStore, query: SearchQuery, session: Session) -> Page:
    try:
        pipeline = compile_sorted_search(query, RESOURCE_PROJECTION)
    except ValueError as err:  # a cursor from another sort or a forged one
        raise InvalidCursor(str(err)) from err
    # $sort then $limit: a top-k sort holding at most count + 1 documents in memory
    cursor = await store.resources.aggregate(pipeline, session=session)
    docs = await cursor.to_list(None)
    return keyset_page(docs, query, stored, lambda doc: sorted_cursor(doc, query))


class MongoUnitOfWork(UnitOfWork):
    """One session, one transaction; every read and write passes ``session=``."""

    def __init__(self, store: MongoStore) -> None:
        self.store = store
        self.indexer = store.indexer
        self.base_url = store.base_url
        self._session: Session = None
        self.changes_of = store.changes_of

    @property
    def session(self) -> Session:
        assert self._session is not None, "unit of work has not begun"
        return self._session

    async def _begin(self) -> None:
        self._session = self.store.client.start_session()
        try:
            # snapshot reads: everything this unit of work reads is from one point in time
            await self._session.start_transaction(
                read_concern=ReadConcern("snapshot"), write_concern=WriteConcern("majority")
            )
        except BaseException:
            await self._end()
            raise

    async def _commit(self) -> None:
        """An unknown commit result is resolved by re-sending the commit (which is idempotent),
        never by re-running the work: that could apply a unit of work twice."""
        try:
            for attempt in range(_COMMIT_ATTEMPTS):
                try:
                    with _conflicts():
                        await self.session.commit_transaction()
                    return
                except PyMongoError as e:
                    unknown = e.has_error_label("UnknownTransactionCommitResult")
                    if not unknown or attempt == _COMMIT_ATTEMPTS - 1:
                        raise
        finally:
            await self._end()

    async def _rollback(self) -> None:
        try:
            if self.session.in_transaction:
                await self.session.abort_transaction()
        finally:
            await self._end()

    async def _end(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.end_session()

    async def read(self, type_: str, id_: str) -> StoredResource | None:
        with _conflicts():
            return await _read(self.store, type_, id_, self.session)

    async def search(self, query: SearchQuery) -> Page:
        with _conflicts():
            return await _search(self.store, query, self.session)

    async def reindex(
        self,
        current: StoredResource,
        index: Index | None,
        relationships: Sequence[CareRelationship] | None = None,
    ) -> None:
        key = resource_key(current.type, current.id)
        arrays = {k: v for k, v in resource_doc(current, index).items() if k in INDEX_ARRAYS}
        where = {"_id": key, "version": current.version}
        with _conflicts():
            if index is not None:
                done = await self.store.resources.update_one(
                    where, {"$set": arrays}, session=self.session
                )
                current_still = done.matched_count == 1
            else:
                found = await self.store.resources.find_one(where, {"_id": 1}, session=self.session)
                current_still = found is not None
            if current_still and relationships is not None:
                await self._relationships(key, relationships, replace=True)

    async def related_patients(self, holders: Sequence[str], at: str) -> set[str]:
        with _conflicts():
            return await _related_patients(self.store, holders, at, self.session)

    async def is_related(self, patient: str, holders: Sequence[str], at: str) -> bool:
        with _conflicts():
            return await _is_related(self.store, patient, holders, at, self.session)

    async def relate(self, patient: str, holder: str, kind: str, start: str) -> None:
        src = resource_key("Patient", patient)
        lo, hi = period_bounds(start, None)
        doc = {"holder": holder, "patient": patient, "lo": lo, "hi": hi}
        doc.update(kind=kind, src=src, rec=True)
        with _conflicts():
            found = await _read(self.store, "Patient", patient, self.session)
            if found is None or found.deleted:
                raise LookupError(f"Patient/{patient} is not stored")
            if await self.store.relationships.find_one(doc, {"_id": 1}, session=self.session):
                return
            await self.store.relationships.insert_one(doc, session=self.session)

    async def _relationships(
        self, src: str, related: Sequence[CareRelationship], replace: bool, everything: bool = False
    ) -> None:
        """Make ``src``'s derived relationships ``related`` (``everything``: drop the recorded
        ones too; ``replace``: there may be old ones to drop)."""
        session = self.session
        if replace:
            where: dict[str, Any] = {"src": src} if everything else {"src": src, "rec": False}
            await self.store.relationships.delete_many(where, session=session)
        docs = relationship_docs(src, related)
        if docs:
            await self.store.relationships.insert_many(docs, session=session)

    async def lock(self, key: str) -> None:
        with _conflicts():
            await self.store.locks.update_one(
                {"_id": key}, {"$inc": {"n": 1}}, upsert=True, session=self.session
            )

    async def live(self, keys: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        wanted = [resource_key(t, i) for t, i in set(keys)]
        if not wanted:
            return set()
        where = {"_id": {"$in": wanted}, "deleted": False}
        with _conflicts():
            cursor = self.store.resources.find(where, {"type": 1, "id": 1}, session=self.session)
            return {(d["type"], d["id"]) for d in await cursor.to_list(None)}

    async def referrers(
        self, targets: Collection[tuple[str, str]], params: Sequence[tuple[str, str]], limit: int
    ) -> list[Referrer]:
        out: list[Referrer] = []
        for rtype, rid in sorted(set(targets)):
            if len(out) >= limit or not params:
                break
            # a branch per (type, parameter): each one bounded by the by_reference index
            branches = [
                {"type": t, "ref": {"$elemMatch": {"p": p, "i": rid, "t": rtype}}}
                for t, p in params
            ]
            where = {"$or": branches, "deleted": False}
            with _conflicts():
                cursor = self.store.resources.find(
                    where, {"type": 1, "id": 1, "ref": 1}, session=self.session
                ).limit(limit - len(out))
                docs = await cursor.to_list(None)
            for d in docs:
                for entry in d.get("ref") or ():
                    if entry.get("i") == rid and entry.get("t") == rtype:
                        referrer = Referrer(
                            d["type"], d["id"], entry["p"], (rtype, rid), entry.get("u") or ""
                        )
                        out.append(referrer)
                        break
        return out[:limit]

    async def append_deferred(self, type_: str, id_: str, resource: dict[str, Any]) -> None:
        doc = {
            "_id": f"{type_}/{id_}",
            "type": type_,
            "id": id_,
            "t": now_us(),
            "content": orjson.dumps(resource),
        }
        with _conflicts():
            await self.store.deferred.insert_one(doc, session=self.session)

    async def take_deferred(self, limit: int) -> list[tuple[str, str, dict[str, Any]]]:
        """A concurrent taker of the same documents makes the deletes conflict (a write
        conflict, retried whole); one that committed first leaves fewer to delete: retried too."""
        with _conflicts():
            cursor = self.store.deferred.find({}, session=self.session).sort("t").limit(limit)
            docs = await cursor.to_list(None)
            if not docs:
                return []
            ids = [d["_id"] for d in docs]
            gone = await self.store.deferred.delete_many(
                {"_id": {"$in": ids}}, session=self.session
            )
        if gone.deleted_count != len(ids):
            raise RetryableConflict("deferred resources taken concurrently")
        return [(d["type"], d["id"], orjson.loads(d["content"])) for d in docs]

    async def append_outbox(self, queue: str, item: dict[str, Any]) -> int:
        """The queue's counter is incremented in the transaction: two appenders conflict."""
        with _conflicts():
            counters = self.store.outbox_queues
            await counters.update_one(
                {"_id": queue},
                {"$inc": {"n": 1}, "$setOnInsert": {"mark": 0}},
                upsert=True,
                session=self.session,
            )
            doc = await counters.find_one({"_id": queue}, session=self.session)
            n = int(doc["n"]) if doc else 1
            entry = {"_id": f"{queue}#{n}", "q": queue, "n": n, "item": orjson.dumps(item)}
            await self.store.outbox.insert_one(entry, session=self.session)
        return n

    async def outbox_items(
        self, queue: str, after: int, limit: int, until: int | None = None
    ) -> list[tuple[int, dict[str, Any]]]:
        bound: dict[str, Any] = {"$gt": after}
        if until is not None:
            bound["$lte"] = until
        with _conflicts():
            cursor = self.store.outbox.find({"q": queue, "n": bound}, session=self.session)
            docs = await cursor.sort("n").limit(limit).to_list(None)
        return [(int(d["n"]), orjson.loads(d["item"])) for d in docs]

    async def trim_outbox(self, queue: str, upto: int) -> int:
        with _conflicts():
            gone = await self.store.outbox.delete_many(
                {"q": queue, "n": {"$lte": upto}}, session=self.session
            )
        return int(gone.deleted_count)

    async def outbox_state(self, queue: str) -> tuple[int, int]:
        with _conflicts():
            doc = await self.store.outbox_queues.find_one({"_id": queue}, session=self.session)
        return (int(doc.get("n", 0)), int(doc.get("mark", 0))) if doc else (0, 0)

    async def mark_outbox(self, queue: str, mark: int) -> None:
        with _conflicts():
            await self.store.outbox_queues.update_one(
                {"_id": queue},
                {"$set": {"mark": mark}, "$setOnInsert": {"n": 0}},
                upsert=True,
                session=self.session,
            )

    async def drop_outbox(self, queue: str) -> None:
        with _conflicts():
            await self.store.outbox.delete_many({"q": queue}, session=self.session)
            await self.store.outbox_queues.delete_many({"_id": queue}, session=self.session)

    async def _put(
        self,
        current: StoredResource | None,
        new: StoredResource,
        index: Index | None,
        relationships: Sequence[CareRelationship] = (),
    ) -> None:
        """Move the current-version pointer first (that is where writers collide), then record
        the version and close the previous one's validity interval."""
        session = self.session
        doc = resource_doc(new, index)
        with _conflicts():
            if current is None:
                await self.store.resources.insert_one(doc, session=session)
            else:
                moved = await self.store.resources.replace_one(
                    {"_id": doc["_id"], "version": current.version}, doc, session=session
                )
                if moved.matched_count != 1:
                    raise VersionConflict(await self.read(new.type, new.id))
                await self.store.versions.update_one(
                    {"_id": version_key(new.type, new.id, current.version)},
                    {"$set": {"until_ts": new.ts}},
                    session=session,
                )
            await self.store.versions.insert_one(version_doc(new), session=session)
            if new.deleted or derives_relationships(new.type, relationships):
                live = current is not None and not current.deleted
                await self._relationships(
                    doc["_id"], () if new.deleted else relationships, live, new.deleted
                )
