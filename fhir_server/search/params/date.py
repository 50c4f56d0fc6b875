"""Date parameters: date, dateTime, instant, Period and Timing values as [start, end) in µs."""

from __future__ import annotations

from typing import Any

from fhir_server.errors import Invalid
from fhir_server.search.dates import date_range
from fhir_server.search.params.modifiers import check_modifier
from fhir_server.search.params.prefixes import split_prefix
from fhir_server.search.terms import Filter, RangeValue
from fhir_server.stored import now_us

LOWEST, HIGHEST = -(2**62), 2**62
"""An open end of a Period."""


def _range(value: Any) -> tuple[int, int] | None:
    try:
        if isinstance(value, str):
            return date_range(value, "date")
        if isinstance(value, dict) and ("start" in value or "end" in value):
            start = date_range(value["start"], "date")[0] if value.get("start") else LOWEST
            end = date_range(value["end"], "date")[1] if value.get("end") else HIGHEST
            return start, end
    except (Invalid, TypeError):
        return None  # a malformed stored value is not searchable, never an error on write
    return None


def _values(value: Any) -> list[Any]:
    if isinstance(value, dict) and isinstance(value.get("event"), list):  # Timing
        return value["event"]
    return [value]


def index(param: str, values: list[Any]) -> list[tuple[str, int, int]]:
    rows = []
    for value in values:
        for item in _values(value):
            r = _range(item)
            if r is not None:
                rows.append((param, r[0], r[1]))
    return rows


def parse(param: str, modifier: str | None, values: list[str]) -> Filter:
    check_modifier("date", param, modifier)
    out = []
    for raw in values:
        prefix, text = split_prefix(raw, param)
        low, high = date_range(text, param)
        if prefix == "ap":  # search.html: within 10 % of the gap between now and the value
            width = abs(now_us() - low) // 10
            low, high = low - width, high + width
        out.append(RangeValue(prefix, low, high))
    return Filter(param, "date", tuple(out))
