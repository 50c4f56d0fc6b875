"""Creating the schema in a new file, or bringing an older file's schema to the current one."""

from __future__ import annotations

import logging
import sqlite3
from typing import NamedTuple

import orjson

from fhir_server.care_relationships import SOURCE_TYPES
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search.registry import builtin_params
from fhir_server.store.sqlite.schema import (
    INDEX_SUFFIXES,
    INDEX_TABLES,
    OLD_TABLES,
    SCHEMA,
    SCHEMA_VERSION,
    param_key,
    v3_key,
)

_log = logging.getLogger(__name__)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";\n") if s.strip()]


class Rebuild(NamedTuple):
    """What an upgraded file must rebuild from its stored resources."""

    search: list[str]
    """Types whose search index (and care relationships) are rebuilt."""
    relationships: list[str]
    """Types whose care relationships alone are derived (the search index is left as it is:
    custom parameters are not loaded yet when a file is opened)."""


def create_or_migrate(conn: sqlite3.Connection) -> Rebuild:
    """Create the schema, or bring an older file to the current one (version 1: index keyed by
    type and id; version 2: no ``idx_composite``; version 3: custom parameters keyed like the
    specification's; version 4: no ``care_relationship``; version 5: no ``idx_present``);
    returns what must then be rebuilt (`Rebuild`). Runs in one write transaction, so
    concurrent server processes starting on the same file migrate it once."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        old = (
            found == 0
            and conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'resource'"
            ).fetchone()
        )
        if found not in (0, 2, 3, 4, 5, 6, 7, SCHEMA_VERSION):
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
        if found in (3, 4, 5):
            _fill_present(conn)
        # the new care_relationship table is filled from the data
        relate = sorted(SOURCE_TYPES - set(rebuild)) if found in (2, 3, 4) else []
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return Rebuild(rebuild, relate)


def _stored_params(conn: sqlite3.Connection) -> set[tuple[str, str]]:
    """(base, code) of every served type's parameter any stored SearchParameter version
    defined."""
    found: set[tuple[str, str]] = set()
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
            if base in SERVED_TYPES:
                found.add((base, code))
    return found


def _fill_present(conn: sqlite3.Connection) -> None:
    """Schema 5 → 6: ``idx_present`` from the index rows already stored. A parameter has a
    value (`Index.present`) exactly when it made a row, under its own name or its name with one
    of `INDEX_SUFFIXES` (a token's ``:text``, a reference's ``:identifier``), so every row's key
    is mapped to its parameter's, per type: the built-ins' and those of every stored
    SearchParameter (custom parameters are not loaded when a file is opened)."""
    names = {(t, n) for t in SERVED_TYPES for n in builtin_params(t)} | _stored_params(conn)
    conn.execute("CREATE TEMP TABLE present_key (type TEXT, key INTEGER, p INTEGER)")
    try:
        conn.executemany(
            "INSERT INTO present_key VALUES (?, ?, ?)",
            [
                (t, param_key(t, n + suffix), param_key(t, n))
                for t, n in names
                for suffix in INDEX_SUFFIXES
            ],
        )
        conn.execute("CREATE INDEX temp.present_key_by_key ON present_key (key, type)")
        for table, *_ in INDEX_TABLES.values():
            if table != "idx_present":
                conn.execute(
                    "INSERT OR IGNORE INTO idx_present (rk, p) SELECT t.rk, m.p"
                    f" FROM {table} t JOIN resource r ON r.rk = t.rk"
                    " JOIN present_key m ON m.key = t.p AND m.type = r.type"
                )
    finally:
        conn.execute("DROP TABLE temp.present_key")


def _rekey_custom(conn: sqlite3.Connection) -> list[str]:
    """Schema 3 → 4: move the rows of every parameter any stored SearchParameter version
    defined from its old key (`v3_key`) to its own (`param_key`). Where an old key was a built-in
    parameter's of the same type (a code chosen to collide), those rows cannot be told from the
    built-in's: that type's index is rebuilt instead (returned), which drops them."""
    collided: set[str] = set()
    for base, code in sorted(_stored_params(conn)):
        if code in builtin_params(base):
            continue
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
