"""SQLite schema: every version once (``version``), a pointer to the current one (``resource``),
and the search index of current versions (``idx_*``). See docs/implementation/storage.md.

The index tables are clustered by resource key (``rk``, the ``seq`` of a resource's first
version), so a new resource's rows are appended at the end of each table's B-tree and a write
dirties a few pages, not one page per row; each table has one secondary index by value. A
parameter is a 31-bit key of ``Type.name`` (`param_key`): short rows, integer comparisons.
"""

from __future__ import annotations

from functools import cache
from hashlib import blake2b

SCHEMA_VERSION = 3
"""In ``PRAGMA user_version``. 1: index keyed by type and id; 2: clustered by ``rk``; 3: adds
``idx_composite``. Opening an older file upgrades it and rebuilds the search index."""

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=OFF",
    "PRAGMA busy_timeout=30000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-65536",
    "PRAGMA wal_autocheckpoint=10000",
    "PRAGMA mmap_size=2147418112",  # SQLite's compiled maximum: big files need no read() copies
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS version (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    type     TEXT    NOT NULL,
    id       TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    ts       INTEGER NOT NULL,
    until_ts INTEGER,
    method   TEXT    NOT NULL,
    deleted  INTEGER NOT NULL,
    content  BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS version_by_resource ON version (type, id, version);
CREATE INDEX IF NOT EXISTS version_by_type_seq ON version (type, seq);
CREATE INDEX IF NOT EXISTS version_by_ts ON version (ts);

CREATE TABLE IF NOT EXISTS resource (
    type    TEXT    NOT NULL,
    id      TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    rk      INTEGER NOT NULL,
    PRIMARY KEY (type, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS resource_by_rk ON resource (rk);

CREATE TABLE IF NOT EXISTS idx_token (
    rk INTEGER NOT NULL, p INTEGER NOT NULL, code TEXT NOT NULL, system TEXT NOT NULL,
    PRIMARY KEY (rk, p, code, system)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_token_by_value ON idx_token (p, code, system);

CREATE TABLE IF NOT EXISTS idx_string (
    rk INTEGER NOT NULL, p INTEGER NOT NULL, value TEXT NOT NULL, exact TEXT NOT NULL,
    PRIMARY KEY (rk, p, value, exact)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_string_by_value ON idx_string (p, value);

CREATE TABLE IF NOT EXISTS idx_date (
    rk INTEGER NOT NULL, p INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
    PRIMARY KEY (rk, p, lo, hi)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_date_by_value ON idx_date (p, lo, hi);

CREATE TABLE IF NOT EXISTS idx_number (
    rk INTEGER NOT NULL, p INTEGER NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL,
    PRIMARY KEY (rk, p, lo, hi)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_number_by_value ON idx_number (p, lo, hi);

CREATE TABLE IF NOT EXISTS idx_quantity (
    rk INTEGER NOT NULL, p INTEGER NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL,
    system TEXT NOT NULL, code TEXT NOT NULL,
    PRIMARY KEY (rk, p, lo, hi, system, code)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_quantity_by_value ON idx_quantity (p, lo, hi);

CREATE TABLE IF NOT EXISTS idx_reference (
    rk INTEGER NOT NULL, p INTEGER NOT NULL, rid TEXT NOT NULL, rtype TEXT NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (rk, p, rid, rtype, url)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_reference_by_target ON idx_reference (p, rid, rtype)
    WHERE rid <> '';
CREATE INDEX IF NOT EXISTS idx_reference_by_url ON idx_reference (p, url) WHERE url <> '';

CREATE TABLE IF NOT EXISTS idx_uri (
    rk INTEGER NOT NULL, p INTEGER NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (rk, p, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_uri_by_value ON idx_uri (p, value);

CREATE TABLE IF NOT EXISTS idx_composite (
    rk INTEGER NOT NULL, p INTEGER NOT NULL, code TEXT NOT NULL, system TEXT NOT NULL,
    v TEXT NOT NULL, vs TEXT NOT NULL, lo NUMERIC NOT NULL, hi NUMERIC NOT NULL,
    PRIMARY KEY (rk, p, code, system, v, vs, lo, hi)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_composite_by_value ON idx_composite (p, code, lo, hi, v);
"""

INDEX_TABLES: dict[str, tuple[str, ...]] = {
    "tokens": ("idx_token", "code", "system"),
    "strings": ("idx_string", "value", "exact"),
    "dates": ("idx_date", "lo", "hi"),
    "numbers": ("idx_number", "lo", "hi"),
    "quantities": ("idx_quantity", "lo", "hi", "system", "code"),
    "references": ("idx_reference", "rid", "rtype", "url"),
    "uris": ("idx_uri", "value"),
    "composites": ("idx_composite", "code", "system", "v", "vs", "lo", "hi"),
}
"""Index field → (table, value columns after ``rk`` and ``p``)."""

OLD_TABLES = (
    "idx_token",
    "idx_string",
    "idx_exact",
    "idx_date",
    "idx_number",
    "idx_quantity",
    "idx_reference",
    "idx_uri",
    "idx_present",
)
"""Index tables of schema version 1 (before ``rk``), dropped by the migration."""


@cache
def param_key(type_: str, param: str) -> int:
    """A stable 31-bit key for a parameter of a type (``tests/unit`` checks that no two
    parameters the server knows share one)."""
    digest = blake2b(f"{type_}.{param}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF
