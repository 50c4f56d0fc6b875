"""The SQLite unit of work: one writer at a time per process (``BEGIN IMMEDIATE`` serializes
writers across processes, so version checks inside a unit of work cannot race), index rows
buffered and written in bulk, and the ``COMMIT`` shared with the units that arrive together
(`group_commit`)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from fhir_server.care_relationships import CareRelationship
from fhir_server.search.terms import Index, SearchQuery
from fhir_server.store.base import (
    Page,
    Referrer,
    StoreBusy,
    UnitOfWork,
    VersionConflict,
    derives_relationships,
)
from fhir_server.store.sqlite import relationships as _relationships
from fhir_server.store.sqlite.connection import is_busy
from fhir_server.store.sqlite.group_commit import Batch
from fhir_server.store.sqlite.index_rows import (
    DELETES,
    INSERT_RESOURCE,
    INSERTS,
    MOVE_RESOURCE,
    TABLE_COLUMNS,
    index_rows,
)
from fhir_server.store.sqlite.rows import read_current, search_page
from fhir_server.store.sqlite.schema import param_key
from fhir_server.stored import StoredResource

if TYPE_CHECKING:
    from fhir_server.store.sqlite.store import SqliteStore

_KEYS_PER_QUERY = 400
"""(type, id) pairs one existence look-up asks for: well under SQLite's limit of bound values."""

LOCK_WAIT_SECONDS = 30.0
"""How long a unit of work waits for another process to let go of SQLite's write lock."""


