"""FHIRPath functions that take only values (no expression arguments), over plain JSON items.

Each takes the input collection and the evaluated arguments (each a collection) and returns a
collection. The ones taking expressions (where, select, exists, all, iif, ofType …) live in the
compiler, which controls how their arguments are evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from profiles.validation.fhirpath.values import (
    EvaluationError,
    NoValue,
    contains_item,
    distinct,
    has_value,
    singleton,
    to_bool,
    to_string,
)

Items = list[Any]
Function = Callable[..., Items]


def _string(items: Items) -> str | None:
    value = singleton(items)
    if value is None or isinstance(value, NoValue):
        return None
    if not isinstance(value, str):
        raise EvaluationError(f"expected a string, got {type(value).__name__}")
    return value


def _arg_string(arg: Items) -> str | None:
    value = singleton(arg)
    return value if isinstance(value, str) else None


def _int_arg(arg: Items) -> int | None:
    value = singleton(arg)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _on_string(fn: Callable[..., Any], arg_type: type = str) -> Function:
    """A string function: empty input or argument, or an argument not of ``arg_type`` (an
    object in a malformed resource must not raise) → empty; else ``[fn(text, *args)]``."""

    def run(items: Items, *args: Items) -> Items:
        text = _string(items)
        values = [singleton(a) for a in args]
        if text is None or any(not isinstance(v, arg_type) or isinstance(v, bool) for v in values):
            return []
        result = fn(text, *values)
        return [] if result is None else [result]

    return run


@_on_string
def _matches(text: str, pattern: str) -> bool:
    return re.search(pattern, text, re.DOTALL) is not None


@_on_string
def _replace_matches(text: str, pattern: str, substitution: str) -> str:
    return re.sub(pattern, substitution, text)


def _substring_of(text: str, start: int, length: int | None = None) -> str | None:
    if start < 0 or start >= len(text):
        return None
    return text[start:] if length is None else text[start : start + length]


_substring = _on_string(_substring_of, int)


def _substring_fn(items: Items, *args: Items) -> Items:
    if len(args) == 2 and not args[1]:
        args = args[:1]
    return _substring(items, *args)


def _not(items: Items) -> Items:
    value = to_bool(items)
    return [] if value is None else [not value]


def _all_true(items: Items) -> Items:
    return [all(i is True for i in items)]


def _any_true(items: Items) -> Items:
    return [any(i is True for i in items)]


def _all_false(items: Items) -> Items:
    return [all(i is False for i in items)]


def _any_false(items: Items) -> Items:
    return [any(i is False for i in items)]


def _single(items: Items) -> Items:
    if len(items) > 1:
        raise EvaluationError("single() on more than one item")
    return items


def _to_integer(items: Items) -> Items:
    value = singleton(items)
    if isinstance(value, bool):
        return [int(value)]
    if isinstance(value, int):
        return [value]
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value):
        return [int(value)]
    return []


def _to_decimal(items: Items) -> Items:
    value = singleton(items)
    if isinstance(value, bool):
        return [1.0 if value else 0.0]
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+(\.\d+)?", value):
        return [float(value)]
    return []


def _to_string(items: Items) -> Items:
    value = singleton(items)
    if value is None or isinstance(value, dict):
        return []
    return [to_string(value)]


def _children(items: Items) -> Items:
    out: Items = []
    for item in items:
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "resourceType" or key.startswith("_"):
                    continue
                if isinstance(value, list):
                    out.extend(v for v in value if v is not None)
                else:
                    out.append(value)
    return out


def _descendants(items: Items) -> Items:
    out: Items = []
    level = _children(items)
    while level:
        out.extend(level)
        level = _children(level)
    return out


descendants_of = _descendants
"""``descendants()`` for a native check that must walk exactly what the function walks."""


def _extension(items: Items, url: Items) -> Items:
    wanted = _arg_string(url)
    out: Items = []
    for item in items:
        if isinstance(item, dict):
            out.extend(
                e
                for e in item.get("extension", [])
                if isinstance(e, dict) and e.get("url") == wanted
            )
    return out


def _now(items: Items) -> Items:
    return [datetime.now(UTC).isoformat(timespec="seconds")]


def _today(items: Items) -> Items:
    return [datetime.now(UTC).date().isoformat()]


def _count(items: Items) -> Items:
    return [len(items)]


def _first(items: Items) -> Items:
    return items[:1]


def _last(items: Items) -> Items:
    return items[-1:]


def _tail(items: Items) -> Items:
    return items[1:]


def _skip(items: Items, n: Items) -> Items:
    count = _int_arg(n)
    return items if count is None else items[max(count, 0) :]


def _take(items: Items, n: Items) -> Items:
    count = _int_arg(n)
    return [] if count is None else items[: max(count, 0)]


VALUE_FUNCTIONS: dict[str, tuple[Function, tuple[int, ...]]] = {
    "empty": (lambda items: [not items], (0,)),
    "exists": (lambda items: [bool(items)], (0,)),
    "hasValue": (lambda items: [len(items) == 1 and has_value(items[0])], (0,)),
    "not": (_not, (0,)),
    "count": (_count, (0,)),
    "allTrue": (_all_true, (0,)),
    "anyTrue": (_any_true, (0,)),
    "allFalse": (_all_false, (0,)),
    "anyFalse": (_any_false, (0,)),
    "distinct": (distinct, (0,)),
    "isDistinct": (lambda items: [len(distinct(items)) == len(items)], (0,)),
    "subsetOf": (lambda items, other: [all(contains_item(other, i) for i in items)], (1,)),
    "supersetOf": (lambda items, other: [all(contains_item(items, i) for i in other)], (1,)),
    "first": (_first, (0,)),
    "last": (_last, (0,)),
    "tail": (_tail, (0,)),
    "skip": (_skip, (1,)),
    "take": (_take, (1,)),
    "single": (_single, (0,)),
    "intersect": (
        lambda items, other: [i for i in distinct(items) if contains_item(other, i)],
        (1,),
    ),
    "exclude": (lambda items, other: [i for i in items if not contains_item(other, i)], (1,)),
    "union": (lambda items, other: distinct(items + other), (1,)),
    "combine": (lambda items, other: items + other, (1,)),
    "matches": (_matches, (1,)),
    "replaceMatches": (_replace_matches, (2,)),
    "startsWith": (_on_string(lambda t, p: t.startswith(p)), (1,)),
    "endsWith": (_on_string(lambda t, p: t.endswith(p)), (1,)),
    "contains": (_on_string(lambda t, p: p in t), (1,)),
    "indexOf": (_on_string(lambda t, p: t.find(p)), (1,)),
    "length": (_on_string(len), (0,)),
    "lower": (_on_string(str.lower), (0,)),
    "upper": (_on_string(str.upper), (0,)),
    "trim": (_on_string(str.strip), (0,)),
    "replace": (_on_string(lambda t, a, b: t.replace(a, b)), (2,)),
    "substring": (_substring_fn, (1, 2)),
    "toChars": (lambda items: list(_string(items) or ""), (0,)),
    "toString": (_to_string, (0,)),
    "toInteger": (_to_integer, (0,)),
    "toDecimal": (_to_decimal, (0,)),
    "children": (_children, (0,)),
    "descendants": (_descendants, (0,)),
    "extension": (_extension, (1,)),
    "now": (_now, (0,)),
    "today": (_today, (0,)),
}
