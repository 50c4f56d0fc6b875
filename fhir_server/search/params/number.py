"""Number and quantity parameters: a search value denotes the range its precision implies
(``100`` is [99.5, 100.5)); a stored value is a point."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from fhir_server.errors import Invalid
from fhir_server.search.conditions import Condition, Eq, all_of
from fhir_server.search.params.modifiers import check_modifier
from fhir_server.search.params.prefixes import range_condition, split_prefix
from fhir_server.search.terms import Filter, QuantityValue, RangeValue


def precision_range(text: str, param: str) -> tuple[float, float, float]:
    """(value, low, high) of a decimal as written."""
    try:
        d = Decimal(text)
    except InvalidOperation as err:
        raise Invalid(f"{param}: {text!r} is not a number", [param]) from err
    if not d.is_finite():
        raise Invalid(f"{param}: {text!r} is not a finite number", [param])
    half = Decimal(1).scaleb(d.as_tuple().exponent) / 2  # type: ignore[arg-type]
    out = float(d), float(d - half), float(d + half)
    if not all(map(math.isfinite, out)):  # 1e309: a finite decimal, an infinite float
        raise Invalid(f"{param}: {text!r} is out of the range numbers are searched in", [param])
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):  # fhirpathpy yields decimals as Decimal
        return float(value)
    if isinstance(value, dict) and isinstance(value.get("value"), int | float | Decimal):
        return float(value["value"])
    return None


def index(param: str, values: list[Any]) -> list[tuple[str, float, float]]:
    return [(param, n, n) for v in values if (n := _number(v)) is not None]


def index_quantities(
    param: str, values: list[Any]
) -> list[tuple[str, str | None, str | None, float, float]]:
    rows = []
    for v in values:
        n = _number(v)
        if n is not None and isinstance(v, dict):
            system = v.get("system") if isinstance(v.get("system"), str) else None
            code = v.get("code") if isinstance(v.get("code"), str) else v.get("unit")
            rows.append((param, system, code if isinstance(code, str) else None, n, n))
            unit = v.get("unit")
            if isinstance(unit, str) and unit != code:  # ``5.4||mg`` matches code or unit
                rows.append((param, None, unit, n, n))
    return rows


def condition(v: RangeValue | QuantityValue) -> Condition:
    """What an index entry (``lo``, ``hi``; a quantity's ``system``, ``code``) must meet to
    match ``v``: its prefix on the range, and a quantity's system and unit where given. Dates
    share the range part (`prefixes.range_condition`)."""
    parts = [range_condition(v.prefix, v.low, v.high)]
    if isinstance(v, QuantityValue):
        parts += [Eq(f, x) for f, x in (("system", v.system), ("code", v.code)) if x is not None]
    return all_of(*parts)


def _bounds(prefix: str, value: float, low: float, high: float) -> tuple[float, float]:
    """eq/ne compare with the precision range, ap with ±10 % of the value, the others with the
    value itself."""
    if prefix == "ap":
        width = max(abs(value) * 0.1, high - low)
        return value - width, value + width
    return (low, high) if prefix in ("eq", "ne") else (value, value)


def parse(param: str, modifier: str | None, values: list[str]) -> Filter:
    check_modifier("number", param, modifier)
    out = []
    for raw in values:
        prefix, text = split_prefix(raw, param)
        value, low, high = precision_range(text, param)
        out.append(RangeValue(prefix, *_bounds(prefix, value, low, high)))
    return Filter(param, "number", tuple(out))


def parse_quantity(param: str, modifier: str | None, values: list[str]) -> Filter:
    check_modifier("quantity", param, modifier)
    out = []
    for raw in values:
        parts = raw.split("|")
        if len(parts) not in (1, 3):
            raise Invalid(
                f"{param}: a quantity is [prefix]number[|system|code], not {raw!r}", [param]
            )
        prefix, text = split_prefix(parts[0], param)
        value, low, high = precision_range(text, param)
        system = parts[1] or None if len(parts) == 3 else None
        code = parts[2] or None if len(parts) == 3 else None
        out.append(QuantityValue(prefix, *_bounds(prefix, value, low, high), system, code))
    return Filter(param, "quantity", tuple(out))