class SqliteUnitOfWork(UnitOfWork):
    """Index rows are buffered per table and written in one ``executemany`` each: before the
    unit of work searches, reads a buffered resource's rows back, or commits (a 100-entry
    Bundle makes 7 inserts, not 2,500). Units of one process that arrive together share one
    COMMIT (`GroupCommit.settle`), each in its own savepoint."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.indexer = store.indexer
        self.base_url = store.base_url
        self._pending: dict[str, list[tuple[Any, ...]]] = {}
        self._pending_rks: set[int] = set()
        self._writes = 0
        self.changes_of = store.changes_of

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        self._pending_rks.clear()
        for table, rows in pending.items():
            self.store.writer.executemany(INSERTS[table], rows)

    def _buffer(self, rk: int, rows: dict[str, set[tuple[Any, ...]]]) -> None:
        for table, values in rows.items():
            if values:
                self._pending.setdefault(table, []).extend((rk, *v) for v in values)
                self._pending_rks.add(rk)

    async def _begin(self) -> None:
        """Take this process's lock; join the SQLite transaction of the batch still open (see
        `GroupCommit.settle`) or begin one, taking SQLite's write lock — polled from the loop
        while another process holds it. Never taken on a thread: a thread that got it would hold
        it until the loop came round to resume the unit of work, after whatever validation it
        was busy with, while the other process could have used it. Each unit runs in a
        savepoint."""
        commits = self.store.commits
        commits.waiting += 1
        try:
            await commits.lock.acquire()
        except BaseException:  # cancelled while waiting: a batch may have been left for it
            commits.waiting -= 1
            commits.commit_when_idle()
            raise
        commits.waiting -= 1
        try:
            if commits.batch is None:
                await self._begin_immediate()
                commits.batch = Batch()
            self._execute("SAVEPOINT unit")
        except BaseException:
            if commits.batch is not None and not commits.batch.units:
                commits.batch = None
                self._rollback_all()
            commits.lock.release()
            commits.commit_when_idle()
            raise

    async def _begin_immediate(self) -> None:
        deadline, pause = time.monotonic() + LOCK_WAIT_SECONDS, 0.0005
        while True:
            try:
                self._execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as err:
                if not is_busy(err):
                    raise
                if time.monotonic() > deadline:
                    raise StoreBusy(
                        f"the write lock was not free within {LOCK_WAIT_SECONDS:g} s"
                    ) from err
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.002)

    async def _commit(self) -> None:
        try:
            self._flush()
            self._execute("RELEASE unit")
        except BaseException:
            self._undo_unit()
            await self.store.commits.settle(self, None)
            raise
        await self.store.commits.settle(self, asyncio.get_running_loop().create_future())

    async def _rollback(self) -> None:
        self._undo_unit()
        await self.store.commits.settle(self, None)

    def _undo_unit(self) -> None:
        db = self.store.writer
        if db.in_transaction:
            db.execute("ROLLBACK TO unit")
            db.execute("RELEASE unit")

    def _execute(self, sql: str) -> None:
        self.store.writer.execute(sql)

    def _rollback_all(self) -> None:
        if self.store.writer.in_transaction:
            self.store.writer.execute("ROLLBACK")

    async def read(self, type_: str, id_: str) -> StoredResource | None:
        return read_current(self.store.writer, type_, id_)

    async def search(self, query: SearchQuery) -> Page:
        self._flush()
        return search_page(self.store.writer, query)

    async def lock(self, key: str) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already serializes every writer."""

    async def reindex(
        self,
        current: StoredResource,
        index: Index | None,
        relationships: Sequence[CareRelationship] | None = None,
    ) -> None:
        self._writes += 1
        row = self.store.writer.execute(
            "SELECT rk FROM resource WHERE type = ? AND id = ? AND version = ?",
            (current.type, current.id, current.version),
        ).fetchone()
        if row is not None:
            if index is not None:
                self._replaceindex_rows(row[0], index_rows(current.type, index))
            if relationships is not None:
                _relationships.replace(self.store.writer, row[0], relationships)

    async def related_patients(self, holders: Sequence[str], at: str) -> set[str]:
        return _relationships.related_patients(self.store.writer, holders, at)

    async def is_related(self, patient: str, holders: Sequence[str], at: str) -> bool:
        return _relationships.is_related(self.store.writer, patient, holders, at)

    async def relate(self, patient: str, holder: str, kind: str, start: str) -> None:
        # no resource written: a create that records its creator still shares a COMMIT
        _relationships.record(self.store.writer, patient, holder, kind, start)

    async def live(self, keys: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        db = self.store.writer
        out: set[tuple[str, str]] = set()
        ordered = sorted(set(keys))
        for i in range(0, len(ordered), _KEYS_PER_QUERY):
            chunk = ordered[i : i + _KEYS_PER_QUERY]
            by_type: dict[str, list[str]] = {}
            for type_, id_ in chunk:
                by_type.setdefault(type_, []).append(id_)
            # one statement: a range of the primary key per type
            where = " OR ".join(
                f"(type = ? AND id IN ({','.join('?' * len(ids))}))" for ids in by_type.values()
            )
            args = [v for type_, ids in by_type.items() for v in (type_, *ids)]
            sql = f"SELECT type, id FROM resource WHERE deleted = 0 AND ({where})"
            out.update(db.execute(sql, args))
        return out

    async def referrers(
        self, targets: Collection[tuple[str, str]], params: Sequence[tuple[str, str]], limit: int
    ) -> list[Referrer]:
        self._flush()  # the index rows this unit has buffered count too
        keys = {param_key(type_, name): name for type_, name in params}
        marks = ",".join("?" * len(keys))
        sql = (
            "SELECT r.type, r.id, x.p, x.url FROM idx_reference x JOIN resource r ON r.rk = x.rk"
            f" WHERE x.p IN ({marks}) AND x.rid = ? AND x.rtype = ? AND x.rid <> ''"
            " AND r.deleted = 0 LIMIT ?"
        )
        out: list[Referrer] = []
        for rtype, rid in sorted(set(targets)):
            if len(out) >= limit or not keys:
                break
            rows = self.store.writer.execute(sql, (*keys, rid, rtype, limit - len(out)))
            out += [Referrer(t, i, keys[p], (rtype, rid), url) for t, i, p, url in rows]
        return out

    async def append_deferred(self, type_: str, id_: str, resource: dict[str, Any]) -> None:
        self._writes += 1
        self.store.writer.execute(
            "INSERT INTO deferred (type, id, content) VALUES (?, ?, ?)",
            (type_, id_, orjson.dumps(resource)),
        )

    async def take_deferred(self, limit: int) -> list[tuple[str, str, dict[str, Any]]]:
        db = self.store.writer
        rows = db.execute(
            "SELECT seq, type, id, content FROM deferred ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        if rows:  # the oldest: every row up to the last one taken
            db.execute("DELETE FROM deferred WHERE seq <= ?", (rows[-1][0],))
        return [(type_, id_, orjson.loads(content)) for _, type_, id_, content in rows]

    async def append_outbox(self, queue: str, item: dict[str, Any]) -> int:
        self._writes += 1
        db = self.store.writer
        (n,) = db.execute(
            "INSERT INTO outbox_queue (queue, n, mark) VALUES (?, 1, 0)"
            " ON CONFLICT (queue) DO UPDATE SET n = n + 1 RETURNING n",
            (queue,),
        ).fetchone()
        db.execute(
            "INSERT INTO outbox (queue, n, item) VALUES (?, ?, ?)", (queue, n, orjson.dumps(item))
        )
        return int(n)

    async def outbox_items(
        self, queue: str, after: int, limit: int, until: int | None = None
    ) -> list[tuple[int, dict[str, Any]]]:
        rows = self.store.writer.execute(
            "SELECT n, item FROM outbox WHERE queue = ? AND n > ? AND n <= ? ORDER BY n LIMIT ?",
            (queue, after, until if until is not None else 2**62, limit),
        ).fetchall()
        return [(int(n), orjson.loads(item)) for n, item in rows]

    async def trim_outbox(self, queue: str, upto: int) -> int:
        self._writes += 1
        cur = self.store.writer.execute(
            "DELETE FROM outbox WHERE queue = ? AND n <= ?", (queue, upto)
        )
        return int(cur.rowcount)

    async def outbox_state(self, queue: str) -> tuple[int, int]:
        row = self.store.writer.execute(
            "SELECT n, mark FROM outbox_queue WHERE queue = ?", (queue,)
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def mark_outbox(self, queue: str, mark: int) -> None:
        self._writes += 1
        self.store.writer.execute(
            "INSERT INTO outbox_queue (queue, n, mark) VALUES (?, 0, ?)"
            " ON CONFLICT (queue) DO UPDATE SET mark = excluded.mark",
            (queue, mark),
        )

    async def drop_outbox(self, queue: str) -> None:
        self._writes += 1
        self.store.writer.execute("DELETE FROM outbox WHERE queue = ?", (queue,))
        self.store.writer.execute("DELETE FROM outbox_queue WHERE queue = ?", (queue,))

    async def _put(
        self,
        current: StoredResource | None,
        new: StoredResource,
        index: Index | None,
        relationships: Sequence[CareRelationship] = (),
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
                raise VersionConflict(read_current(db, *key))
        try:
            seq = db.execute(
                "INSERT INTO version (type, id, version, ts, method, deleted, content)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*key, new.version, new.ts, new.method, int(new.deleted), new.content),
            ).lastrowid
            rk = db.execute(
                INSERT_RESOURCE if current is None else MOVE_RESOURCE,
                (*key, seq, new.version, int(new.deleted), seq),
            ).fetchone()[0]
        except sqlite3.IntegrityError:  # a version 1 of a "new" resource exists after all
            raise VersionConflict(read_current(db, *key)) from None
        rows = index_rows(new.type, index) if index is not None else {}
        if current is None or current.deleted:
            self._buffer(rk, rows)  # a new (or re-created) resource has no index rows yet
        else:
            self._replaceindex_rows(rk, rows)
        if new.deleted:
            _relationships.drop(db, rk)
        elif derives_relationships(new.type, relationships):
            _relationships.replace(db, rk, relationships)

    def _replaceindex_rows(self, rk: int, rows: dict[str, set[tuple[Any, ...]]]) -> None:
        """Write only what changed: an update that keeps most values (a status change) leaves
        their rows, and the value indexes' pages, alone."""
        if rk in self._pending_rks:
            self._flush()
        db = self.store.writer
        added: dict[str, set[tuple[Any, ...]]] = {}
        for table, columns in TABLE_COLUMNS.items():
            new = rows.get(table, set())
            old = set(db.execute(f"SELECT {columns} FROM {table} WHERE rk = ?", (rk,)))
            if old and not new:
                db.execute(f"DELETE FROM {table} WHERE rk = ?", (rk,))
            elif old - new:
                db.executemany(DELETES[table], [(rk, *v) for v in old - new])
            added[table] = new - old
        self._buffer(rk, added)
