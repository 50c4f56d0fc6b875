"""The embedded store: one SQLite file in WAL mode.

Reads run on the event loop against a read connection (a primary-key lookup costs microseconds,
less than a hop to a thread). The reads of one event-loop iteration share one read transaction
(`snapshot`), ended by the next iteration or by this process's next commit: taking and releasing
SQLite's WAL read lock per statement costs two system calls, as much as the lookup itself.
A client can only ask for its own write after the reply to it, which is sent after the commit, so
a snapshot that short never hides a write from the client who made it.

Writes use one writer connection, one unit of work at a time per process; ``BEGIN IMMEDIATE``
serializes writers across processes, so version checks inside a unit of work cannot race. The
statements of a unit of work, ``COMMIT`` included, run on the loop, and units that arrive
together share one ``COMMIT`` (see `SqliteUnitOfWork`); the writer thread only opens and closes
the connection.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from fhir_server.numbers import parse_count
from fhir_server.search.terms import SearchQuery
from fhir_server.store.base import (
    DEFERRED_BATCH,
    DatabaseTenant,
    HistoryQuery,
    Indexer,
    Page,
    Store,
    UnitOfWork,
    search_types,
)
from fhir_server.store.sqlite import relationships
from fhir_server.store.sqlite.connection import connect
from fhir_server.store.sqlite.group_commit import GroupCommit
from fhir_server.store.sqlite.migration import Rebuild, create_or_migrate
from fhir_server.store.sqlite.query import compile_count
from fhir_server.store.sqlite.read_cache import CurrentVersions
from fhir_server.store.sqlite.rows import COLUMNS, read_current, search_page, stored
from fhir_server.store.sqlite.schema import SCHEMA_VERSION
from fhir_server.store.sqlite.unit_of_work import SqliteUnitOfWork
from fhir_server.stored import StoredResource

__all__ = ["SqliteStore", "SqliteUnitOfWork"]

T = TypeVar("T")
_log = logging.getLogger(__name__)


class SqliteStore(Store):
    retries_work = False  # writers are serialized: no transient conflicts

    def __init__(
        self, path: str, indexer: Indexer, synchronous: str = "FULL", kept: int = 10_000
    ) -> None:
        """``kept``: current versions kept for reads (`read`); 0 keeps none."""
        self.path = path
        self.indexer = indexer
        self.synchronous = synchronous
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.commits = GroupCommit(lambda: self.writer, self.end_snapshot, self._run)
        self._in_snapshot = False
        self._data_version = -1
        self.generation = -1
        """What the snapshot saw of ``data_change.n`` (`schema.DATA_CHANGE`)."""
        self.current = CurrentVersions(kept)
        self._indexing: SqliteStore | None = None
        """The deferred journal's indexer: this file through connections of its own that commit
        without syncing (`index_deferred`)."""

    @classmethod
    def from_url(
        cls, url: str, indexer: Indexer, synchronous: str = "FULL", kept: int = 10_000
    ) -> SqliteStore:
        path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
        return cls(path or ":memory:", indexer, synchronous, kept)

    def lend_database(self, tenant: DatabaseTenant[T]) -> T:
        return tenant.sqlite_file(self.path)

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._writer = await self._run(lambda: connect(self.path, self.synchronous, 30_000))
        rebuild = await self._run(lambda: create_or_migrate(self.writer))
        self.writer.execute("PRAGMA busy_timeout=0")  # SqliteUnitOfWork._begin waits on the loop
        self._reader = connect(self.path, self.synchronous, 30_000)
        if rebuild.search or rebuild.relationships:
            await self._rebuild(rebuild)

    async def _rebuild(self, rebuild: Rebuild) -> None:
        _log.warning(
            "SQLite schema upgraded to version %d: rebuilding the search index of %d types,"
            " the care relationships of %d more",
            SCHEMA_VERSION,
            len(rebuild.search),
            len(rebuild.relationships),
        )
        for type_ in rebuild.search:
            async for _ in self.reindex_type(type_):
                pass
        for type_ in rebuild.relationships:
            async for _ in self.reindex_type(type_, search_index=False):
                pass

    async def close(self) -> None:
        if self._indexing is not None:
            await self._indexing.close()
            self._indexing = None
        self.end_snapshot()
        if self._reader:
            self._reader.close()
        if self._writer:
            await self._run(self._writer.close)
        if self._executor:
            self._executor.shutdown(wait=True)
        self._reader = self._writer = self._executor = None

    @property
    def reader(self) -> sqlite3.Connection:
        assert self._reader is not None, "store is not open"
        return self._reader

    @property
    def writer(self) -> sqlite3.Connection:
        assert self._writer is not None, "store is not open"
        return self._writer

    @property
    def snapshot(self) -> sqlite3.Connection:
        """The read connection inside this loop iteration's read transaction."""
        reader = self.reader
        if not self._in_snapshot:
            reader.execute("BEGIN")
            self._in_snapshot = True
            asyncio.get_running_loop().call_soon(self.end_snapshot)
            # starts the read transaction; changes whenever any connection has committed since
            as_of = reader.execute("PRAGMA data_version").fetchone()[0]
            if as_of != self._data_version:  # a commit: did it change more than the audit?
                self._data_version = as_of
                self.generation = reader.execute("SELECT n FROM data_change").fetchone()[0]
                self.current.since(self.generation)
        return reader

    async def data_generation(self) -> int | None:
        """``data_change.n`` as this iteration's read snapshot sees it (`schema.DATA_CHANGE`)."""
        self.snapshot  # noqa: B018 (begins the snapshot, reading it)
        return self.generation

    def end_snapshot(self) -> None:
        if self._in_snapshot:
            self._in_snapshot = False
            if self._reader is not None and self._reader.in_transaction:
                self._reader.execute("COMMIT")

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def read(self, type_: str, id_: str) -> StoredResource | None:
        """Current versions read since the database last changed are kept: ``PRAGMA
        data_version`` at the start of each snapshot tells whether any connection, in any
        process, has committed since, and ``data_change.n`` whether that commit changed more
        than adding AuditEvents (then they are all dropped), so a read-mostly server answers
        most reads without a query, audited or not."""
        await self.drain_deferred((type_,))
        snapshot = self.snapshot
        key = (type_, id_)
        found = self.current.get(key)
        if found is None:
            found = read_current(snapshot, type_, id_)
            if found is not None:
                self.current.keep(key, found)
        return found

    async def vread(self, type_: str, id_: str, version: int) -> StoredResource | None:
        await self.drain_deferred((type_,))
        row = self.snapshot.execute(
            f"SELECT {COLUMNS} FROM version WHERE type = ? AND id = ? AND version = ?",
            (type_, id_, version),
        ).fetchone()
        return stored(row) if row else None

    async def history(self, query: HistoryQuery) -> Page:
        await self.drain_deferred(None if query.type is None else (query.type,))
        where: list[str] = ["1"]
        args: list[Any] = []
        for column, value in (("type", query.type), ("id", query.id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if query.since is not None:
            where.append("ts >= ?")
            args.append(query.since)
        if query.at is not None:
            where.append("ts < ? AND (until_ts IS NULL OR until_ts > ?)")
            args.extend([query.at[1], query.at[0]])
        if query.cursor is not None:
            seq = parse_count(query.cursor)
            if seq is None:  # not a position this store issued (nor any it could)
                raise ValueError(f"invalid history cursor {query.cursor!r}")
            where.append("seq < ?")
            args.append(seq)
        sql = (
            f"SELECT {COLUMNS}, seq FROM version WHERE {' AND '.join(where)}"
            " ORDER BY seq DESC LIMIT ?"
        )
        rows = self.snapshot.execute(sql, [*args, query.count + 1]).fetchall()
        more = len(rows) > query.count
        rows = rows[: query.count]
        return Page(
            [stored(r) for r in rows],
            str(rows[-1][7]) if more and rows else None,
            positions=[str(r[7]) for r in rows],
        )

    async def search(self, query: SearchQuery) -> Page:
        await self.drain_deferred(search_types(query))
        return search_page(self.snapshot, query)

    async def last_written(self, types: Sequence[str]) -> tuple[str | None, ...]:
        """The newest ``seq`` of each type: one lookup at the end of ``version_by_type_seq``
        each (a few µs), no content read."""
        if not types:
            return ()
        sql = ", ".join("(SELECT max(seq) FROM version WHERE type = ?)" for _ in types)
        row = self.snapshot.execute(f"SELECT {sql}", list(types)).fetchone()
        return tuple(None if seq is None else str(seq) for seq in row)

    async def count(self, query: SearchQuery) -> int:
        await self.drain_deferred(search_types(query))
        sql, args = compile_count(query)
        return int(self.snapshot.execute(sql, args).fetchone()[0])

    async def related_patients(self, holders: Sequence[str], at: str) -> set[str]:
        return relationships.related_patients(self.snapshot, holders, at)

    async def is_related(self, patient: str, holders: Sequence[str], at: str) -> bool:
        return relationships.is_related(self.snapshot, patient, holders, at)

    def transaction(self) -> UnitOfWork:
        return SqliteUnitOfWork(self)

    async def index_deferred(self, limit: int = DEFERRED_BATCH) -> int:
        """As `Store.index_deferred`, through connections of its own with ``synchronous=NORMAL``:
        its COMMIT does not wait for the disk (with ``FULL`` every indexer batch cost the
        audited reads queued behind the write lock a second fsync). Nothing acknowledged can be
        lost by that: the commit only moves journal rows into stored resources, and a WAL
        transaction is lost on power failure only whole, with every later one — the next
        synced commit (any write, any audit batch, a checkpoint) syncs it too. An in-memory
        database has no second connection: indexed on this one."""
        if self.path == ":memory:":
            return await super().index_deferred(limit)
        if self._indexing is None:
            indexing = SqliteStore(self.path, self.indexer, "NORMAL", kept=0)
            await indexing.open()
            self._indexing = indexing
        self._indexing.indexer = self.indexer
        self._indexing.base_url = self.base_url
        self._indexing._deferred_indexers = self._deferred_indexers
        done = await self._indexing.index_deferred_here(limit)
        self.end_snapshot()  # this store's next read sees what was stored
        return done

    async def index_deferred_here(self, limit: int) -> int:
        return await super().index_deferred(limit)

    async def deferred_depth(self) -> int:
        return int(self.snapshot.execute("SELECT count(*) FROM deferred").fetchone()[0])

    async def outbox_heads(self) -> dict[str, tuple[int, int]]:
        rows = self.snapshot.execute("SELECT queue, n, mark FROM outbox_queue").fetchall()
        return {str(q): (int(n), int(m)) for q, n, m in rows}

    async def has_deferred(self, types: Collection[str] | None) -> bool:
        """One probe of ``deferred_by_type`` (or of the table), in the read snapshot."""
        if types is None:
            sql, args = "SELECT 1 FROM deferred LIMIT 1", []
        else:
            marks = ", ".join("?" for _ in types)
            sql, args = f"SELECT 1 FROM deferred WHERE type IN ({marks}) LIMIT 1", list(types)
        return self.snapshot.execute(sql, args).fetchone() is not None
