"""FHIR date, dateTime and instant values as the half-open range [start, end) they denote (µs).

``2024`` is the whole year, ``2024-03-01T10:00`` the whole minute: the range semantics every date
comparison (`_since`, `_at`, date search) is defined by.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fhir_server.errors import Invalid

_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d{1,9}))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _us(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(microseconds=1)


def _next_month(dt: datetime) -> datetime:
    return (
        dt.replace(year=dt.year + 1, month=1) if dt.month == 12 else dt.replace(month=dt.month + 1)
    )


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
    except ValueError as err:
        raise Invalid(f"{param}: {value!r} is not a valid date ({err})", [param]) from err
    if g["f"]:
        end = start + timedelta(microseconds=10 ** (6 - min(len(g["f"]), 6)))
    elif g["S"]:
        end = start + timedelta(seconds=1)
    elif g["M"]:
        end = start + timedelta(minutes=1)
    elif g["d"]:
        end = start + timedelta(days=1)
    elif g["m"]:
        end = _next_month(start)
    else:
        end = start.replace(year=start.year + 1)
    return _us(start), _us(end)


def timezone_offset(minutes: int):  # type: ignore[no-untyped-def]
    from datetime import timezone

    return timezone(timedelta(minutes=minutes))
