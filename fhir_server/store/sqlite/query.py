"""Compile a SearchQuery into SQL over the ``resource`` and ``idx_token`` tables."""

from __future__ import annotations

from typing import Any

from fhir_server.search.model import ANY, Filter, SearchQuery, TokenValue


def _token_clause(value: TokenValue, args: list[Any]) -> str:
    parts = []
    if value.code is not None:
        parts.append("t.code = ?")
        args.append(value.code)
    if value.system is None:
        parts.append("t.system IS NULL")
    elif value.system != ANY:
        parts.append("t.system = ?")
        args.append(value.system)
    return "(" + " AND ".join(parts) + ")"


def _filter_clause(f: Filter, args: list[Any]) -> str:
    if f.kind == "id":
        args.extend(v.code for v in f.values)
        return "r.id IN (" + ",".join("?" * len(f.values)) + ")"
    args.append(f.param)
    ors = " OR ".join(_token_clause(v, args) for v in f.values)
    return (
        "EXISTS (SELECT 1 FROM idx_token t WHERE t.type = r.type AND t.id = r.id"
        f" AND t.param = ? AND ({ors}))"
    )


def compile_search(query: SearchQuery) -> tuple[str, list[Any]]:
    args: list[Any] = [query.type]
    where = ["r.type = ?", "r.deleted = 0"]
    for f in query.filters:
        where.append(_filter_clause(f, args))
    if query.after_id is not None:
        where.append("r.id > ?")
        args.append(query.after_id)
    sql = (
        "SELECT v.type, v.id, v.version, v.ts, v.deleted, v.method, v.content"
        " FROM resource r JOIN version v ON v.seq = r.seq WHERE "
        + " AND ".join(where)
        + " ORDER BY r.id LIMIT ?"
    )
    args.append(query.count + 1)
    return sql, args
