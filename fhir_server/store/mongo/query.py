"""Compile a SearchQuery or HistoryQuery into a MongoDB filter, sort and limit.

A search filter is an ``$elemMatch`` on its kind's index array (see `schema`) per value, ORed;
filters are ANDed. The entry conditions come from `search/criteria` (each parameter type states
its semantics once); this module only renders them, as the SQLite store renders them to SQL.
A search with ``_sort`` is an aggregation pipeline (`compile_sorted_search`) that computes each
resource's sort values from the same arrays and orders and keyset-pages like the SQLite store.

History is keyset-paged on (ts, type, id, version) descending rather than on a global sequence
number: a counter document would serialize every writer in the cluster.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import orjson
from pymongo import ASCENDING, DESCENDING

from fhir_server.errors import Invalid
from fhir_server.numbers import INT64_MAX
from fhir_server.search import criteria
from fhir_server.search.conditions import (
    All,
    AnyOf,
    Cmp,
    Condition,
    Contains,
    Either,
    PrefixOf,
    StartsWith,
)
from fhir_server.search.terms import (
    Criterion,
    Filter,
    RelatedTo,
    SearchQuery,
    SortKey,
    StringValue,
    TokenValue,
    UriValue,
)
from fhir_server.store.base import HistoryQuery
from fhir_server.store.mongo.schema import PRESENT

Sort = list[tuple[str, int]]
Clause = dict[str, Any]

_HISTORY_KEY = ("ts", "type", "id", "version")

_TOP = "\U0010ffff"
"""Above every character: ``v >= p AND v < p + _TOP`` is a starts-with range scan (MongoDB
compares strings as UTF-8 bytes, which orders them by code point)."""


def _nothing() -> Clause:
    """Matches no document."""
    return {"_id": {"$in": []}}


MAX_ABOVE_LENGTH = 2048
"""``uri:above`` matches the stored URIs among the value's prefixes, all sent in one ``$in``
(about length²/2 bytes); longer values are refused rather than risk the 16 MB query limit."""

_ARRAYS = {
    "token": "tok",
    "string": "str",
    "date": "dt",
    "number": "num",
    "quantity": "qty",
    "reference": "ref",
    "uri": "uri",
    "composite": "cmp",
}


_RANGE: dict[str, str | None] = {"lo": "lo", "hi": "hi"}
_KEYS: dict[str, dict[str, str | None]] = {
    "token": {"code": "c", "system": "s"},
    "string": {"text": "v"},
    "exact": {"exact": "v", "text": None},
    "date": _RANGE,
    "number": _RANGE,
    "quantity": {**_RANGE, "system": "s", "code": "c"},
    "reference": {"type": "t", "id": "i", "url": "u"},
    "uri": {"value": "v"},
    "composite": {
        "code": "c",
        "system": "s",
        "v.lo": "lo",
        "v.hi": "hi",
        "v.code": "v",
        "v.text": "v",
        "v.value": "v",
        "v.system": "vs",
    },
}
"""Per index array (``exact``: the ``ex`` array of strings as written), the key holding each
part a condition names (`search/conditions`); None: the entry does not hold that part, which
another part implies (the folded text of an exact string)."""
_OPERATORS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}


def render(c: Condition, keys: dict[str, str | None]) -> Clause:
    """A store-neutral condition as the filter one index entry must meet (inside
    ``$elemMatch``); ``None`` matches an absent or null part."""
    if isinstance(c, All):
        return _merged([render(x, keys) for x in c.conditions])
    if isinstance(c, Either):
        return {"$or": [render(x, keys) for x in c.conditions]} if c.conditions else _nothing()
    key = keys[c.field]
    if key is None:
        return {}
    if isinstance(c, Cmp):
        return {key: {_OPERATORS[c.op]: c.value}}
    if isinstance(c, StartsWith):
        return {key: {"$gte": c.prefix, "$lt": c.prefix + _TOP}}
    if isinstance(c, Contains):
        return {key: {"$regex": re.escape(c.text)}}
    if isinstance(c, PrefixOf):  # the stored value among the value's prefixes
        return {key: {"$in": [c.value[:i] for i in range(len(c.value) + 1)]}}
    if isinstance(c, AnyOf):
        return {key: {"$in": list(c.values)}}
    return {key: c.value}


def _merged(parts: list[Clause]) -> Clause:
    """Conjoined clauses as one document where their keys allow (``{lo: {$gte, $lt}}``), so
    the entry index sees them together; ``$and`` where two would collide."""
    out: Clause = {}
    for part in parts:
        for key, value in part.items():
            if key not in out:
                out[key] = dict(value) if isinstance(value, dict) and key[0] != "$" else value
            elif _operators(out[key]) and _operators(value) and not out[key].keys() & value:
                out[key].update(value)
            else:
                return {"$and": parts}
    return out


def _operators(value: Any) -> bool:
    return isinstance(value, dict) and all(k.startswith("$") for k in value)


def _filter_clause(f: Filter) -> Clause:
    if f.modifier == "missing":
        if f.kind == "id":  # every resource has an id (and _id has no index entries)
            return _nothing() if f.missing else {}
        return {PRESENT: {"$ne": f.param}} if f.missing else {PRESENT: f.param}
    if f.kind == "id":
        ids = [v.code for v in f.values if isinstance(v, TokenValue) and v.code is not None]
        return {"id": {"$in": ids}}
    exact = f.kind == "string" and _all_exact(f)
    array, keys = ("ex", _KEYS["exact"]) if exact else (_ARRAYS[f.kind], _KEYS[f.kind])
    if f.kind == "uri":
        _check_above(f)
    cond = criteria.condition(f)
    terms = cond.conditions if isinstance(cond, Either) else (cond,)
    matches = [{array: {"$elemMatch": {"p": f.param, **render(t, keys)}}} for t in terms]
    if f.modifier == "not":
        return {"$nor": matches} if matches else {}
    if not matches:
        return _nothing()
    return matches[0] if len(matches) == 1 else {"$or": matches}


def _criterion_clause(c: Criterion) -> Clause:
    """A filter, or a group as ``$or`` of its branches' ``$and`` (``$nor`` when negated); an
    empty clause (``{}``) matches every document and is left out where MongoDB refuses it."""
    if isinstance(c, Filter):
        return _filter_clause(c)
    if isinstance(c, RelatedTo):  # the store resolves these first (`store._resolved`)
        raise TypeError("a care relationship criterion must be resolved by the store")
    branches: list[Clause] = []
    for branch in c.any_of:
        parts = [p for x in branch if (p := _criterion_clause(x))]
        if not parts:  # a branch that always holds: so does the group
            return _nothing() if c.negate else {}
        branches.append(parts[0] if len(parts) == 1 else {"$and": parts})
    if not branches:
        return {} if c.negate else _nothing()
    matched = branches[0] if len(branches) == 1 else {"$or": branches}
    return {"$nor": [matched]} if c.negate else matched


def _check_above(f: Filter) -> None:
    for v in f.values:
        if isinstance(v, UriValue) and v.mode == "above" and len(v.uri) > MAX_ABOVE_LENGTH:
            raise Invalid(
                f"{f.param}:above takes at most {MAX_ABOVE_LENGTH} characters",
                [f"{f.param}:above"],
            )


def _all_exact(f: Filter) -> bool:
    return all(isinstance(v, StringValue) and v.mode == "exact" for v in f.values)


def compile_where(query: SearchQuery) -> Clause:
    """Current, non-deleted resources of one type matching every filter."""
    clauses: list[Clause] = [{"type": query.type}, {"deleted": False}]
    clauses.extend(c for f in query.filters if (c := _criterion_clause(f)))
    return {"$and": clauses}


def compile_search(query: SearchQuery) -> tuple[Clause, Sort, int]:
    """`compile_where` in id order (a query without ``sort``), after the ``after_id`` cursor;
    paging backwards, before it in descending id order (the store turns the page around)."""
    where = compile_where(query)
    back = query.backward
    if query.after_id is not None:
        where["$and"].append({"id": {"$lt" if back else "$gt": query.after_id}})
    return where, [("id", DESCENDING if back else ASCENDING)], query.count + 1


_SORT_SOURCES = {
    "date": ("dt", "lo", "hi"),
    "number": ("num", "lo", "hi"),
    "quantity": ("qty", "lo", "hi"),
    "string": ("str", "v", "v"),
    "token": ("tok", "c", "c"),
    "reference": ("ref", "i", "i"),
    "uri": ("uri", "v", "v"),
}
"""Sort parameter kind → (array, field whose lowest value sorts ascending, field whose highest
value sorts descending): the same sources as the SQLite store's ``_SORT_SOURCES``."""


