"""FHIR date, dateTime and instant values as the half-open range [start, end) they denote (µs).

``2024`` is the whole year, ``2024-03-01T10:00`` the whole minute: the range semantics every date
comparison (`_since`, `_at`, date search) is defined by.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, timezone

from fhir_server.errors import Invalid

_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d{1,9}))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?",
    re.ASCII,  # \d is [0-9]: not '²' or '٣'
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _us(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(microseconds=1)


def date_range(value: str, param: str) -> tuple[int, int]:
    m = _DATE.fullmatch(value.strip())
    if not m:
        raise Invalid(f"{param}: {value!r} is not a FHIR date, dateTime or instant", [param])
    g = m.groupdict()
    try:
        tz = UTC
        if g["tz"] and g["tz"] != "Z":
            sign = 1 if g["tz"][0] == "+" else -1
            hours, minutes = int(g["tz"][1:3]), int(g["tz"][4:6])
            tz = timezone_offset(sign * (hours * 60 + minutes))
        frac = (g["f"] or "").ljust(6, "0")[:6]
        start = datetime(
            int(g["y"]),
            int(g["m"] or 1),
            int(g["d"] or 1),
            int(g["H"] or 0),
            int(g["M"] or 0),
            int(g["S"] or 0),
            int(frac or 0),
            tzinfo=tz,
        )
        low = _us(start)
        return low, low + _length(start, g)
    except (ValueError, OverflowError) as err:
        raise Invalid(f"{param}: {value!r} is not a valid date ({err})", [param]) from err


_DAY_US = 86_400_000_000


def _length(start: datetime, g: dict[str, str | None]) -> int:
    """The length of the range ``start`` begins (µs), by the precision it was written with:
    counted, not computed as a datetime, since the range of 9999 (its year, its last month,
    day, second) ends past ``datetime.max``."""
    if g["f"]:
        return 10 ** (6 - min(len(g["f"] or ""), 6))
    if g["S"]:
        return 1_000_000
    if g["M"]:
        return 60_000_000
    if g["d"]:
        return _DAY_US
    if g["m"]:
        return calendar.monthrange(start.year, start.month)[1] * _DAY_US
    return (366 if calendar.isleap(start.year) else 365) * _DAY_US


def timezone_offset(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))
