"""Non-negative integers as clients write them in URLs and headers: ASCII digits only.

``str.isdigit`` accepts ``²`` and ``٣`` (and ``int`` reads the latter), and a number past
2^63 - 1 fits no column of either store: one parser, used wherever the server reads a count,
a version or a position from a client, refuses both.
"""

from __future__ import annotations

INT64_MAX = 2**63 - 1
"""The largest integer SQLite and BSON store (a version, a sequence number)."""


def parse_count(text: str, limit: int = INT64_MAX, clamp: bool = False) -> int | None:
    """``text`` as a non-negative integer of at most ``limit``; None if it is not one (empty,
    a sign, a non-ASCII digit) or, unless ``clamp`` (then it is ``limit``), larger."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    digits = text.lstrip("0")
    value = int(digits or "0") if len(digits) <= 19 else limit + 1  # int() of 4,300+ digits raises
    if value <= limit:
        return value
    return limit if clamp else None
