"""Comparison prefixes (eq ne gt lt ge le sa eb ap) for date, number and quantity parameters.

Both sides are half-open ranges [low, high): the search value's implied precision range and the
target's (a point for numbers). The semantics follow http://hl7.org/fhir/R4/search.html#prefix.
"""

from __future__ import annotations

import re

from fhir_server.errors import Invalid
from fhir_server.search.conditions import All, Cmp, Condition, Either, negate

PREFIXES = frozenset({"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"})
_PREFIX = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=[\d-])")


def split_prefix(raw: str, param: str) -> tuple[str, str]:
    m = _PREFIX.match(raw)
    if m:
        return m.group(1), raw[2:]
    if raw[:2].isalpha():
        raise Invalid(
            f"{param}: unknown comparison prefix {raw[:2]!r} in {raw!r}; write the value itself"
            " (a date as YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz, a number as"
            " digits), optionally after one of the prefixes eq, ne, gt, lt, ge, le, sa, eb, ap"
            " (e.g. ge2020-01-01 or lt5)",
            [param],
        )
    return "eq", raw


def range_condition(prefix: str, low: float, high: float) -> Condition:
    """The one prefix table: an index entry's range [``lo``, ``hi``] compared with the search
    range [low, high), per http://hl7.org/fhir/R4/search.html#prefix (``ap`` bounds are already
    widened by the parser). Every store renders this; none restates it."""
    # eq/ne also need ``lo < high``: a stored number is the point [n, n], and the search range is
    # half-open, so 5.45 is not in ``5.4`` = [5.35, 5.45). Implied for non-empty (date) ranges.
    within = (Cmp("lo", ">=", low), Cmp("hi", "<=", high))
    eq = All((within[0], Cmp("lo", "<", high), within[1]))
    if prefix == "eq":
        return eq
    if prefix == "ne":
        return negate(eq)
    if prefix == "gt":
        return Cmp("hi", ">", high)
    if prefix == "lt":
        return Cmp("lo", "<", low)
    if prefix == "ge":
        return Either((Cmp("hi", ">", high), All(within)))
    if prefix == "le":
        return Either((Cmp("lo", "<", low), All(within)))
    if prefix == "sa":
        return Cmp("lo", ">=", high)
    if prefix == "eb":
        return Cmp("hi", "<=", low)
    if prefix == "ap":  # overlap
        return All((Cmp("lo", "<", high), Cmp("hi", ">", low)))
    raise ValueError(f"unknown comparison prefix {prefix!r}")
