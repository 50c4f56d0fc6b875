"""Rows of the ``version`` table as `StoredResource`: reading one resource's current version,
and a search's page of them, on whichever connection the caller is in (the read snapshot or a
unit of work's writer)."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from fhir_server.search.terms import SearchQuery
from fhir_server.store.base import InvalidCursor, Page, keyset_page
from fhir_server.store.sqlite.query import WIDE, compile_search, compile_width
from fhir_server.stored import StoredResource

COLUMNS = "type, id, version, ts, deleted, method, content"
"""The ``version`` columns a `StoredResource` is made of, in `stored`'s order."""


def stored(row: tuple[Any, ...]) -> StoredResource:
    """The resource version a row of `COLUMNS` holds."""
    return StoredResource(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6])


def read_current(conn: sqlite3.Connection, type_: str, id_: str) -> StoredResource | None:
    """The current version of a resource (deleted or not), or None if it never existed."""
    row = conn.execute(
        "SELECT v.type, v.id, v.version, v.ts, v.deleted, v.method, v.content"
        " FROM resource r JOIN version v ON v.seq = r.seq WHERE r.type = ? AND r.id = ?",
        (type_, id_),
    ).fetchone()
    return stored(row) if row else None


def search_page(conn: sqlite3.Connection, query: SearchQuery) -> Page:
    """One page of a search; the plan (drive from the index or from the type) is chosen by how
    wide the query's narrowest condition is."""
    width = compile_width(query)
    drive = width is None or conn.execute(*width).fetchone()[0] < WIDE
    try:
        sql, args = compile_search(query, drive)
    except (ValueError, TypeError) as err:  # a cursor from another sort or a forged one
        raise InvalidCursor(str(err)) from err
    raw = conn.execute(sql, args).fetchall()
    return keyset_page(raw, query, stored, _position if query.sort else _row_id)


def _position(row: tuple[Any, ...]) -> str:
    """A row's keyset position with ``_sort``: its sort values and id."""
    return orjson.dumps([*row[7:], row[1]]).decode()


def _row_id(row: tuple[Any, ...]) -> str:
    return str(row[1])
