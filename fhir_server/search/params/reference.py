"""Reference parameters: ``Type/id``, ``id`` (with ``:Type`` or a single target type), absolute
URLs (local ones resolved against the server base), canonical URLs, and ``:identifier``."""

from __future__ import annotations

from typing import Any

from fhir_server.errors import Invalid
from fhir_server.references import split_reference
from fhir_server.search.conditions import AnyOf, Condition, Either, Eq, all_of
from fhir_server.search.params.token import token_value
from fhir_server.search.terms import Filter, ReferenceValue

Row = tuple[str, str | None, str | None, str | None]

__all__ = ["condition", "index", "parse", "split_reference"]


def index(param: str, values: list[Any]) -> tuple[list[Row], list[tuple[str, str | None, str]]]:
    rows: list[Row] = []
    idents: list[tuple[str, str | None, str]] = []
    for value in values:
        ref = value.get("reference") if isinstance(value, dict) else value
        if isinstance(ref, str) and not ref.startswith("#"):
            rows.append((param, *split_reference(ref)))
        ident = value.get("identifier") if isinstance(value, dict) else None
        if isinstance(ident, dict) and isinstance(ident.get("value"), str):
            system = ident.get("system") if isinstance(ident.get("system"), str) else None
            idents.append((f"{param}:identifier", system, ident["value"]))
    return rows, idents


def condition(values: tuple[ReferenceValue, ...]) -> Condition:
    """Any of ``values`` on an entry's ``type``, ``id`` and ``url``: a URL one term each, local
    references one ``AnyOf`` per target type (a chain's values are its inner matches, up to
    `INNER_LIMIT` per type). A value with neither id nor URL can match nothing."""
    terms: list[Condition] = []
    by_type: dict[str | None, list[str]] = {}
    for v in values:
        if v.id is not None:
            by_type.setdefault(v.type, []).append(v.id)
        elif v.url is not None:
            terms.append(Eq("url", v.url))
    for type_, ids in by_type.items():
        id_ = Eq("id", ids[0]) if len(ids) == 1 else AnyOf("id", tuple(ids))
        terms.append(id_ if type_ is None else all_of(id_, Eq("type", type_)))
    return Either(tuple(terms))


def parse(
    param: str, modifier: str | None, values: list[str], targets: tuple[str, ...], base: str
) -> Filter:
    if modifier == "identifier":
        return Filter(f"{param}:identifier", "token", tuple(token_value(v) for v in values))
    if modifier is not None and modifier not in targets:
        raise Invalid(
            f"Modifier :{modifier} is not supported on reference parameter {param!r}"
            f" (targets: {', '.join(targets)})",
            [param],
        )
    out = []
    for raw in values:
        if raw.startswith(base + "/"):
            raw = raw[len(base) + 1 :]
        elif base and "://" in raw:  # another server's resource: only its URL can match
            out.append(ReferenceValue(None, None, raw))
            continue
        type_, id_, url = split_reference(raw)
        if type_ is None and url is None:  # a bare id
            type_ = modifier or (targets[0] if len(targets) == 1 else None)
            id_ = raw
        elif modifier and type_ and type_ != modifier:
            raise Invalid(f"{param}:{modifier} cannot match a {type_} reference", [param])
        out.append(ReferenceValue(type_, id_, url if type_ is None else None))
    return Filter(param, "reference", tuple(out))