def _sort_field(i: int) -> str:
    return f"_s{i}"


def _null_field(i: int) -> str:
    return f"_n{i}"


def _entry_values(key: SortKey) -> Any:
    """The resource's values of the sort parameter: an array expression over its index array."""
    array, low, high = _SORT_SOURCES[key.kind]
    entries = {
        "$filter": {
            "input": {"$ifNull": [f"${array}", []]},
            "as": "e",
            "cond": {"$eq": ["$$e.p", {"$literal": key.param}]},
        }
    }
    return {"$map": {"input": entries, "as": "e", "in": f"$$e.{high if key.descending else low}"}}


_CURSOR_TYPES = (str, int, float, type(None))


def _keyset(keys: list[SortKey], cursor: str, backward: bool) -> Clause:
    """Rows after (``backward``: before) the cursor's row in the sort order: for some key, all
    earlier keys equal and this one beyond (before) the cursor's; or all equal and the id beyond
    (before). Missing values sort last either way."""
    try:
        *values, last_id = orjson.loads(cursor)
    except (orjson.JSONDecodeError, TypeError, ValueError) as e:
        raise ValueError("cursor does not fit the sort") from e
    if (
        len(values) != len(keys)
        or not isinstance(last_id, str)
        or not all(isinstance(v, _CURSOR_TYPES) and not isinstance(v, bool) for v in values)
    ):
        raise ValueError("cursor does not fit the sort")
    ors: list[Clause] = []
    equal: list[Clause] = []
    for i, (key, value) in enumerate(zip(keys, values, strict=True)):
        step = _step(i, key.descending, value, backward)
        if step is not None:
            ors.append({"$and": [*equal, step]})
        equal.append(
            {_null_field(i): 1} if value is None else {_null_field(i): 0, _sort_field(i): value}
        )
    ors.append({"$and": [*equal, {"id": {"$lt" if backward else "$gt": last_id}}]})
    return {"$or": ors}


