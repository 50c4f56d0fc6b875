"""The shapes that cross layers: a stored resource version and the clock that stamps it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache

_last_ts = 0


def now_us() -> int:
    """Microseconds since the epoch, strictly increasing within this process.

    Versions written by one process never share a timestamp, so `_since`/`_at` and history order
    are unambiguous even for writes in the same microsecond.
    """
    global _last_ts
    ts = time.time_ns() // 1000
    if ts <= _last_ts:
        ts = _last_ts + 1
    _last_ts = ts
    return ts


def instant(ts_us: int) -> str:
    """FHIR ``instant`` at the store's own precision (µs), so successive versions of a resource
    always differ and ``_since=<meta.lastUpdated>`` selects exactly that version onwards."""
    dt = datetime.fromtimestamp(ts_us // 1_000_000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_us % 1_000_000:06d}+00:00"


def http_date(ts_us: int) -> str:
    return _http_date(ts_us // 1_000_000)


@lru_cache(maxsize=4096)
def _http_date(seconds: int) -> str:
    """Cached per second: formatting costs more than the rest of a read's headers together."""
    return format_datetime(datetime.fromtimestamp(seconds, UTC), usegmt=True)


@dataclass(frozen=True, slots=True)
class StoredResource:
    """One version of a resource as the store holds it; ``content`` is the JSON served as-is."""

    type: str
    id: str
    version: int
    ts: int
    deleted: bool
    method: str
    content: bytes | None

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    @property
    def last_updated(self) -> str:
        return instant(self.ts)

    @property
    def reference(self) -> str:
        return f"{self.type}/{self.id}"
