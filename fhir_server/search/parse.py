"""Parse search parameters (a query string's pairs) into a SearchQuery, strictly.

An unknown parameter is an error, never silently ignored: a conditional delete that ignored its
only parameter would delete everything.
"""

from __future__ import annotations

from fhir_server.errors import Invalid
from fhir_server.search.model import ANY, Filter, SearchQuery, TokenValue
from fhir_server.search.registry import params_for

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


def _token(raw: str) -> TokenValue:
    if "|" not in raw:
        return TokenValue(ANY, raw)
    system, code = raw.split("|", 1)
    return TokenValue(system or None, code or None)


def parse_search(
    type_: str, pairs: list[tuple[str, str]], *, default_count: int, max_count: int
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
        base, _, modifier = name.partition(":")
        param = known.get(base)
        if param is None:
            raise Invalid(f"Unknown search parameter {base!r} for type {type_}", [name])
        if modifier:
            raise Invalid(f"Modifier :{modifier} is not supported on {base!r}", [name])
        values = [v for v in _split_or(raw) if v != ""]
        if not values:
            raise Invalid(f"Search parameter {base!r} has no value", [name])
        if param.kind == "id":
            query.filters.append(Filter(base, "id", tuple(TokenValue(ANY, v) for v in values)))
        else:
            query.filters.append(Filter(base, "token", tuple(_token(v) for v in values)))
    return query
