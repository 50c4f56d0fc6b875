"""Auth records in the SQLite file the FHIR store uses: one table, its own connection.

Every statement runs on one worker thread (auth traffic is a few requests per login, never on
the FHIR read path, so the event loop never waits for SQLite's write lock here); each statement
is atomic on its own, and other server processes on the same file are serialized by SQLite.
"""

from __future__ import annotations

import sqlite3
from typing import Any, TypeVar

import orjson

from auth.storage import AuthStore, Claim, Doc, Record, now
from fhir_server.store.side_sqlite import SideConnection

T = TypeVar("T")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS auth_record (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        doc BLOB NOT NULL,
        grp TEXT,
        expires REAL,
        used INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (kind, key)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS auth_record_grp ON auth_record (kind, grp) WHERE grp IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS auth_record_expires ON auth_record (expires)"
    " WHERE expires IS NOT NULL",
)
_LIVE = "(expires IS NULL OR expires > ?)"
_COLUMNS = "key, doc, expires, used, grp"


def _record(row: tuple[Any, ...]) -> Record:
    return Record(row[0], orjson.loads(row[1]), row[2], bool(row[3]), row[4])


class SqliteAuthStore(SideConnection, AuthStore):
    def __init__(self, path: str) -> None:
        SideConnection.__init__(self, path, _SCHEMA, "sqlite-auth")

    async def get(self, kind: str, key: str) -> Record | None:
        def run(c: sqlite3.Connection) -> Record | None:
            row = c.execute(
                f"SELECT {_COLUMNS} FROM auth_record WHERE kind = ? AND key = ? AND {_LIVE}",
                (kind, key, now()),
            ).fetchone()
            return _record(row) if row else None

        return await self._run(run)

    async def put(
        self,
        kind: str,
        key: str,
        doc: Doc,
        *,
        expires: float | None = None,
        group: str | None = None,
    ) -> None:
        args = (kind, key, orjson.dumps(doc), group, expires)
        await self._run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO auth_record (kind, key, doc, grp, expires, used)"
                " VALUES (?, ?, ?, ?, ?, 0)",
                args,
            )
        )

    async def add(
        self,
        kind: str,
        key: str,
        doc: Doc,
        *,
        expires: float | None = None,
        group: str | None = None,
    ) -> bool:
        def run(c: sqlite3.Connection) -> bool:
            cursor = c.execute(
                "INSERT INTO auth_record (kind, key, doc, grp, expires, used)"
                " VALUES (?, ?, ?, ?, ?, 0)"
                " ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc, grp = excluded.grp,"
                " expires = excluded.expires, used = 0"
                " WHERE auth_record.expires IS NOT NULL AND auth_record.expires <= ?",
                (kind, key, orjson.dumps(doc), group, expires, now()),
            )
            return cursor.rowcount == 1

        return await self._run(run)

    async def claim(self, kind: str, key: str) -> tuple[Record, str] | None:
        def run(c: sqlite3.Connection) -> tuple[Record, str] | None:
            at = now()
            marked = c.execute(
                f"UPDATE auth_record SET used = 1 WHERE kind = ? AND key = ? AND used = 0"
                f" AND {_LIVE}",
                (kind, key, at),
            ).rowcount
            row = c.execute(
                f"SELECT {_COLUMNS} FROM auth_record WHERE kind = ? AND key = ? AND {_LIVE}",
                (kind, key, at),
            ).fetchone()
            if row is None:
                return None
            return _record(row), Claim.FIRST if marked == 1 else Claim.SPENT

        return await self._run(run)

    async def delete(self, kind: str, key: str) -> bool:
        return await self._run(
            lambda c: (
                c.execute(
                    "DELETE FROM auth_record WHERE kind = ? AND key = ?", (kind, key)
                ).rowcount
                == 1
            )
        )

    async def all(self, kind: str) -> list[Record]:
        return await self._run(
            lambda c: [
                _record(row)
                for row in c.execute(
                    f"SELECT {_COLUMNS} FROM auth_record WHERE kind = ? AND {_LIVE} ORDER BY key",
                    (kind, now()),
                )
            ]
        )

    async def in_group(self, kind: str, group: str) -> list[Record]:
        return await self._run(
            lambda c: [
                _record(row)
                for row in c.execute(
                    f"SELECT {_COLUMNS} FROM auth_record WHERE kind = ? AND grp = ? AND {_LIVE}"
                    " ORDER BY key",
                    (kind, group, now()),
                )
            ]
        )

    async def purge(self) -> int:
        return await self._run(
            lambda c: (
                c.execute(
                    "DELETE FROM auth_record WHERE expires IS NOT NULL AND expires <= ?", (now(),)
                ).rowcount
            )
        )
