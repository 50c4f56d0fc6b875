"""FHIRPath value semantics over plain FHIR JSON (fhirpath.html §6.1-6.3, §4.5 booleans).

Values are what ``orjson`` gives: dict (complex element or resource), str (every string-like
primitive, dates included), bool, int, float. A primitive that has only extensions is a
:class:`NoValue` (it exists, but has no value to compare).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from types import NotImplementedType
from typing import Any


class Unsupported(Exception):
    """A construct this compiler does not handle; the caller falls back to fhirpathpy."""


class EvaluationError(Exception):
    """The expression is wrong for this input (e.g. a collection where one item is needed)."""


class NoValue(dict):
    """A primitive element with extensions (``_birthDate``) but no value."""


def to_bool(items: list[Any]) -> bool | None:
    """Singleton evaluation of collections (fhirpath.html §4.5): None for empty."""
    if not items:
        return None
    if len(items) > 1:
        raise EvaluationError(f"expected a single boolean, got {len(items)} items")
    item = items[0]
    return item if isinstance(item, bool) else True


def singleton(items: list[Any]) -> Any:
    if len(items) > 1:
        raise EvaluationError(f"expected a single item, got {len(items)}")
    return items[0] if items else None


def has_value(item: Any) -> bool:
    return not isinstance(item, dict)


_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d+))?)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)
_TIME = re.compile(r"T?(?P<h>\d{2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d+))?)?)?")


def _date_parts(text: str) -> tuple[list[int], str | None] | None:
    """Components present (year, month, day, hour, minute, second, microsecond) and tz."""
    m = _DATE.fullmatch(text)
    if m is None:
        return None
    parts = []
    for key in ("y", "mo", "d", "h", "mi", "s"):
        if m.group(key) is None:
            break
        parts.append(int(m.group(key)))
    if m.group("f") is not None and len(parts) == 6:
        parts.append(int((m.group("f") + "000000")[:6]))
    return parts, m.group("tz")


def _time_parts(text: str) -> list[int] | None:
    m = _TIME.fullmatch(text)
    if m is None or ":" not in text:
        return None
    return [int(v) for v in m.group("h", "mi", "s") if v is not None]


def _as_utc(parts: list[int], tz: str) -> list[int]:
    """Shift a date-time with a time zone to UTC, keeping its precision."""
    full = parts + [0] * (7 - len(parts))
    offset = timedelta(0)
    if tz != "Z":
        sign = -1 if tz[0] == "-" else 1
        offset = sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    year, month, day, hour, minute, second, micro = full[:7]
    moment = datetime(
        year, month, day, hour, minute, second, micro, tzinfo=timezone(offset)
    ).astimezone(UTC)
    shifted = [
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
    ]
    return shifted[: len(parts)]


def _compare_parts(a: list[int], b: list[int]) -> int | None:
    """-1/0/1, or None when they agree as far as the less precise one goes (§6.3 precision).
    Seconds and their fraction are one precision (fhirpath.html §2.1.20)."""
    la, lb = min(len(a), 6), min(len(b), 6)
    for x, y in zip(a[: min(la, lb)], b[: min(la, lb)], strict=True):
        if x != y:
            return -1 if x < y else 1
    if la != lb:
        return None
    fa, fb = (a[6] if len(a) > 6 else 0), (b[6] if len(b) > 6 else 0)
    return (fa > fb) - (fa < fb)


def compare_temporal(a: str, b: str) -> int | NotImplementedType | None:
    """Compare two date/time strings; NotImplemented if they are not both temporal."""
    pa, pb = _date_parts(a), _date_parts(b)
    if pa is not None and pb is not None:
        (da, ta), (db, tb) = pa, pb
        if ta and tb and len(da) > 3 and len(db) > 3:
            da, db = _as_utc(da, ta), _as_utc(db, tb)
        return _compare_parts(da, db)
    qa, qb = _time_parts(a), _time_parts(b)
    if qa is not None and qb is not None:
        return _compare_parts(qa, qb)
    return NotImplemented


class CalendarDuration:
    """A time-valued quantity literal (``1 year``, ``2 weeks``): only date arithmetic uses it."""

    __slots__ = ("unit", "value")
    UNITS = {"year": "year", "month": "month", "week": "week", "day": "day"}

    def __init__(self, value: int, unit: str) -> None:
        self.value, self.unit = value, unit


def _plural(unit: str) -> str:
    return unit[:-1] if unit.endswith("s") else unit


def calendar_duration(value: int | float, unit: str) -> CalendarDuration:
    """The literal, or `Unsupported` for units and values left to fhirpathpy (hours and
    finer, UCUM codes, fractions)."""
    name = CalendarDuration.UNITS.get(_plural(unit))
    if name is None or not isinstance(value, int):
        raise Unsupported(f"the quantity {value} {unit}")
    return CalendarDuration(value, name)


def add_duration(date: str, duration: CalendarDuration, sign: int) -> str:
    """A date (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``) plus or minus a calendar duration at
    least as coarse as its precision, the day clamped to the month's last (fhirpath.html
    §6.6.1: ``@2024-02-29 + 1 year`` is ``@2025-02-28``). Date-times and finer units are left
    to fhirpathpy (`Unsupported`)."""
    found = _date_parts(date)
    parts = found[0] if found is not None and "T" not in date else None
    unit, amount = duration.unit, sign * duration.value
    if parts is None or (unit in ("week", "day") and len(parts) < 3):
        raise Unsupported(f"{date} + {duration.value} {unit}")
    if unit == "month" and len(parts) < 2:
        raise Unsupported(f"{date} + {duration.value} month")
    if unit in ("week", "day"):
        days = amount * (7 if unit == "week" else 1)
        moved = datetime(parts[0], parts[1], parts[2]) + timedelta(days=days)
        return f"{moved.year:04d}-{moved.month:02d}-{moved.day:02d}"
    months = parts[0] * 12 + (parts[1] - 1 if len(parts) > 1 else 0)
    months += amount * (12 if unit == "year" else 1)
    year, month = divmod(months, 12)
    if not 1 <= year <= 9999:
        raise EvaluationError(f"{date} + {duration.value} {unit} is out of range")
    if len(parts) == 1:
        return f"{year:04d}"
    if len(parts) == 2:
        return f"{year:04d}-{month + 1:02d}"
    last = (datetime(year + (month == 11), (month + 1) % 12 + 1, 1) - timedelta(days=1)).day
    return f"{year:04d}-{month + 1:02d}-{min(parts[2], last):02d}"


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def equal(a: Any, b: Any) -> bool | None:
    """FHIRPath ``=`` on two items; None when the answer is unknown (precision)."""
    if isinstance(a, NoValue) or isinstance(b, NoValue):
        return None
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, str) and isinstance(b, str):
        if a == b:
            return True
        order = compare_temporal(a, b) if a[:1].isdigit() and b[:1].isdigit() else NotImplemented
        if order is NotImplemented:
            return False
        return None if order is None else order == 0
    if isinstance(a, dict) and isinstance(b, dict):
        return a == b
    return False


def equivalent(a: Any, b: Any) -> bool:
    """FHIRPath ``~``: strings ignore case and whitespace differences; else ``=``."""
    if isinstance(a, str) and isinstance(b, str):
        return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(
            equivalent(a[k], b[k]) or a[k] == b[k] for k in a if k != "id"
        )
    return bool(equal(a, b))


def _same_shape(a: str, b: str) -> bool:
    """Equal-length ISO dates (or date-times in the same zone) order as plain strings; so do
    two strings that are not temporal at all, which is what compare falls back to."""
    if len(a) != len(b):
        return False
    return len(a) <= 10 or a[-1] == b[-1] == "Z" or (a[-6] in "+-" and a[-6:] == b[-6:])


def compare(a: Any, b: Any) -> int | None:
    """Order of two items for ``< > <= >=``; None when unknown."""
    if _is_number(a) and _is_number(b):
        return (a > b) - (a < b)
    if isinstance(a, str) and isinstance(b, str):
        if _same_shape(a, b):
            return (a > b) - (a < b)
        order = compare_temporal(a, b)
        if order is NotImplemented:
            return (a > b) - (a < b)
        return order
    if isinstance(a, dict) and isinstance(b, dict) and "value" in a and "value" in b:
        return _compare_quantities(a, b)
    if isinstance(a, NoValue) or isinstance(b, NoValue):
        return None
    raise EvaluationError(f"cannot compare {type(a).__name__} with {type(b).__name__}")


def _compare_quantities(a: dict[str, Any], b: dict[str, Any]) -> int | None:
    """Quantities compare only in the same unit (no UCUM conversion here)."""
    unit_a = (a.get("system"), a.get("code")) if a.get("code") else (None, a.get("unit"))
    unit_b = (b.get("system"), b.get("code")) if b.get("code") else (None, b.get("unit"))
    if unit_a != unit_b:
        return None
    return compare(a["value"], b["value"])


def distinct(items: list[Any]) -> list[Any]:
    """Items without repeats, in order. A string that does not start with a digit equals only
    the same string (no temporal comparison applies), so those are told apart by a set: element
    ids and paths (``sdf-16``/``sdf-17`` on every StructureDefinition) stay linear instead of
    quadratic in their count."""
    out: list[Any] = []
    plain: set[str] = set()
    for item in items:
        if isinstance(item, str) and not item[:1].isdigit():
            if item not in plain:
                plain.add(item)
                out.append(item)
        elif not any(equal(item, seen) for seen in out):
            out.append(item)
    return out


def contains_item(items: list[Any], item: Any) -> bool:
    return any(equal(item, other) for other in items)


def to_string(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, float) and item.is_integer() and abs(item) < 1e15:
        return f"{item:.1f}"
    return str(item)
