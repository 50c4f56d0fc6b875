"""Group commit: the units of work of one process that arrive together share one SQLite
transaction and one ``COMMIT`` (each in its own savepoint), so a burst of single-resource
writes syncs the WAL once, not once per write."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fhir_server.store.sqlite.unit_of_work import SqliteUnitOfWork

SMALL_UNIT = 1
"""Resources written by a unit of work that waits one turn of the loop for others to join
its COMMIT."""
BATCH_UNITS = 16
BATCH_SECONDS = 0.02
"""A batch of units of work commits once it holds this many, or is this old."""


class Batch:
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


class GroupCommit:
    """This process's writer lock, the units waiting for it, and the batch still open."""

    def __init__(
        self,
        writer: Callable[[], sqlite3.Connection],
        end_snapshot: Callable[[], None],
        off_loop: Callable[[Callable[[], object]], Awaitable[object]] | None = None,
    ) -> None:
        """``writer``: the writer connection (once open); ``end_snapshot``: ends the read
        snapshot, so this process's later reads see a commit; ``off_loop``: runs a call on the
        store's writer thread (for the COMMITs of units that may sync there)."""
        self._writer = writer
        self._end_snapshot = end_snapshot
        self._off_loop = off_loop
        self.lock = asyncio.Lock()
        self.waiting = 0
        self.batch: Batch | None = None
        self._idle_commits: set[asyncio.Future[None]] = set()

    def commit_when_idle(self) -> None:
        """Safety net of group commit: units that left a batch open for others wait for its
        COMMIT; if those others never take the lock (cancelled while waiting), commit it."""
        if self.batch is not None and not self.lock.locked() and not self.waiting:
            task = asyncio.ensure_future(self._commit_idle_batch())
            self._idle_commits.add(task)
            task.add_done_callback(self._idle_commits.discard)

    async def _commit_idle_batch(self) -> None:
        async with self.lock:
            batch, self.batch = self.batch, None
            if batch is None:
                return
            writer = self._writer()
            try:
                writer.execute("COMMIT")
            except BaseException as err:
                if writer.in_transaction:
                    writer.execute("ROLLBACK")
                for unit in batch.units:
                    if not unit.done():
                        unit.set_exception(err)
                return
            self._end_snapshot()
            batch.succeed()

    async def settle(self, unit: SqliteUnitOfWork, done: asyncio.Future[None] | None) -> None:
        """A finished unit (``done``: it succeeded) whose process has more units waiting for
        the lock leaves the SQLite transaction open for them and waits for the one ``COMMIT``
        of the batch; the last unit of a batch (nobody waiting, or the batch full) commits for
        all. COMMIT runs on the loop: it appends the dirty pages to the WAL and syncs it, a
        millisecond or two, and on the writer thread the write lock waited for the GIL twice
        (up to the 5 ms switch interval each way) for that. A unit is answered only after its
        batch committed; a failed unit's savepoint is rolled back alone."""
        batch = self.batch
        assert batch is not None
        cancelled = False
        if done is not None:
            batch.units.append(done)
            if not self.waiting and unit._writes <= SMALL_UNIT:
                # a single-resource write: requests under way may reach their unit of work in
                # one turn of the loop and share this COMMIT (a Bundle's does not wait: the
                # lock would be held through other requests' validation)
                try:
                    await asyncio.sleep(0)
                except asyncio.CancelledError:
                    cancelled = True  # settle first: this unit holds the lock
        more = self.waiting and len(batch.units) < BATCH_UNITS
        if cancelled:
            more = False
        if more and time.monotonic() - batch.started < BATCH_SECONDS:
            self.lock.release()  # the next unit joins this transaction
            asyncio.get_running_loop().call_soon(self.commit_when_idle)
            if done is not None:
                await asyncio.shield(done)
            return
        self.batch = None
        try:
            if unit.sync_off_loop and self._off_loop is not None:
                cancelled = await self._commit_off_loop(unit) or cancelled
            else:
                unit._execute("COMMIT")
        except BaseException as err:
            unit._rollback_all()
            batch.fail(err, skip=done)
            self.lock.release()
            raise
        self._end_snapshot()  # this process's later reads must see this commit
        batch.succeed()
        self.lock.release()
        if cancelled:
            raise asyncio.CancelledError

    async def _commit_off_loop(self, unit: SqliteUnitOfWork) -> bool:
        """COMMIT on the writer thread: the loop serves other requests while the disk syncs
        (SQLite lets go of the GIL meanwhile); the lock stays held, so no statement of this
        process touches the writer connection until it is done. Returns whether the caller
        was cancelled meanwhile (the COMMIT is waited for all the same: its outcome decides)."""
        assert self._off_loop is not None
        writer = self._writer()
        done = asyncio.ensure_future(self._off_loop(lambda: writer.execute("COMMIT")))
        cancelled = False
        while True:
            try:
                await asyncio.shield(done)
                return cancelled
            except asyncio.CancelledError:
                if done.done():
                    raise  # the COMMIT itself ended so (not reached: threads aren't cancelled)
                cancelled = True
