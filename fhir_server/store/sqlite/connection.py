"""Opening a SQLite connection the way every connection of this store is opened."""

from __future__ import annotations

import sqlite3

from fhir_server.store.sqlite.schema import PRAGMAS


def connect(path: str, synchronous: str, busy_ms: int) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are begun explicitly) with the store's
    pragmas."""
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


def is_busy(err: sqlite3.OperationalError) -> bool:
    """Whether another connection holds the lock this statement needed."""
    return getattr(err, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
