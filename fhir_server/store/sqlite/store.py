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
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from fhir_server.model import StoredResource
from fhir_server.numbers import parse_count
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search.model import Index, SearchQuery
from fhir_server.search.registry import builtin_params
from fhir_server.store.base import (
    HistoryQuery,
    Indexer,
    InvalidCursor,
    Page,
    Store,
    StoreBusy,
    UnitOfWork,
    VersionConflict,
    keyset_page,
)
from fhir_server.store.sqlite.query import WIDE, compile_count, compile_search, compile_width
from fhir_server.store.sqlite.schema import (
    INDEX_SUFFIXES,
    INDEX_TABLES,
    OLD_TABLES,
    PRAGMAS,
    SCHEMA,
    SCHEMA_VERSION,
    param_key,
    v3_key,
)

T = TypeVar("T")
_log = logging.getLogger(__name__)

_COLUMNS = "type, id, version, ts, deleted, method, content"


def _row(row: tuple[Any, ...]) -> StoredResource:
    return StoredResource(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6])


_LOCK_WAIT_SECONDS = 30.0
_KEPT_BYTES = 64 * 1024 * 1024
"""At most this much resource content is kept for reads, however many versions that is."""


def _connect(path: str, synchronous: str, busy_ms: int) -> sqlite3.Connection:
    # the busy timeout from the first statement on: another process may be creating or
    # migrating the same file (`PRAGMA journal_mode=WAL` waits for it too)
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=busy_ms / 1000
    )
    for pragma in PRAGMAS:
        conn.execute(pragma)
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(f"PRAGMA busy_timeout={busy_ms}")
    return conn


def _busy(err: sqlite3.OperationalError) -> bool:
    return getattr(err, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";\n") if s.strip()]


def _create_or_migrate(conn: sqlite3.Connection) -> list[str]:
    """Create the schema, or bring an older file to the current one (version 1: index keyed by
    type and id; version 2: no ``idx_composite``; version 3: custom parameters keyed like the
    specification's); returns the types whose search index must then be rebuilt. Runs in one
    write transaction, so concurrent server processes starting on the same file migrate it
    once."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        old = (
            found == 0
            and conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'resource'"
            ).fetchone()
        )
        if found not in (0, 2, 3, SCHEMA_VERSION):
            raise RuntimeError(f"{found=}: this server knows SQLite schema {SCHEMA_VERSION}")
        if old:
            for table in OLD_TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute("ALTER TABLE resource ADD COLUMN rk INTEGER NOT NULL DEFAULT 0")
            conn.execute(
                "UPDATE resource SET rk = (SELECT min(v.seq) FROM version v"
                " WHERE v.type = resource.type AND v.id = resource.id)"
            )
        for statement in _statements(SCHEMA):
            conn.execute(statement)
        rebuild = sorted(SERVED_TYPES) if old or found == 2 else []
        if found == 3:
            rebuild = _rekey_custom(conn)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return rebuild


def _rekey_custom(conn: sqlite3.Connection) -> list[str]:
    """Schema 3 → 4: move the rows of every parameter any stored SearchParameter version
    defined from its old key (`v3_key`) to its own (`param_key`). Where an old key was a built-in
    parameter's of the same type (a code chosen to collide), those rows cannot be told from the
    built-in's: that type's index is rebuilt instead (returned), which drops them."""
    collided: set[str] = set()
    seen: set[tuple[str, str]] = set()
    rows = conn.execute(
        "SELECT content FROM version WHERE type = 'SearchParameter' AND content IS NOT NULL"
    )
    for (content,) in rows.fetchall():
        try:
            definition = orjson.loads(content)
        except orjson.JSONDecodeError:
            continue
        code, bases = definition.get("code"), definition.get("base")
        for base in bases if isinstance(code, str) and isinstance(bases, list) else ():
            if base not in SERVED_TYPES or code in builtin_params(base) or (base, code) in seen:
                continue
            seen.add((base, code))
            builtin = {v3_key(base, n + s) for n in builtin_params(base) for s in INDEX_SUFFIXES}
            for suffix in INDEX_SUFFIXES:
                old = v3_key(base, code + suffix)
                if old in builtin:
                    collided.add(base)
                    continue
                for table, *_ in INDEX_TABLES.values():
                    conn.execute(
                        f"UPDATE {table} SET p = ? WHERE p = ?"
                        " AND rk IN (SELECT rk FROM resource WHERE type = ?)",
                        (param_key(base, code + suffix), old, base),
                    )
    if collided:
        _log.warning(
            "custom search parameters of %s had the index keys of built-in ones: rebuilding"
            " the index of those types (run fhir-server reindex to restore the custom"
            " parameters' values)",
            ", ".join(sorted(collided)),
        )
    return sorted(collided)


def _read(conn: sqlite3.Connection, type_: str, id_: str) -> StoredResource | None:
    row = conn.execute(
        "SELECT v.type, v.id, v.version, v.ts, v.deleted, v.method, v.content"
        " FROM resource r JOIN version v ON v.seq = r.seq WHERE r.type = ? AND r.id = ?",
        (type_, id_),
    ).fetchone()
    return _row(row) if row else None


def _search(conn: sqlite3.Connection, query: SearchQuery) -> Page:
    width = compile_width(query)
    drive = width is None or conn.execute(*width).fetchone()[0] < WIDE
    try:
        sql, args = compile_search(query, drive)
    except (ValueError, TypeError) as err:  # a cursor from another sort or a forged one
        raise InvalidCursor(str(err)) from err
    raw = conn.execute(sql, args).fetchall()
    return keyset_page(raw, query, _row, _position if query.sort else _row_id)


def _position(row: tuple[Any, ...]) -> str:
    """A row's keyset position with ``_sort``: its sort values and id."""
    return orjson.dumps([*row[7:], row[1]]).decode()


