"""Compile a SearchQuery into SQL: each filter an EXISTS over its type's index table, joined
with AND; a filter's values joined with OR. See docs/implementation/storage.md."""

from __future__ import annotations

from typing import Any

import orjson

from fhir_server.search.model import (
    ANY,
    Filter,
    QuantityValue,
    RangeValue,
    ReferenceValue,
    SearchQuery,
    SortKey,
    StringValue,
    TokenValue,
    UriValue,
    Value,
)
from fhir_server.search.params.prefixes import sql_args, sql_condition

_TOP = "\U0010ffff"
"""Above every character: ``value >= p AND value < p || _TOP`` is a starts-with range scan."""

_TABLES = {
    "token": "idx_token",
    "string": "idx_string",
    "date": "idx_date",
    "number": "idx_number",
    "quantity": "idx_quantity",
    "reference": "idx_reference",
    "uri": "idx_uri",
}


def _token(v: TokenValue, args: list[Any]) -> str:
    parts = []
    if v.code is not None:
        parts.append("t.code = ?")
        args.append(v.code)
    if v.system is None:
        parts.append("t.system IS NULL")
    elif v.system != ANY:
        parts.append("t.system = ?")
        args.append(v.system)
    return " AND ".join(parts) or "1"


def _string(v: StringValue, args: list[Any]) -> str:
    if v.mode == "contains":
        args.append(v.text)
        return "instr(t.value, ?) > 0"
    if v.mode == "exact":
        args.append(v.text)
        return "t.value = ?"
    args.extend([v.text, v.text + _TOP])
    return "t.value >= ? AND t.value < ?"


def _range(v: RangeValue | QuantityValue, args: list[Any]) -> str:
    cond, _ = sql_condition(v.prefix, "t.lo", "t.hi")
    args.extend(sql_args(v.prefix, v.low, v.high))
    if isinstance(v, QuantityValue):
        for column, value in (("system", v.system), ("code", v.code)):
            if value is not None:
                cond += f" AND t.{column} = ?"
                args.append(value)
    return cond


def _reference(v: ReferenceValue, args: list[Any]) -> str:
    if v.id is None:
        args.append(v.url)
        return "t.url = ?"
    args.append(v.id)
    if v.type is None:
        return "t.rid = ?"
    args.append(v.type)
    return "t.rid = ? AND t.rtype = ?"


def _uri(v: UriValue, args: list[Any]) -> str:
    if v.mode == "below":
        args.extend([v.uri, v.uri + _TOP])
        return "t.value >= ? AND t.value < ?"
    args.append(v.uri)
    if v.mode == "above":
        return "substr(?, 1, length(t.value)) = t.value"
    return "t.value = ?"


def _value(v: Value, args: list[Any]) -> str:
    if isinstance(v, TokenValue):
        return _token(v, args)
    if isinstance(v, StringValue):
        return _string(v, args)
    if isinstance(v, RangeValue | QuantityValue):
        return _range(v, args)
    if isinstance(v, ReferenceValue):
        return _reference(v, args)
    return _uri(v, args)


def _filter(f: Filter, args: list[Any], drive: str | None = None) -> str:
    """One filter as a condition on ``r``. The driving filter is ``r.id IN (SELECT …)``, so
    SQLite starts from that parameter's index; the others are probes per candidate row.
    ``drive`` is the searched type when this filter drives."""
    if f.modifier == "missing":
        if f.kind == "id":  # every resource has an id (and _id has no index rows)
            return "0" if f.missing else "1"
        args.append(f.param)
        exists = (
            "EXISTS (SELECT 1 FROM idx_present t INDEXED BY idx_present_by_resource"
            " WHERE t.type = r.type AND t.id = r.id"
            " AND t.param = ?)"
        )
        return f"NOT {exists}" if f.missing else exists
    if f.kind == "id":
        args.extend(v.code for v in f.values)  # type: ignore[union-attr]
        return "r.id IN (" + ",".join("?" * len(f.values)) + ")"
    table = "idx_exact" if f.kind == "string" and _all_exact(f) else _TABLES[f.kind]
    if drive is not None:
        args.extend([drive, f.param])
        ors = " OR ".join(f"({_value(v, args)})" for v in f.values)
        return f"r.id IN (SELECT t.id FROM {table} t WHERE t.type = ? AND t.param = ? AND ({ors}))"
    args.append(f.param)
    ors = " OR ".join(f"({_value(v, args)})" for v in f.values)
    exists = (
        f"EXISTS (SELECT 1 FROM {table} t INDEXED BY {table}_by_resource"
        " WHERE t.type = r.type AND t.id = r.id"
        f" AND t.param = ? AND ({ors}))"
    )
    return f"NOT {exists}" if f.modifier == "not" else exists


