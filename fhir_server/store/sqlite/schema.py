"""SQLite schema: every version once (``version``), a pointer to the current one (``resource``),
and the search index of current versions (``idx_*``). See docs/implementation/storage.md.

The index tables are clustered by resource key (``rk``, the ``seq`` of a resource's first
version), so a new resource's rows are appended at the end of each table's B-tree and a write
dirties a few pages, not one page per row; each table has one secondary index by value. A
parameter is an integer key of ``Type.name`` (`param_key`): short rows, integer comparisons.
"""

from __future__ import annotations

from functools import cache
from hashlib import blake2b

from fhir_server.search.registry import builtin_params

SCHEMA_VERSION = 8
"""In ``PRAGMA user_version``. 1: index keyed by type and id; 2: clustered by ``rk``; 3: adds
``idx_composite``; 4: custom parameters keyed apart from the specification's (`param_key`);
5: adds ``care_relationship``; 6: adds ``idx_present`` (`Index.present`, for ``:missing``);
7: adds ``deferred`` (`DEFERRED`; a server that did not drain it must not open the file);
8: adds ``outbox`` and ``outbox_queue`` (`OUTBOX`; an older server would not journal changes).
Opening an older file upgrades it and rebuilds what of the
search index changed."""

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

CREATE TABLE IF NOT EXISTS idx_present (
    rk INTEGER NOT NULL, p INTEGER NOT NULL,
    PRIMARY KEY (rk, p)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_present_by_param ON idx_present (p, rk);

CREATE TABLE IF NOT EXISTS care_relationship (
    holder TEXT NOT NULL, patient TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
    kind TEXT NOT NULL, rk INTEGER NOT NULL, recorded INTEGER NOT NULL,
    PRIMARY KEY (holder, patient, lo, hi, kind, rk, recorded)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS care_relationship_by_source ON care_relationship (rk, recorded);

CREATE TABLE IF NOT EXISTS deferred (
    seq INTEGER PRIMARY KEY,
    type TEXT NOT NULL, id TEXT NOT NULL, content BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS deferred_by_type ON deferred (type);

CREATE TABLE IF NOT EXISTS outbox (
    queue TEXT NOT NULL, n INTEGER NOT NULL, item BLOB NOT NULL,
    PRIMARY KEY (queue, n)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox_queue (
    queue TEXT PRIMARY KEY, n INTEGER NOT NULL, mark INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS data_change (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    n   INTEGER NOT NULL
);
INSERT OR IGNORE INTO data_change (one, n) VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS data_change_on_version AFTER INSERT ON version
    WHEN NEW.type != 'AuditEvent' OR NEW.version != 1
    BEGIN UPDATE data_change SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS data_change_on_version_update AFTER UPDATE ON version
    WHEN NEW.type != 'AuditEvent' OR NEW.version != 1
    BEGIN UPDATE data_change SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS data_change_on_version_delete AFTER DELETE ON version
    BEGIN UPDATE data_change SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS data_change_on_relationship AFTER INSERT ON care_relationship
    BEGIN UPDATE data_change SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS data_change_on_relationship_delete AFTER DELETE ON care_relationship
    BEGIN UPDATE data_change SET n = n + 1; END;
"""
DEFERRED = """``deferred``: resources appended to be stored and indexed later
(`UnitOfWork.append_deferred`), one row each (the JSON, no index rows), in append order; taken
oldest first by `Store.index_deferred`, which deletes the rows in the unit of work that stores
them. No trigger counts them in ``data_change``: they are new resources of their own kind."""
OUTBOX = """``outbox``: the items of durable queues (`UnitOfWork.append_outbox`), numbered per
queue; ``outbox_queue``: per queue the last number given and a consumer's mark. Written in the
unit of work of what they record (a journalled change, a subscription's event), so they are
kept exactly when it is. No trigger counts them in ``data_change``: they change no resource."""
DATA_CHANGE = """``data_change.n``: counts the commits that changed data other than by adding a new
AuditEvent (triggers, so every process's writes and every write path count, an older server's
too). What a process keeps of the data (the current versions, `read_cache`; what decisions
derive from it) stays current while ``n`` does; every audited read adds an AuditEvent, and
would otherwise empty it (``PRAGMA data_version`` changes on any commit)."""

RELATIONSHIP_COLUMNS = "holder, patient, lo, hi, kind"
"""A ``care_relationship`` row's own values, after which come its source (``rk``: the resource
it is derived from or recorded for) and whether it was recorded (`UnitOfWork.relate`) rather
than derived. Clustered by holder, so both look-ups (a holder's patients; a holder and one
patient) are a range of the primary key; ``care_relationship_by_source`` replaces a
resource's rows."""

INDEX_TABLES: dict[str, tuple[str, ...]] = {
    "tokens": ("idx_token", "code", "system"),
    "strings": ("idx_string", "value", "exact"),
    "dates": ("idx_date", "lo", "hi"),
    "numbers": ("idx_number", "lo", "hi"),
    "quantities": ("idx_quantity", "lo", "hi", "system", "code"),
    "references": ("idx_reference", "rid", "rtype", "url"),
    "uris": ("idx_uri", "value"),
    "composites": ("idx_composite", "code", "system", "v", "vs", "lo", "hi"),
    "present": ("idx_present",),
}
"""Index field → (table, value columns after ``rk`` and ``p``). ``idx_present`` has a row per
parameter with at least one value (`Index.present`): what ``:missing`` asks, as MongoDB's
``has`` does."""

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


INDEX_SUFFIXES = ("", ":text", ":identifier", ":of-type")
"""What follows a parameter's name in the names of the rows it makes (a token's text, a
reference's identifier, an identifier's type)."""

CUSTOM_KEYS = 1 << 62
"""Custom parameters' keys are at or above this, the specification's below 2**31: the two
ranges never meet, so no custom parameter, whatever its code, reads or writes a built-in's rows."""


@cache
def param_key(type_: str, param: str) -> int:
    """A stable integer key for a parameter of a type (``param``: its name, maybe with one of
    `INDEX_SUFFIXES`). The specification's parameters are a fixed set: each has a 31-bit hash of
    ``Type.name``, and ``tests/unit/test_param_keys.py`` checks over that whole set that no two
    share one. Any other name (a custom SearchParameter's code) has a 62-bit hash in the range
    from `CUSTOM_KEYS`, which the built-ins' keys never reach; that no two custom parameters of
    a type share one is checked when a SearchParameter is written (`search.custom`)."""
    if param.split(":", 1)[0] in builtin_params(type_):
        return v3_key(type_, param)
    digest = blake2b(f"{type_}.{param}".encode(), digest_size=8).digest()
    return CUSTOM_KEYS | (int.from_bytes(digest, "big") & (CUSTOM_KEYS - 1))


def v3_key(type_: str, param: str) -> int:
    """The key of schema 3 and earlier, for every parameter: a 31-bit hash of ``Type.name``.
    Kept for the specification's parameters (their rows in older files stay valid)."""
    digest = blake2b(f"{type_}.{param}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF
