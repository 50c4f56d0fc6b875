"""A side connection to the store's SQLite file for tables kept beside the FHIR data (auth
records, bulk export jobs): its own connection on its own worker thread, so the event loop
never waits for SQLite's write lock there, and none of it joins the store's group commit.
Each statement is atomic on its own; other server processes on the same file are serialized by
SQLite."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class SideConnection:
    """``open`` connects and creates ``schema`` (``IF NOT EXISTS`` statements); ``_run``
    runs a function of the connection on the worker thread."""

    def __init__(self, path: str, schema: Sequence[str], thread_name: str) -> None:
        self.path = path
        self._schema = tuple(schema)
        self._thread_name = thread_name
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self._executor is not None and self._conn is not None, "store not open"
        conn = self._conn
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, conn)

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._thread_name)

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA journal_mode=WAL")
            for statement in self._schema:
                conn.execute(statement)
            return conn

        self._conn = await asyncio.get_running_loop().run_in_executor(self._executor, connect)

    async def close(self) -> None:
        if self._conn is not None:
            await self._run(lambda c: c.close())
            self._conn = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
