"""Parse search parameters (a query string's pairs) into a SearchQuery, strictly.

An unknown parameter, modifier or malformed value is an error, never silently ignored: a
conditional delete that ignored its only parameter would delete everything.
"""

from __future__ import annotations

from dataclasses import replace

from fhir_server.errors import Invalid, TooCostly
from fhir_server.numbers import parse_count
from fhir_server.representation import parse_elements, parse_summary
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search.params import composite, date, number, reference, string, token, uri
from fhir_server.search.params.escapes import split_escaped, unescape
from fhir_server.search.registry import KnownParameters, SearchParam
from fhir_server.search.terms import (
    ANY,
    Chain,
    Filter,
    Include,
    SearchQuery,
    SortKey,
    TokenValue,
)

RESULT_PARAMS = frozenset({"_count", "_format", "_pretty", "_cursor"})
MAX_VALUES = 4000
"""Values (ORed, comma-separated) one search may list across its parameters: each is a term
the store evaluates per candidate, and SQLite binds at most 32,766 variables per statement."""


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
    if param.type == "composite":
        return composite.parse(name, modifier, values, param.components)
    return uri.parse(name, modifier, values)


_KEEP_ESCAPES = frozenset({"composite", "token"})
"""Types that split a value further (``$``, ``|``) and unescape its parts themselves."""


def _values(raw: str, param: SearchParam) -> list[str]:
    """An OR list split on unescaped commas; a composite's and a token's values keep their
    escapes until they are split on ``$`` and ``|``."""
    parts = split_escaped(raw, ",")
    return parts if param.type in _KEEP_ESCAPES else [unescape(p) for p in parts]


_TOTAL = frozenset({"none", "estimate", "accurate"})
_TOTAL_METHOD = {"count": "accurate", "estimate": "estimate", "none": "none"}
"""``_totalMethod`` (Aidbox's name, which fhirpy's ``.count()`` sends) → the ``_total`` it means."""


def _include(params: KnownParameters, raw: str, name: str, iterate: bool) -> Include:
    parts = raw.split(":")
    if raw == "*":
        return Include("*", "*", None, iterate)
    if len(parts) not in (2, 3) or not all(parts):
        raise Invalid(f"{name} takes Type:parameter[:TargetType], not {raw!r}", [name])
    source, param = parts[0], parts[1]
    if source != "*" and source not in SERVED_TYPES:
        raise Invalid(f"{name}: unknown resource type {source!r}", [name])
    if param != "*" and (source == "*" or param not in params.params_for(source)):
        raise Invalid(f"{name}: {source} has no search parameter {param!r}", [name])
    if source != "*" and param != "*" and params.params_for(source)[param].type != "reference":
        raise Invalid(f"{name}: {source}:{param} is not a reference parameter", [name])
    target = parts[2] if len(parts) == 3 else None
    if target is not None and target not in SERVED_TYPES:
        raise Invalid(f"{name}: unknown target type {target!r}", [name])
    return Include(source, param, target, iterate)


def _result_param(
    params: KnownParameters, query: SearchQuery, name: str, raw: str, max_count: int
) -> bool:
    """Handle a result parameter; False if ``name`` is not one."""
    base, _, modifier = name.partition(":")
    if name == "_count":
        count = parse_count(raw, max_count, clamp=True)
        if count is None:
            raise Invalid(f"_count must be a non-negative integer, not {raw!r}", ["_count"])
        query.count = count
    elif name == "_cursor":
        query.after_id = raw
    elif name == "_total":
        if raw not in _TOTAL:
            raise Invalid(f"_total must be none, estimate or accurate, not {raw!r}", [name])
        query.total = raw
    elif name == "_totalMethod":
        if raw not in _TOTAL_METHOD:
            raise Invalid(f"_totalMethod must be count, estimate or none, not {raw!r}", [name])
        query.total = _TOTAL_METHOD[raw]
    elif name == "_summary":
        query.summary = parse_summary(raw)
    elif name == "_sort":
        query.sort = _sort(params, query.type, raw)
    elif name == "_elements":
        query.elements = parse_elements(raw)
    elif base in ("_include", "_revinclude") and modifier in ("", "iterate"):
        target = query.includes if base == "_include" else query.revincludes
        target.append(_include(params, raw, name, modifier == "iterate"))
    elif name in RESULT_PARAMS:
        pass
    else:
        return False
    return True


_SORTABLE = frozenset({"id", "token", "string", "date", "number", "quantity", "reference", "uri"})


def _sort(params: KnownParameters, type_: str, raw: str) -> list[SortKey]:
    keys = []
    for item in (x.strip() for x in raw.split(",")):
        name = item.removeprefix("-")
        param = params.params_for(type_).get(name)
        if not name or param is None or param.type not in _SORTABLE:
            raise Invalid(f"_sort: {type_} has no sortable parameter {name!r}", ["_sort"])
        keys.append(SortKey(name, param.type, item.startswith("-")))
    return keys


def _chain(
    params: KnownParameters, type_: str, name: str, raw: str, known: dict[str, SearchParam]
) -> Chain:
    if name.startswith("_has:"):
        parts = name.split(":", 3)
        if len(parts) != 4 or parts[1] not in SERVED_TYPES:
            raise Invalid(f"{name}: _has takes _has:Type:parameter:criterion", [name])
        via = params.params_for(parts[1]).get(parts[2])
        if via is None or via.type != "reference":
            raise Invalid(f"{name}: {parts[1]} has no reference parameter {parts[2]!r}", [name])
        return Chain("_has", parts[1], parts[2], ((parts[3], raw),), name)
    head, rest = name.split(".", 1)
    param_name, _, target = head.partition(":")
    param = known.get(param_name)
    if param is None or param.type != "reference":
        raise Invalid(f"{name}: {param_name!r} is not a reference parameter of {type_}", [name])
    if target and target not in param.targets:
        raise Invalid(f"{name}: {param_name} cannot refer to {target!r}", [name])
    return Chain(param_name, target or None, None, ((rest, raw),), name)


def parse_search(
    type_: str,
    pairs: list[tuple[str, str]],
    *,
    params: KnownParameters,
    default_count: int,
    max_count: int,
    base: str = "",
    lenient: bool = False,
) -> SearchQuery:
    known = params.params_for(type_)
    query = SearchQuery(type_, count=default_count)
    listed = 0
    for name, raw in pairs:
        if _result_param(params, query, name, raw, max_count):
            continue
        if (
            name.startswith("_has:")
            or "." in name.split(":", 1)[0]
            or (":" in name and "." in name.split(":", 1)[1])
        ):
            query.chains.append(_chain(params, type_, name, raw, known))
            continue
        base_name, _, modifier = name.partition(":")
        param = known.get(base_name)
        if param is None:
            if lenient:
                query.ignored.append(name)
                continue
            raise Invalid(f"Unknown search parameter {base_name!r} for type {type_}", [name])
        values = [v for v in _values(raw, param) if v != ""]
        if not values:
            raise Invalid(f"Search parameter {base_name!r} has no value", [name])
        listed += len(values)
        if listed > MAX_VALUES:
            raise TooCostly(f"A search lists at most {MAX_VALUES} values; narrow it", [name])
        try:
            query.filters.append(_filter(param, modifier or None, values, base))
        except Invalid as err:  # name the parameter as the client wrote it
            err.issues = [replace(i, expression=(name,)) for i in err.issues]
            raise
    return query
