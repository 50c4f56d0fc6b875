"""FHIRPath operators (fhirpath.html §6) as closure builders: each takes the compiled operands
and the operator text and returns the compiled expression."""

from __future__ import annotations

from typing import Any

from profiles.validation.fhirpath.runtime import Env, Fn, Items
from profiles.validation.fhirpath.values import (
    CalendarDuration,
    EvaluationError,
    Unsupported,
    add_duration,
    compare,
    contains_item,
    distinct,
    equal,
    equivalent,
    singleton,
    to_bool,
    to_string,
)


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def union(left: Fn, right: Fn, op: str) -> Fn:
    return lambda items, env: distinct(left(items, env) + right(items, env))


def equality(left: Fn, right: Fn, op: str) -> Fn:
    negate = op.startswith("!")
    test = equivalent if "~" in op else equal

    def run(items: Items, env: Env) -> Items:
        a, b = left(items, env), right(items, env)
        if test is equivalent:
            same = len(a) == len(b) and all(equivalent(x, y) for x, y in zip(a, b, strict=True))
            return [same != negate]
        if not a or not b:
            return []
        if len(a) != len(b):
            return [negate]
        verdicts = [equal(x, y) for x, y in zip(a, b, strict=True)]
        if False in verdicts:
            return [negate]
        if None in verdicts:
            return []
        return [not negate]

    return run


def inequality(left: Fn, right: Fn, op: str) -> Fn:
    accept = {"<": (-1,), ">": (1,), "<=": (-1, 0), ">=": (0, 1)}[op]

    def run(items: Items, env: Env) -> Items:
        a, b = singleton(left(items, env)), singleton(right(items, env))
        if a is None or b is None:
            return []
        order = compare(a, b)
        return [] if order is None else [order in accept]

    return run


def membership(left: Fn, right: Fn, op: str) -> Fn:
    if op == "contains":
        left, right = right, left

    def run(items: Items, env: Env) -> Items:
        needle = left(items, env)
        if not needle:
            return []
        return [contains_item(right(items, env), singleton(needle))]

    return run


def and_(left: Fn, right: Fn, op: str) -> Fn:

    def run(items: Items, env: Env) -> Items:
        a = to_bool(left(items, env))
        if a is False:
            return [False]
        b = to_bool(right(items, env))
        if b is False:
            return [False]
        return [True] if a and b else []

    return run


def or_(left: Fn, right: Fn, op: str) -> Fn:
    if op == "xor":
        return xor(left, right, op)

    def run(items: Items, env: Env) -> Items:
        a = to_bool(left(items, env))
        if a is True:
            return [True]
        b = to_bool(right(items, env))
        if b is True:
            return [True]
        return [False] if a is False and b is False else []

    return run


def xor(left: Fn, right: Fn, op: str) -> Fn:
    def run(items: Items, env: Env) -> Items:
        a, b = to_bool(left(items, env)), to_bool(right(items, env))
        return [] if a is None or b is None else [a != b]

    return run


def implies(left: Fn, right: Fn, op: str) -> Fn:

    def run(items: Items, env: Env) -> Items:
        a = to_bool(left(items, env))
        if a is False:
            return [True]
        b = to_bool(right(items, env))
        if b is True:
            return [True]
        return [False] if a is True and b is False else []

    return run


def additive(left: Fn, right: Fn, op: str) -> Fn:

    def run(items: Items, env: Env) -> Items:
        a, b = singleton(left(items, env)), singleton(right(items, env))
        if op == "&":
            return [("" if a is None else to_string(a)) + ("" if b is None else to_string(b))]
        if a is None or b is None:
            return []
        if isinstance(a, str) and isinstance(b, str) and op == "+":
            return [a + b]
        if _number(a) and _number(b):
            return [a + b if op == "+" else a - b]
        if isinstance(a, str) and isinstance(b, CalendarDuration) and op in "+-":
            return [add_duration(a, b, 1 if op == "+" else -1)]
        raise Unsupported(f"{op} on {type(a).__name__} and {type(b).__name__}")

    return run


def multiplicative(left: Fn, right: Fn, op: str) -> Fn:

    def run(items: Items, env: Env) -> Items:
        a, b = singleton(left(items, env)), singleton(right(items, env))
        if a is None or b is None:
            return []
        if not (_number(a) and _number(b)):
            raise Unsupported(f"{op} on {type(a).__name__}")
        if op == "*":
            return [a * b]
        if b == 0:
            return []
        if op == "/":
            return [a / b]
        return [int(a // b)] if op == "div" else [a % b]

    return run


def polarity(operand: Fn, op: str) -> Fn:
    sign = -1 if op == "-" else 1

    def run(items: Items, env: Env) -> Items:
        value = singleton(operand(items, env))
        if value is None:
            return []
        if not _number(value):
            raise EvaluationError("unary sign on a non-number")
        return [sign * value]

    return run


def indexer(left: Fn, index: Fn, op: str) -> Fn:

    def run(items: Items, env: Env) -> Items:
        found = left(items, env)
        i = singleton(index(items, env))
        return [found[i]] if isinstance(i, int) and 0 <= i < len(found) else []

    return run