def _all_exact(f: Filter) -> bool:
    return all(isinstance(v, StringValue) and v.mode == "exact" for v in f.values)


_SELECTIVITY = {"reference": 0, "token": 1, "uri": 2, "string": 3, "quantity": 4, "number": 5}
"""Which kind of filter to start from: references and tokens usually single out few resources."""


def _driver(query: SearchQuery) -> Filter | None:
    candidates = [
        f for f in query.filters if f.kind != "id" and f.modifier not in ("not", "missing")
    ]
    return min(candidates, key=lambda f: _SELECTIVITY.get(f.kind, 6), default=None)


def _where(query: SearchQuery, args: list[Any]) -> list[str]:
    where = ["r.type = ?", "r.deleted = 0"]
    args.append(query.type)
    driver = _driver(query)
    for f in query.filters:
        where.append(_filter(f, args, drive=query.type if f is driver else None))
    return where


def compile_count(query: SearchQuery) -> tuple[str, list[Any]]:
    args: list[Any] = []
    return "SELECT count(*) FROM resource r WHERE " + " AND ".join(_where(query, args)), args


_SORT_SOURCES = {
    "date": ("idx_date", "lo", "hi"),
    "number": ("idx_number", "lo", "hi"),
    "quantity": ("idx_quantity", "lo", "hi"),
    "string": ("idx_string", "value", "value"),
    "token": ("idx_token", "code", "code"),
    "reference": ("idx_reference", "rid", "rid"),
    "uri": ("idx_uri", "value", "value"),
}


def _sort_expr(key: SortKey) -> str:
    """A resource's sort value: its lowest value ascending, its highest descending (search.html
    #sort); the parameter name comes from the registry, never from the client."""
    if key.kind == "id":
        return "r.id"
    table, low, high = _SORT_SOURCES[key.kind]
    agg = f"MAX(s.{high})" if key.descending else f"MIN(s.{low})"
    param = key.param.replace("'", "''")
    return (
        f"(SELECT {agg} FROM {table} s WHERE s.type = r.type AND s.id = r.id"
        f" AND s.param = '{param}')"
    )


def _keyset(keys: list[tuple[str, bool]], values: list[Any], last_id: Any, args: list[Any]) -> str:
    """Rows after the cursor's row in ``ORDER BY e IS NULL, e [DESC], …, r.id``: for some key,
    all earlier keys equal and this one beyond (missing values sort last either way)."""
    if len(values) != len(keys) or not isinstance(last_id, str):
        raise ValueError("cursor does not fit the sort")
    ors: list[str] = []
    equal: list[tuple[str, list[Any]]] = []
    for (expr, descending), value in zip(keys, values, strict=True):
        if value is not None:
            beyond = f"({expr} {'<' if descending else '>'} ? OR {expr} IS NULL)"
            ors.append("(" + " AND ".join([*(c for c, _ in equal), beyond]) + ")")
            for _, a in equal:
                args.extend(a)
            args.append(value)
        equal.append((f"{expr} IS NULL", []) if value is None else (f"{expr} = ?", [value]))
    ors.append("(" + " AND ".join([*(c for c, _ in equal), "r.id > ?"]) + ")")
    for _, a in equal:
        args.extend(a)
    args.append(last_id)
    return "(" + " OR ".join(ors) + ")"


def compile_search(query: SearchQuery) -> tuple[str, list[Any]]:
    args: list[Any] = []
    where = _where(query, args)
    keys = [(_sort_expr(k), k.descending) for k in query.sort]
    if query.after_id is not None:
        if keys:
            *values, last_id = orjson.loads(query.after_id)
            where.append(_keyset(keys, values, last_id, args))
        else:
            where.append("r.id > ?")
            args.append(query.after_id)
    order = [f"{e} IS NULL, {e}{' DESC' if d else ''}" for e, d in keys]
    sql = (
        "SELECT v.type, v.id, v.version, v.ts, v.deleted, v.method, v.content"
        + "".join(f", {e}" for e, _ in keys)
        + " FROM resource r JOIN version v ON v.seq = r.seq WHERE "
        + " AND ".join(where)
        + " ORDER BY "
        + ", ".join([*order, "r.id"])
        + " LIMIT ?"
    )
    args.append(query.count + 1)
    return sql, args