def _step(i: int, descending: bool, value: Any, backward: bool) -> Clause | None:
    """Sort key ``i`` beyond (before) the cursor's value; None when no value can be."""
    field, null = _sort_field(i), _null_field(i)
    if not backward:  # later: further in the key's direction, or missing
        if value is None:
            return None
        return {"$or": [{field: {"$lt" if descending else "$gt": value}}, {null: 1}]}
    if value is None:  # earlier than a missing value: any value
        return {null: 0}
    return {null: 0, field: {"$gt" if descending else "$lt": value}}


def compile_sorted_search(query: SearchQuery, projection: Clause) -> list[Clause]:
    """An aggregation pipeline for a query with ``sort``: each key's value is the resource's
    lowest value of the parameter ascending, its highest descending, null when it has none;
    ordered by (key is null, key [desc], …, id), like the SQLite store. Each result carries its
    sort values as ``_s0, _s1, …`` for `sorted_cursor`."""
    keys = query.sort
    values = {
        _sort_field(i): "$id" if k.kind == "id" else _entry_values(k) for i, k in enumerate(keys)
    }
    reduced = {
        _sort_field(i): {"$max" if k.descending else "$min": f"${_sort_field(i)}"}
        for i, k in enumerate(keys)
        if k.kind != "id"
    }
    nulls = {
        _null_field(i): {
            "$cond": [{"$eq": [{"$ifNull": [f"${_sort_field(i)}", None]}, None]}, 1, 0]
        }
        for i in range(len(keys))
    }
    pipeline: list[Clause] = [{"$match": compile_where(query)}, {"$addFields": values}]
    if reduced:
        pipeline.append({"$addFields": reduced})
    pipeline.append({"$addFields": nulls})
    if query.after_id is not None:
        pipeline.append({"$match": _keyset(keys, query.after_id, query.backward)})
    flip = -1 if query.backward else 1  # backwards: the reverse order, turned around by the store
    order: dict[str, int] = {}
    for i, k in enumerate(keys):
        order[_null_field(i)] = ASCENDING * flip
        order[_sort_field(i)] = (DESCENDING if k.descending else ASCENDING) * flip
    order["id"] = ASCENDING * flip
    pipeline += [{"$project": dict(projection)}, {"$sort": order}, {"$limit": query.count + 1}]
    return pipeline


def sorted_cursor(doc: Clause, query: SearchQuery) -> str:
    """The keyset of a row from `compile_sorted_search`: its sort values and id."""
    return orjson.dumps(
        [*(doc[_sort_field(i)] for i in range(len(query.sort))), doc["id"]]
    ).decode()


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
    numbers_ok = all(type(n) is int and 0 <= n <= INT64_MAX for n in (ts, version))
    if not (numbers_ok and isinstance(type_, str) and isinstance(id_, str)):
        raise ValueError(f"invalid history cursor {cursor!r}")  # BSON holds no larger int
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
