"""A store-neutral condition on one index entry: what a search value asks of the rows (SQLite)
or array elements (MongoDB) its parameter's values are indexed as.

A parameter type states its search semantics once, here, as a condition (`search/params/*`);
each store only renders conditions (`store/sqlite/query.py` to SQL, `store/mongo/query.py` to
a filter document), so the two cannot drift. Fields are the entry's logical parts (``lo``,
``hi``, ``system``, ``code``, …); a store maps each to its own column or key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

Op = Literal["<", "<=", ">", ">="]

_NEGATED: dict[str, Op] = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}


@dataclass(frozen=True, slots=True)
class Eq:
    """``field`` equals ``value`` (None: the entry has no such part)."""

    field: str
    value: Any


@dataclass(frozen=True, slots=True)
class Cmp:
    """``field op value``; the field is never absent where a store renders this."""

    field: str
    op: Op
    value: Any


@dataclass(frozen=True, slots=True)
class AnyOf:
    """``field`` equals one of ``values``."""

    field: str
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class StartsWith:
    """``field`` begins with ``prefix`` (compared by code point)."""

    field: str
    prefix: str


@dataclass(frozen=True, slots=True)
class Contains:
    """``field`` contains ``text``."""

    field: str
    text: str


@dataclass(frozen=True, slots=True)
class PrefixOf:
    """``field`` is a prefix of ``value`` (the empty one included): ``uri:above``."""

    field: str
    value: str


@dataclass(frozen=True, slots=True)
class All:
    """Every condition holds (for the same entry)."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Either:
    """At least one condition holds."""

    conditions: tuple[Condition, ...]


Condition = Eq | Cmp | AnyOf | StartsWith | Contains | PrefixOf | All | Either

ALWAYS: Condition = All(())
NEVER: Condition = Either(())


def all_of(*conditions: Condition) -> Condition:
    """Every condition, leaving out those that always hold."""
    kept = tuple(c for c in conditions if c != ALWAYS)
    return kept[0] if len(kept) == 1 else All(kept)


def either(*conditions: Condition) -> Condition:
    return conditions[0] if len(conditions) == 1 else Either(conditions)


def renamed(c: Condition, prefix: str) -> Condition:
    """``c`` on the fields ``prefix + field``: a composite's second component names its parts
    apart from the first's."""
    if isinstance(c, All | Either):
        return type(c)(tuple(renamed(x, prefix) for x in c.conditions))
    return replace(c, field=prefix + c.field)


def negate(c: Condition) -> Condition:
    """The complement, pushed down to comparisons (De Morgan): stores render no ``NOT`` of
    their own. Only for comparisons on fields that are never absent."""
    if isinstance(c, Cmp):
        return Cmp(c.field, _NEGATED[c.op], c.value)
    if isinstance(c, All):
        return Either(tuple(negate(x) for x in c.conditions))
    if isinstance(c, Either):
        return All(tuple(negate(x) for x in c.conditions))
    raise ValueError(f"cannot negate {c!r}")  # an equality may be on an absent part
