"""A resource's search index (`Index`) as rows of the index tables, and the statements that
write and delete them and that insert or move a resource's row in ``resource``."""

from __future__ import annotations

from typing import Any

from fhir_server.search.terms import Index
from fhir_server.store.sqlite.schema import INDEX_TABLES, param_key

INSERT_RESOURCE = (
    "INSERT INTO resource (type, id, seq, version, deleted, rk) VALUES (?, ?, ?, ?, ?, ?)"
    " RETURNING rk"
)
MOVE_RESOURCE = (
    INSERT_RESOURCE.removesuffix(" RETURNING rk")
    + " ON CONFLICT (type, id) DO UPDATE SET seq = excluded.seq, version = excluded.version,"
    " deleted = excluded.deleted RETURNING rk"
)
TABLE_COLUMNS = {cols[0]: ", ".join(("p", *cols[1:])) for cols in INDEX_TABLES.values()}
INSERTS = {
    table: f"INSERT INTO {table} (rk, {columns}) VALUES (?{', ?' * (columns.count(',') + 1)})"
    for table, columns in TABLE_COLUMNS.items()
}
DELETES = {
    table: f"DELETE FROM {table} WHERE rk = ? AND "
    + " AND ".join(f"{c} = ?" for c in columns.split(", "))
    for table, columns in TABLE_COLUMNS.items()
}


def _token(p: int, row: tuple[Any, ...]) -> tuple[Any, ...]:
    _, system, code = row
    return (p, code, system or "")


def _quantity(p: int, row: tuple[Any, ...]) -> tuple[Any, ...]:
    _, system, code, lo, hi = row
    return (p, lo, hi, system or "", code or "")


def _reference(p: int, row: tuple[Any, ...]) -> tuple[Any, ...]:
    _, rtype, rid, url = row
    return (p, rid or "", rtype or "", url or "")


def _composite(p: int, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """No value part is ``''``, no range ``0``: a parameter's second component has one type,
    so an unused part never meets a condition (see ``query._composite``)."""
    _, system, code, v, vs, lo, hi = row
    return (p, code, system or "", v or "", vs or "", lo or 0, hi or 0)


def _plain(p: int, row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (p, *row[1:])


_CONVERT = {
    "tokens": _token,
    "quantities": _quantity,
    "references": _reference,
    "composites": _composite,
}


def index_rows(type_: str, index: Index) -> dict[str, set[tuple[Any, ...]]]:
    """The index rows of a resource per table, without ``rk``; a set, so a value that occurs
    twice in a resource (the same code in two codings) is one row."""
    out: dict[str, set[tuple[Any, ...]]] = {}
    for field, (table, *_) in INDEX_TABLES.items():
        convert = _CONVERT.get(field, _plain)
        values = getattr(index, field)
        if field == "present":  # names, not rows: a row of the name alone
            values = [(name,) for name in values]
        if values:
            out[table] = {convert(param_key(type_, row[0]), row) for row in values}
    return out
