"""String parameters: case- and accent-insensitive starts-with by default, ``:exact`` and
``:contains`` — with the Danish letters æ, ø and å kept as letters of their own."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

from fhir_server.search.conditions import All, Condition, Contains, Eq, StartsWith
from fhir_server.search.params.modifiers import check_modifier
from fhir_server.search.terms import Filter, StringValue

_RING = "\u030a"  # å = a + ring above: a letter of its own in Danish, not an accented a
_FIELDS = (
    "text",
    "family",
    "given",
    "prefix",
    "suffix",
    "line",
    "city",
    "district",
    "state",
    "postalCode",
    "country",
    "display",
    "value",
    "name",
)


@lru_cache(maxsize=65_536)
def normalize(text: str) -> str:
    """Folded for matching (cached: codes' displays, cities and given names recur)."""
    if text.isascii():
        return text.lower()  # casefold() of ASCII, which NFKD leaves alone
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch) or ch == _RING)
    return unicodedata.normalize("NFC", kept)


def strings_of(value: Any) -> list[str]:
    """The searchable text of a value: a string, or the parts of a HumanName, Address, …"""
    if isinstance(value, str):
        return [value]
    out: list[str] = []
    if isinstance(value, dict):
        for key in _FIELDS:
            part = value.get(key)
            for item in part if isinstance(part, list) else [part]:
                if isinstance(item, str):
                    out.append(item)
    return out


def index(param: str, values: list[Any]) -> list[tuple[str, str, str]]:
    return [(param, normalize(t), t) for v in values for t in strings_of(v)]


def condition(v: StringValue) -> Condition:
    """On an entry's folded ``text`` (`normalize`), or its ``exact`` text as written for
    ``:exact`` — whose folded form, implied by it, lets a store narrow its index scan."""
    if v.mode == "contains":
        return Contains("text", v.text)
    if v.mode == "exact":
        return All((Eq("text", normalize(v.text)), Eq("exact", v.text)))
    return StartsWith("text", v.text)


def parse(param: str, modifier: str | None, values: list[str]) -> Filter:
    check_modifier("string", param, modifier, ("exact", "contains"))
    mode = modifier or "start"
    out = tuple(StringValue(v if mode == "exact" else normalize(v), mode) for v in values)  # type: ignore[arg-type]
    return Filter(param, "string", out, modifier)
