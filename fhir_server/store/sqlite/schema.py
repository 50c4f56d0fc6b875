"""SQLite schema: every version once (``version``), a pointer to the current one (``resource``),
and the search index of current versions (``idx_token``). See docs/implementation/storage.md."""

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=OFF",
    "PRAGMA busy_timeout=30000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-65536",
    "PRAGMA mmap_size=268435456",
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
    PRIMARY KEY (type, id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS idx_token (
    type   TEXT NOT NULL,
    id     TEXT NOT NULL,
    param  TEXT NOT NULL,
    system TEXT,
    code   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_token_by_code ON idx_token (type, param, code, system, id);
CREATE INDEX IF NOT EXISTS idx_token_by_resource ON idx_token (type, id);
"""