def _row_id(row: tuple[Any, ...]) -> str:
    return str(row[1])


class SqliteStore(Store):
    retries_work = False  # writers are serialized: no transient conflicts

    def __init__(
        self, path: str, indexer: Indexer, synchronous: str = "FULL", kept: int = 10_000
    ) -> None:
        """``kept``: current versions kept for reads (`read`); 0 keeps none."""
        self.path = path
        self.kept = kept
        self.indexer = indexer
        self.synchronous = synchronous
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._batch: _Batch | None = None
        self._idle_commits: set[asyncio.Future[None]] = set()
        self._in_snapshot = False
        self._current: dict[tuple[str, str], StoredResource] = {}
        self._current_bytes = 0
        self._current_as_of = -1

    @classmethod
    def from_url(
        cls, url: str, indexer: Indexer, synchronous: str = "FULL", kept: int = 10_000
    ) -> SqliteStore:
        path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
        return cls(path or ":memory:", indexer, synchronous, kept)

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._writer = await self._run(lambda: _connect(self.path, self.synchronous, 30_000))
        rebuild = await self._run(lambda: _create_or_migrate(self.writer))
        self.writer.execute("PRAGMA busy_timeout=0")  # SqliteUnitOfWork._begin waits on the loop
        self._reader = _connect(self.path, self.synchronous, 30_000)
        if rebuild:
            await self._rebuild_index(rebuild)

    async def _rebuild_index(self, types: list[str]) -> None:
        _log.warning(
            "SQLite schema upgraded to version %d: rebuilding the search index of %d types",
            SCHEMA_VERSION,
            len(types),
        )
        for type_ in types:
            async for _ in self.reindex_type(type_):
                pass

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
            # starts the read transaction; changes whenever any connection has committed since
            as_of = reader.execute("PRAGMA data_version").fetchone()[0]
            if as_of != self._current_as_of:
                self._current.clear()
                self._current_bytes = 0
                self._current_as_of = as_of
        return reader

    def end_snapshot(self) -> None:
        if self._in_snapshot:
            self._in_snapshot = False
            if self._reader is not None and self._reader.in_transaction:
                self._reader.execute("COMMIT")

    def commit_when_idle(self) -> None:
        """Safety net of group commit: units that left a batch open for others wait for its
        COMMIT; if those others never take the lock (cancelled while waiting), commit it."""
        if self._batch is not None and not self._lock.locked() and not self._waiting:
            task = asyncio.ensure_future(self._commit_idle_batch())
            self._idle_commits.add(task)
            task.add_done_callback(self._idle_commits.discard)

    async def _commit_idle_batch(self) -> None:
        async with self._lock:
            batch, self._batch = self._batch, None
            if batch is None:
                return
            try:
                self.writer.execute("COMMIT")
            except BaseException as err:
                if self.writer.in_transaction:
                    self.writer.execute("ROLLBACK")
                for unit in batch.units:
                    if not unit.done():
                        unit.set_exception(err)
                return
            self.end_snapshot()
            batch.succeed()

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def read(self, type_: str, id_: str) -> StoredResource | None:
        """Current versions read since the database last changed are kept: ``PRAGMA
        data_version`` at the start of each snapshot tells whether any connection, in any
        process, has committed since (then they are all dropped), so a read-mostly server
        answers most reads without a query."""
        snapshot = self.snapshot
        key = (type_, id_)
        found = self._current.get(key)
        if found is None:
            found = _read(snapshot, type_, id_)
            if found is not None and self.kept:
                size = len(found.content or b"")
                if len(self._current) >= self.kept or self._current_bytes + size > _KEPT_BYTES:
                    self._current.clear()
                    self._current_bytes = 0
                self._current[key] = found
                self._current_bytes += size
        return found

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
            seq = parse_count(query.cursor)
            if seq is None:  # not a position this store issued (nor any it could)
                raise ValueError(f"invalid history cursor {query.cursor!r}")
            where.append("seq < ?")
            args.append(seq)
        sql = (
            f"SELECT {_COLUMNS}, seq FROM version WHERE {' AND '.join(where)}"
            " ORDER BY seq DESC LIMIT ?"
        )
        rows = self.snapshot.execute(sql, [*args, query.count + 1]).fetchall()
        more = len(rows) > query.count
        rows = rows[: query.count]
        return Page(
            [_row(r) for r in rows],
            str(rows[-1][7]) if more and rows else None,
            positions=[str(r[7]) for r in rows],
        )

    async def search(self, query: SearchQuery) -> Page:
        return _search(self.snapshot, query)

    async def count(self, query: SearchQuery) -> int:
        sql, args = compile_count(query)
        return int(self.snapshot.execute(sql, args).fetchone()[0])

    def transaction(self) -> UnitOfWork:
        return SqliteUnitOfWork(self)


_SMALL_UNIT = 1
"""Resources written by a unit of work that waits one turn of the loop for others to join
its COMMIT."""
_BATCH_UNITS = 16
_BATCH_SECONDS = 0.02
"""A batch of units of work commits once it holds this many, or is this old."""


class _Batch:
    """Units of work of one process sharing one SQLite transaction, each waiting for its
    ``COMMIT``."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.units: list[asyncio.Future[None]] = []

    def succeed(self) -> None:
        for unit in self.units:
            if not unit.done():
                unit.set_result(None)

    def fail(self, err: BaseException, skip: asyncio.Future[None] | None = None) -> None:
        """Every unit's COMMIT failed; ``skip`` (the unit that ran it) raises by itself."""
        for unit in self.units:
            if unit is not skip and not unit.done():
                unit.set_exception(err)


class SqliteUnitOfWork(UnitOfWork):
    """Index rows are buffered per table and written in one ``executemany`` each: before the
    unit of work searches, reads a buffered resource's rows back, or commits (a 100-entry
    Bundle makes 7 inserts, not 2,500). Units of one process that arrive together share one
    COMMIT (`_settle`), each in its own savepoint."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.indexer = store.indexer
        self._pending: dict[str, list[tuple[Any, ...]]] = {}
        self._pending_rks: set[int] = set()
        self._writes = 0

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        self._pending_rks.clear()
        for table, rows in pending.items():
            self.store.writer.executemany(_INSERTS[table], rows)

    def _buffer(self, rk: int, rows: dict[str, set[tuple[Any, ...]]]) -> None:
        for table, values in rows.items():
            if values:
                self._pending.setdefault(table, []).extend((rk, *v) for v in values)
                self._pending_rks.add(rk)

    async def _begin(self) -> None:
        """Take this process's lock; join the SQLite transaction of the batch still open (see
        `_settle`) or begin one, taking SQLite's write lock — polled from the loop while another
        process holds it. Never taken on a thread: a thread that got it would hold it until the
        loop came round to resume the unit of work, after whatever validation it was busy
        with, while the other process could have used it. Each unit runs in a savepoint."""
        store = self.store
        store._waiting += 1
        try:
            await store._lock.acquire()
        except BaseException:  # cancelled while waiting: a batch may have been left for it
            store._waiting -= 1
            store.commit_when_idle()
            raise
        store._waiting -= 1
        try:
            if store._batch is None:
                await self._begin_immediate()
                store._batch = _Batch()
            self._execute("SAVEPOINT unit")
        except BaseException:
            if store._batch is not None and not store._batch.units:
                store._batch = None
                self._rollback_all()
            store._lock.release()
            store.commit_when_idle()
            raise

    async def _begin_immediate(self) -> None:
        deadline, pause = time.monotonic() + _LOCK_WAIT_SECONDS, 0.0005
        while True:
            try:
                self._execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as err:
                if not _busy(err):
                    raise
                if time.monotonic() > deadline:
                    raise StoreBusy(
                        f"the write lock was not free within {_LOCK_WAIT_SECONDS:g} s"
                    ) from err
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.002)

    async def _commit(self) -> None:
        try:
            self._flush()
            self._execute("RELEASE unit")
        except BaseException:
            self._undo_unit()
            await self._settle(None)
            raise
        await self._settle(asyncio.get_running_loop().create_future())

    async def _rollback(self) -> None:
        self._undo_unit()
        await self._settle(None)

    def _undo_unit(self) -> None:
        db = self.store.writer
        if db.in_transaction:
            db.execute("ROLLBACK TO unit")
            db.execute("RELEASE unit")

    async def _settle(self, done: asyncio.Future[None] | None) -> None:
        """Group commit. A finished unit (``done``: it succeeded) whose process has more units
        waiting for the lock leaves the SQLite transaction open for them and waits for the one
        ``COMMIT`` of the batch; the last unit of a batch (nobody waiting, or the batch full)
        commits for all. COMMIT runs on the loop: it appends the dirty pages to the WAL and
        syncs it, a millisecond or two, and on the writer thread the write lock waited for the
        GIL twice (up to the 5 ms switch interval each way) for that. A unit is answered only
        after its batch committed; a failed unit's savepoint is rolled back alone."""
        store = self.store
        batch = store._batch
        assert batch is not None
        cancelled = False
        if done is not None:
            batch.units.append(done)
            if not store._waiting and self._writes <= _SMALL_UNIT:
                # a single-resource write: requests under way may reach their unit of work in
                # one turn of the loop and share this COMMIT (a Bundle's does not wait: the
                # lock would be held through other requests' validation)
                try:
                    await asyncio.sleep(0)
                except asyncio.CancelledError:
                    cancelled = True  # settle first: this unit holds the lock
        more = store._waiting and len(batch.units) < _BATCH_UNITS
        if cancelled:
            more = False
        if more and time.monotonic() - batch.started < _BATCH_SECONDS:
            store._lock.release()  # the next unit joins this transaction
            asyncio.get_running_loop().call_soon(store.commit_when_idle)
            if done is not None:
                await asyncio.shield(done)
            return
        store._batch = None
        try:
            self._execute("COMMIT")
        except BaseException as err:
            self._rollback_all()
            batch.fail(err, skip=done)
            store._lock.release()
            raise
        store.end_snapshot()  # this process's later reads must see this commit
        batch.succeed()
        store._lock.release()
        if cancelled:
            raise asyncio.CancelledError

    def _execute(self, sql: str) -> None:
        self.store.writer.execute(sql)

    def _rollback_all(self) -> None:
        if self.store.writer.in_transaction:
            self.store.writer.execute("ROLLBACK")

    async def read(self, type_: str, id_: str) -> StoredResource | None:
        return _read(self.store.writer, type_, id_)

    async def search(self, query: SearchQuery) -> Page:
        self._flush()
        return _search(self.store.writer, query)

    async def lock(self, key: str) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already serializes every writer."""

    async def reindex(self, current: StoredResource, index: Index) -> None:
        self._writes += 1
        row = self.store.writer.execute(
            "SELECT rk FROM resource WHERE type = ? AND id = ? AND version = ?",
            (current.type, current.id, current.version),
        ).fetchone()
        if row is not None:
            self._replace_rows(row[0], _rows(current.type, index))

    async def _put(
        self, current: StoredResource | None, new: StoredResource, index: Index | None
    ) -> None:
        db = self.store.writer
        key = (new.type, new.id)
        self._writes += 1
        if current is not None:
            cur = db.execute(
                "UPDATE version SET until_ts = ? WHERE type = ? AND id = ? AND version = ?"
                " AND until_ts IS NULL",
                (new.ts, *key, current.version),
            )
            if cur.rowcount != 1:
                raise VersionConflict(_read(db, *key))
        try:
            seq = db.execute(
                "INSERT INTO version (type, id, version, ts, method, deleted, content)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*key, new.version, new.ts, new.method, int(new.deleted), new.content),
            ).lastrowid
            rk = db.execute(
                _INSERT_RESOURCE if current is None else _MOVE_RESOURCE,
                (*key, seq, new.version, int(new.deleted), seq),
            ).fetchone()[0]
        except sqlite3.IntegrityError:  # a version 1 of a "new" resource exists after all
            raise VersionConflict(_read(db, *key)) from None
        rows = _rows(new.type, index) if index is not None else {}
        if current is None or current.deleted:
            self._buffer(rk, rows)  # a new (or re-created) resource has no index rows yet
        else:
            self._replace_rows(rk, rows)

    def _replace_rows(self, rk: int, rows: dict[str, set[tuple[Any, ...]]]) -> None:
        """Write only what changed: an update that keeps most values (a status change) leaves
        their rows, and the value indexes' pages, alone."""
        if rk in self._pending_rks:
            self._flush()
        db = self.store.writer
        added: dict[str, set[tuple[Any, ...]]] = {}
        for table, columns in _TABLE_COLUMNS.items():
            new = rows.get(table, set())
            old = set(db.execute(f"SELECT {columns} FROM {table} WHERE rk = ?", (rk,)))
            if old and not new:
                db.execute(f"DELETE FROM {table} WHERE rk = ?", (rk,))
            elif old - new:
                db.executemany(_DELETES[table], [(rk, *v) for v in old - new])
            added[table] = new - old
        self._buffer(rk, added)


