"""SQLite schema: every version once (``version``), a pointer to the current one (``resource``),
and the search index of current versions (``idx_token``). See docs/implementation/storage.md."""

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=OFF",
    "PRAGMA busy_timeout=30000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-65536",
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
CREATE INDEX IF NOT EXISTS idx_token_by_resource ON idx_token (type, id, param);

CREATE TABLE IF NOT EXISTS idx_string (type TEXT, id TEXT, param TEXT, value TEXT);
CREATE INDEX IF NOT EXISTS idx_string_by_value ON idx_string (type, param, value, id);
CREATE INDEX IF NOT EXISTS idx_string_by_resource ON idx_string (type, id, param);

CREATE TABLE IF NOT EXISTS idx_exact (type TEXT, id TEXT, param TEXT, value TEXT);
CREATE INDEX IF NOT EXISTS idx_exact_by_value ON idx_exact (type, param, value, id);
CREATE INDEX IF NOT EXISTS idx_exact_by_resource ON idx_exact (type, id, param);

CREATE TABLE IF NOT EXISTS idx_date (type TEXT, id TEXT, param TEXT, lo INTEGER, hi INTEGER);
CREATE INDEX IF NOT EXISTS idx_date_by_value ON idx_date (type, param, lo, hi, id);
CREATE INDEX IF NOT EXISTS idx_date_by_resource ON idx_date (type, id, param);

CREATE TABLE IF NOT EXISTS idx_number (type TEXT, id TEXT, param TEXT, lo REAL, hi REAL);
CREATE INDEX IF NOT EXISTS idx_number_by_value ON idx_number (type, param, lo, hi, id);
CREATE INDEX IF NOT EXISTS idx_number_by_resource ON idx_number (type, id, param);

CREATE TABLE IF NOT EXISTS idx_quantity (
    type TEXT, id TEXT, param TEXT, system TEXT, code TEXT, lo REAL, hi REAL
);
CREATE INDEX IF NOT EXISTS idx_quantity_by_value ON idx_quantity (type, param, lo, hi, id);
CREATE INDEX IF NOT EXISTS idx_quantity_by_resource ON idx_quantity (type, id, param);

CREATE TABLE IF NOT EXISTS idx_reference (
    type TEXT, id TEXT, param TEXT, rtype TEXT, rid TEXT, url TEXT
);
CREATE INDEX IF NOT EXISTS idx_reference_by_target ON idx_reference (type, param, rid, rtype, id);
CREATE INDEX IF NOT EXISTS idx_reference_by_url ON idx_reference (type, param, url, id);
CREATE INDEX IF NOT EXISTS idx_reference_by_resource ON idx_reference (type, id, param);

CREATE TABLE IF NOT EXISTS idx_uri (type TEXT, id TEXT, param TEXT, value TEXT);
CREATE INDEX IF NOT EXISTS idx_uri_by_value ON idx_uri (type, param, value, id);
CREATE INDEX IF NOT EXISTS idx_uri_by_resource ON idx_uri (type, id, param);

CREATE TABLE IF NOT EXISTS idx_present (type TEXT, id TEXT, param TEXT);
CREATE INDEX IF NOT EXISTS idx_present_by_param ON idx_present (type, param, id);
CREATE INDEX IF NOT EXISTS idx_present_by_resource ON idx_present (type, id, param);
"""

INDEX_TABLES: dict[str, tuple[str, ...]] = {
    "tokens": ("idx_token", "param", "system", "code"),
    "strings": ("idx_string", "param", "value"),
    "exact": ("idx_exact", "param", "value"),
    "dates": ("idx_date", "param", "lo", "hi"),
    "numbers": ("idx_number", "param", "lo", "hi"),
    "quantities": ("idx_quantity", "param", "system", "code", "lo", "hi"),
    "references": ("idx_reference", "param", "rtype", "rid", "url"),
    "uris": ("idx_uri", "param", "value"),
}
"""Index field → (table, columns after type and id)."""
