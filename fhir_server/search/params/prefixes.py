"""Comparison prefixes (eq ne gt lt ge le sa eb ap) for date, number and quantity parameters.

Both sides are half-open ranges [low, high): the search value's implied precision range and the
target's (a point for numbers). The semantics follow http://hl7.org/fhir/R4/search.html#prefix.
"""

from __future__ import annotations

import re

from fhir_server.errors import Invalid

PREFIXES = frozenset({"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"})
_PREFIX = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=[\d-])")


def split_prefix(raw: str, param: str) -> tuple[str, str]:
    m = _PREFIX.match(raw)
    if m:
        return m.group(1), raw[2:]
    if raw[:2].isalpha():
        raise Invalid(f"{param}: unknown comparison prefix {raw[:2]!r}", [param])
    return "eq", raw


def sql_condition(prefix: str, lo: str, hi: str) -> tuple[str, int]:
    """A SQL condition on target columns ``lo``/``hi`` and the number of (low, high) argument
    pairs it consumes, in order."""
    eq = f"({lo} >= ? AND {hi} <= ?)"
    # eq/ne also need ``lo < high``: a stored number is the point [n, n], and the search range is
    # half-open, so 5.45 is not in ``5.4`` = [5.35, 5.45). Implied for non-empty (date) ranges.
    eq_half_open = f"({lo} >= ? AND {hi} <= ? AND {lo} < ?)"
    return {
        "eq": (eq_half_open, 1),
        "ne": (f"NOT {eq_half_open}", 1),
        "gt": (f"{hi} > ?", 0),
        "lt": (f"{lo} < ?", 0),
        "ge": (f"({hi} > ? OR {eq})", 1),
        "le": (f"({lo} < ? OR {eq})", 1),
        "sa": (f"{lo} >= ?", 0),
        "eb": (f"{hi} <= ?", 0),
        "ap": (f"({lo} < ? AND {hi} > ?)", 0),
    }[prefix]


def sql_args(prefix: str, low: float, high: float) -> list[float]:
    """The arguments for `sql_condition`'s placeholders, in order."""
    if prefix in ("eq", "ne"):
        return [low, high, high]
    if prefix == "gt":
        return [high]
    if prefix == "lt":
        return [low]
    if prefix == "ge":
        return [high, low, high]
    if prefix == "le":
        return [low, low, high]
    if prefix == "sa":
        return [high]
    if prefix == "eb":
        return [low]
    return [high, low]  # ap: the parser has already widened the range (overlap test)