_INSERT_RESOURCE = (
    "INSERT INTO resource (type, id, seq, version, deleted, rk) VALUES (?, ?, ?, ?, ?, ?)"
    " RETURNING rk"
)
_MOVE_RESOURCE = (
    _INSERT_RESOURCE.removesuffix(" RETURNING rk")
    + " ON CONFLICT (type, id) DO UPDATE SET seq = excluded.seq, version = excluded.version,"
    " deleted = excluded.deleted RETURNING rk"
)
_TABLE_COLUMNS = {cols[0]: ", ".join(("p", *cols[1:])) for cols in INDEX_TABLES.values()}
_INSERTS = {
    table: f"INSERT INTO {table} (rk, {columns}) VALUES (?{', ?' * (columns.count(',') + 1)})"
    for table, columns in _TABLE_COLUMNS.items()
}
_DELETES = {
    table: f"DELETE FROM {table} WHERE rk = ? AND "
    + " AND ".join(f"{c} = ?" for c in columns.split(", "))
    for table, columns in _TABLE_COLUMNS.items()
}


def _token(p: int, row: tuple[Any, ...]) -> tuple[Any, ...]:
    _, system, code = row
    return (p, code, system or "")


def _quantity(p: int, row: tuple[Any, ...]) -> tuple[Any, ...]:
    _, system, code, lo, hi = row
    return (p, lo, hi, system or "", code or "")


def _reference(p: int, row: tuple[Any, ...]) -> tuple[Any, ...]:
    _, rtype, rid, url = row
    return (p, rid or "", rtype or "", url or "")


def _composite(p: int, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """No value part is ``''``, no range ``0``: a parameter's second component has one type,
    so an unused part never meets a condition (see ``query._composite``)."""
    _, system, code, v, vs, lo, hi = row
    return (p, code, system or "", v or "", vs or "", lo or 0, hi or 0)


def _plain(p: int, row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (p, *row[1:])


_CONVERT = {
    "tokens": _token,
    "quantities": _quantity,
    "references": _reference,
    "composites": _composite,
}


def _rows(type_: str, index: Index) -> dict[str, set[tuple[Any, ...]]]:
    """The index rows of a resource per table, without ``rk``; a set, so a value that occurs
    twice in a resource (the same code in two codings) is one row."""
    out: dict[str, set[tuple[Any, ...]]] = {}
    for field, (table, *_) in INDEX_TABLES.items():
        convert = _CONVERT.get(field, _plain)
        values = getattr(index, field)
        if values:
            out[table] = {convert(param_key(type_, row[0]), row) for row in values}
    return out
