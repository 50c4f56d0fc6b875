"""URI parameters: exact match, ``:below`` (the value is a prefix of the stored URI) and
``:above`` (the stored URI is a prefix of the value)."""

from __future__ import annotations

from typing import Any

from fhir_server.search.conditions import Condition, Eq, PrefixOf, StartsWith
from fhir_server.search.params.modifiers import check_modifier
from fhir_server.search.terms import Filter, UriValue


def index(param: str, values: list[Any]) -> list[tuple[str, str]]:
    return [(param, v) for v in values if isinstance(v, str)]


def condition(v: UriValue) -> Condition:
    if v.mode == "below":
        return StartsWith("value", v.uri)
    if v.mode == "above":
        return PrefixOf("value", v.uri)
    return Eq("value", v.uri)


def parse(param: str, modifier: str | None, values: list[str]) -> Filter:
    check_modifier("uri", param, modifier, ("above", "below"))
    return Filter(param, "uri", tuple(UriValue(v, modifier or "exact") for v in values))  # type: ignore[arg-type]
