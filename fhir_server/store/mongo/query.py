"""Compile a SearchQuery or HistoryQuery into a MongoDB filter, sort and limit.

History is keyset-paged on (ts, type, id, version) descending rather than on a global sequence
number: a counter document would serialize every writer in the cluster.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from pymongo import ASCENDING, DESCENDING

from fhir_server.search.model import ANY, Filter, SearchQuery, TokenValue
from fhir_server.store.base import HistoryQuery

Sort = list[tuple[str, int]]

_HISTORY_KEY = ("ts", "type", "id", "version")


def _token_match(param: str, value: TokenValue) -> dict[str, Any]:
    match: dict[str, Any] = {"p": param}
    if value.code is not None:
        match["c"] = value.code
    if value.system != ANY:
        match["s"] = value.system  # None matches a null system (``|code``)
    return {"tok": {"$elemMatch": match}}


def _filter_clause(f: Filter) -> dict[str, Any]:
    if f.kind == "id":
        return {"id": {"$in": [v.code for v in f.values if v.code is not None]}}
    return {"$or": [_token_match(f.param, v) for v in f.values]}


def compile_search(query: SearchQuery) -> tuple[dict[str, Any], Sort, int]:
    """Current, non-deleted resources of one type matching every filter, in id order."""
    clauses: list[dict[str, Any]] = [{"type": query.type}, {"deleted": False}]
    clauses.extend(_filter_clause(f) for f in query.filters)
    if query.after_id is not None:
        clauses.append({"id": {"$gt": query.after_id}})
    return {"$and": clauses}, [("id", ASCENDING)], query.count + 1


def encode_cursor(doc: dict[str, Any]) -> str:
    """Opaque to clients; it is the keyset of the last entry on the page."""
    raw = orjson.dumps([doc[k] for k in _HISTORY_KEY])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts, type_, id_, version = orjson.loads(raw)
    except (ValueError, TypeError) as e:
        raise ValueError(f"invalid history cursor {cursor!r}") from e
    return {"ts": ts, "type": type_, "id": id_, "version": version}


def compile_history(query: HistoryQuery) -> tuple[dict[str, Any], Sort, int]:
    """Versions newest first. Fields fixed by equality are left out of the sort and the keyset,
    so instance and type history walk their own index (``history_instance``/``history_type``)."""
    clauses: list[dict[str, Any]] = []
    fixed = {k: v for k, v in (("type", query.type), ("id", query.id)) if v is not None}
    clauses.extend({k: v} for k, v in fixed.items())
    if query.since is not None:
        clauses.append({"ts": {"$gte": query.since}})
    if query.at is not None:
        start, end = query.at
        clauses.append({"ts": {"$lt": end}})
        clauses.append({"$or": [{"until_ts": None}, {"until_ts": {"$gt": start}}]})
    keys = [k for k in _HISTORY_KEY if k not in fixed]
    if query.cursor is not None:
        last = _decode_cursor(query.cursor)
        ors = [
            {**{k: last[k] for k in keys[:i]}, key: {"$lt": last[key]}}
            for i, key in enumerate(keys)
        ]
        clauses.append({"$or": ors})
    where: dict[str, Any] = {"$and": clauses} if clauses else {}
    return where, [(k, DESCENDING) for k in keys], query.count + 1
