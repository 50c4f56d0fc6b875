"""Parse search parameters (a query string's pairs) into a SearchQuery, strictly.

An unknown parameter, modifier or malformed value is an error, never silently ignored: a
conditional delete that ignored its only parameter would delete everything.
"""

from __future__ import annotations

from dataclasses import replace

from fhir_server.errors import Invalid
from fhir_server.search.model import ANY, Filter, SearchQuery, TokenValue
from fhir_server.search.params import date, number, reference, string, token, uri
from fhir_server.search.registry import SearchParam, params_for

RESULT_PARAMS = frozenset({"_count", "_format", "_pretty", "_cursor"})


def _split_or(raw: str) -> list[str]:
    """Split an OR list on unescaped commas (``\\,`` is a literal comma)."""
    out, cur, i = [], [], 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            cur.append(raw[i + 1])
            i += 2
            continue
        if ch == ",":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def _filter(param: SearchParam, modifier: str | None, values: list[str], base: str) -> Filter:
    name = param.name
    if modifier == "missing":
        if values not in (["true"], ["false"]):
            raise Invalid(f"{name}:missing takes true or false", [f"{name}:missing"])
        return Filter(name, param.type, (), "missing", values == ["true"])  # type: ignore[arg-type]
    if param.type == "id":
        if modifier is not None:
            raise Invalid(f"Modifier :{modifier} is not supported on _id", [name])
        return Filter(name, "id", tuple(TokenValue(ANY, v) for v in values))
    if param.type == "token":
        return token.parse(name, modifier, values)
    if param.type == "string":
        return string.parse(name, modifier, values)
    if param.type == "date":
        return date.parse(name, modifier, values)
    if param.type == "number":
        return number.parse(name, modifier, values)
    if param.type == "quantity":
        return number.parse_quantity(name, modifier, values)
    if param.type == "reference":
        return reference.parse(name, modifier, values, param.targets, base)
    return uri.parse(name, modifier, values)


def parse_search(
    type_: str,
    pairs: list[tuple[str, str]],
    *,
    default_count: int,
    max_count: int,
    base: str = "",
) -> SearchQuery:
    known = params_for(type_)
    query = SearchQuery(type_, count=default_count)
    for name, raw in pairs:
        if name == "_count":
            if not raw.isdigit():
                raise Invalid(f"_count must be a non-negative integer, not {raw!r}", ["_count"])
            query.count = min(int(raw), max_count)
            continue
        if name == "_cursor":
            query.after_id = raw
            continue
        if name in RESULT_PARAMS:
            continue
        base_name, _, modifier = name.partition(":")
        param = known.get(base_name)
        if param is None:
            raise Invalid(f"Unknown search parameter {base_name!r} for type {type_}", [name])
        values = [v for v in _split_or(raw) if v != ""]
        if not values:
            raise Invalid(f"Search parameter {base_name!r} has no value", [name])
        try:
            query.filters.append(_filter(param, modifier or None, values, base))
        except Invalid as err:  # name the parameter as the client wrote it
            err.issues = [replace(i, expression=(name,)) for i in err.issues]
            raise
    return query
