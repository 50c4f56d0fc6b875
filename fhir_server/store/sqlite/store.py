"""The embedded store: one SQLite file in WAL mode.

Reads run on the event loop against a read connection (a primary-key lookup costs microseconds,
less than a hop to a thread). The reads of one event-loop iteration share one read transaction
(`snapshot`), ended by the next iteration or by this process's next commit: taking and releasing
SQLite's WAL read lock per statement costs two system calls, as much as the lookup itself.
A client can only ask for its own write after the reply to it, which is sent after the commit, so
a snapshot that short never hides a write from the client who made it.

Writes use one writer connection, one unit of work at a time per process; ``BEGIN IMMEDIATE``
serializes writers across processes, so version checks inside a unit of work cannot race. The
statements of a unit of work run on the loop; only waiting for another process's write lock and
``COMMIT`` (fsync) go to the writer thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from fhir_server.model import StoredResource
from fhir_server.search.model import Index, SearchQuery
from fhir_server.store.base import (
    HistoryQuery,
    Indexer,
    InvalidCursor,
    Page,
    Store,
    UnitOfWork,
    VersionConflict,
)
from fhir_server.store.sqlite.query import compile_count, compile_search
from fhir_server.store.sqlite.schema import INDEX_TABLES, PRAGMAS, SCHEMA

T = TypeVar("T")

_COLUMNS = "type, id, version, ts, deleted, method, content"


def _row(row: tuple[Any, ...]) -> StoredResource:
    return StoredResource(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6])


_LOCK_WAIT_SECONDS = 30.0


def _connect(path: str, synchronous: str, busy_ms: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(f"PRAGMA busy_timeout={busy_ms}")
    return conn


def _busy(err: sqlite3.OperationalError) -> bool:
    return getattr(err, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _begin_waiting(conn: sqlite3.Connection) -> None:
    """On the writer thread: wait for another process to release the write lock."""
    deadline, pause = time.monotonic() + _LOCK_WAIT_SECONDS, 0.0005
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as err:
            if not _busy(err) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.02)


def _read(conn: sqlite3.Connection, type_: str, id_: str) -> StoredResource | None:
    row = conn.execute(
        "SELECT v.type, v.id, v.version, v.ts, v.deleted, v.method, v.content"
        " FROM resource r JOIN version v ON v.seq = r.seq WHERE r.type = ? AND r.id = ?",
        (type_, id_),
    ).fetchone()
    return _row(row) if row else None


def _search(conn: sqlite3.Connection, query: SearchQuery) -> Page:
    try:
        sql, args = compile_search(query)
    except (ValueError, TypeError) as err:  # a cursor from another sort or a forged one
        raise InvalidCursor(str(err)) from err
    raw = conn.execute(sql, args).fetchall()
    more = len(raw) > query.count
    raw = raw[: query.count]
    cursor = None
    if more and raw:  # the last row's position: its sort values and id
        last = raw[-1]
        cursor = orjson.dumps([*last[7:], last[1]]).decode() if query.sort else last[1]
    return Page([_row(r) for r in raw], cursor)


class SqliteStore(Store):
    retries_work = False  # writers are serialized: no transient conflicts

    def __init__(self, path: str, indexer: Indexer, synchronous: str = "FULL") -> None:
        self.path = path
        self.indexer = indexer
        self.synchronous = synchronous
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lock = asyncio.Lock()
        self._in_snapshot = False

    @classmethod
    def from_url(cls, url: str, indexer: Indexer, synchronous: str = "FULL") -> SqliteStore:
        path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
        return cls(path or ":memory:", indexer, synchronous)

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._writer = await self._run(lambda: _connect(self.path, self.synchronous, 30_000))
        await self._run(lambda: self.writer.executescript(SCHEMA))
        self.writer.execute("PRAGMA busy_timeout=0")  # waiting happens in _begin_waiting
        self._reader = _connect(self.path, self.synchronous, 30_000)

    async def close(self) -> None:
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
        return reader

    def end_snapshot(self) -> None:
        if self._in_snapshot:
            self._in_snapshot = False
            if self._reader is not None and self._reader.in_transaction:
                self._reader.execute("COMMIT")

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def read(self, type_: str, id_: str) -> StoredResource | None:
        return _read(self.snapshot, type_, id_)

    async def vread(self, type_: str, id_: str, version: int) -> StoredResource | None:
        row = self.snapshot.execute(
            f"SELECT {_COLUMNS} FROM version WHERE type = ? AND id = ? AND version = ?",
            (type_, id_, version),
        ).fetchone()
        return _row(row) if row else None

    async def history(self, query: HistoryQuery) -> Page:
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
            where.append("seq < ?")
            args.append(int(query.cursor))
        sql = (
            f"SELECT {_COLUMNS}, seq FROM version WHERE {' AND '.join(where)}"
            " ORDER BY seq DESC LIMIT ?"
        )
        rows = self.snapshot.execute(sql, [*args, query.count + 1]).fetchall()
        more = len(rows) > query.count
        rows = rows[: query.count]
        return Page([_row(r) for r in rows], str(rows[-1][7]) if more and rows else None)

    async def search(self, query: SearchQuery) -> Page:
        return _search(self.snapshot, query)

    async def count(self, query: SearchQuery) -> int:
        sql, args = compile_count(query)
        return int(self.snapshot.execute(sql, args).fetchone()[0])

    def transaction(self) -> UnitOfWork:
        return SqliteUnitOfWork(self)


class SqliteUnitOfWork(UnitOfWork):
    """Index rows are buffered per table and written in one ``executemany`` each: before the
    unit of work searches, deletes index rows, or commits (a 100-entry Bundle makes 8 inserts,
    not 500)."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.indexer = store.indexer
        self._pending: dict[str, list[tuple[Any, ...]]] = {}

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for sql, rows in pending.items():
            self.store.writer.executemany(sql, rows)

    async def _begin(self) -> None:
        await self.store._lock.acquire()
        try:
            self._execute("BEGIN IMMEDIATE")  # the write lock is usually free: take it here
            return
        except sqlite3.OperationalError as err:
            if not _busy(err):
                self.store._lock.release()
                raise
        # another process holds the write lock: wait for it on the writer thread
        begun = asyncio.ensure_future(self.store._run(lambda: _begin_waiting(self.store.writer)))
        try:
            await asyncio.shield(begun)
        except BaseException:
            # cancelled while waiting for the write lock: finish (and undo) in the background
            begun.add_done_callback(lambda _: self._rollback_now())
            raise

    async def _commit(self) -> None:
        try:
            self._flush()
        except BaseException:
            self._rollback_now()
            raise
        committed = asyncio.ensure_future(self.store._run(lambda: self._execute("COMMIT")))
        committed.add_done_callback(self._settle)
        # a cancelled caller must not interrupt COMMIT half-way on the writer thread
        await asyncio.shield(committed)

    async def _rollback(self) -> None:
        self._rollback_now()

    def _execute(self, sql: str) -> None:
        self.store.writer.execute(sql)

    def _settle(self, committed: asyncio.Future[None]) -> None:
        if committed.cancelled() or committed.exception() is not None:
            self._rollback_now()
        else:
            self.store.end_snapshot()  # this process's later reads must see this commit
            self.store._lock.release()

    def _rollback_now(self) -> None:
        try:
            if self.store.writer.in_transaction:
                self.store.writer.execute("ROLLBACK")
        finally:
            self.store._lock.release()

    async def read(self, type_: str, id_: str) -> StoredResource | None:
        return _read(self.store.writer, type_, id_)

    async def search(self, query: SearchQuery) -> Page:
        self._flush()
        return _search(self.store.writer, query)

    async def lock(self, key: str) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already serializes every writer."""

    async def reindex(self, current: StoredResource, index: Index) -> None:
        self._flush()
        key = (current.type, current.id)
        for table in _ALL_INDEX_TABLES:
            self.store.writer.execute(f"DELETE FROM {table} WHERE type = ? AND id = ?", key)
        _buffer_index(self._pending, key, index)

    async def _put(
        self, current: StoredResource | None, new: StoredResource, index: Index | None
    ) -> None:
        db = self.store.writer
        key = (new.type, new.id)
        if current is not None:
            cur = db.execute(
                "UPDATE version SET until_ts = ? WHERE type = ? AND id = ? AND version = ?"
                " AND until_ts IS NULL",
                (new.ts, *key, current.version),
            )
            if cur.rowcount != 1:
                raise VersionConflict(_read(db, *key))
        seq = db.execute(
            "INSERT INTO version (type, id, version, ts, method, deleted, content)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (*key, new.version, new.ts, new.method, int(new.deleted), new.content),
        ).lastrowid
        db.execute(
            "INSERT INTO resource (type, id, seq, version, deleted) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (type, id) DO UPDATE SET seq = excluded.seq,"
            " version = excluded.version, deleted = excluded.deleted",
            (*key, seq, new.version, int(new.deleted)),
        )
        if current is not None:
            self._flush()
            for table in _ALL_INDEX_TABLES:
                db.execute(f"DELETE FROM {table} WHERE type = ? AND id = ?", key)
        if index is not None:
            _buffer_index(self._pending, key, index)


_ALL_INDEX_TABLES = [t[0] for t in INDEX_TABLES.values()] + ["idx_present"]
_INSERTS = {
    field: f"INSERT INTO {cols[0]} (type, id, {', '.join(cols[1:])})"
    f" VALUES (?, ?{', ?' * (len(cols) - 1)})"
    for field, cols in INDEX_TABLES.items()
}
_INSERT_PRESENT = "INSERT INTO idx_present (type, id, param) VALUES (?, ?, ?)"


def _buffer_index(
    pending: dict[str, list[tuple[Any, ...]]], key: tuple[str, str], index: Index
) -> None:
    for field, sql in _INSERTS.items():
        rows = getattr(index, field)
        if rows:
            pending.setdefault(sql, []).extend((*key, *row) for row in rows)
    if index.present:
        pending.setdefault(_INSERT_PRESENT, []).extend((*key, p) for p in index.present)
