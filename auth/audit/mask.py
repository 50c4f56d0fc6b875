"""CPR numbers never reach an AuditEvent (FUT's rule, medcom-consent-audit.md B.4): every value
that is, or may be, a CPR number is replaced by ``xxxxxxxxxx`` before an event is built.

Masked are the values of the CPR identifier system (``urn:oid:1.2.208.176.1.2|…``, as FUT's
example ``{"identifier": "urn:oid:1.2.208.176.1.2|xxxxxxxxxx"}``), and any other run of ten
digits (or six, a hyphen, four) standing on its own whose first four digits could be a day and
month: a CPR number typed into a search value without its system, or chosen as an id. Masking a
number that was not a CPR number costs a detail of the log; missing one would leak it.
"""

from __future__ import annotations

import re

from profiles.danish.identifiers import CPR_SYSTEM

MASK = "xxxxxxxxxx"
_SYSTEM_VALUE = re.compile(re.escape(CPR_SYSTEM) + r"\|[^,&]*")
_DIGITS = re.compile(r"[0-9]{4}")
_RUN = re.compile(r"(?<![0-9A-Za-z])([0-9]{2})([0-9]{2})([0-9]{2})-?([0-9]{4})(?![0-9A-Za-z])")


def _run(match: re.Match[str]) -> str:
    day, month = int(match.group(1)), int(match.group(2))
    return MASK if 1 <= day <= 31 and 1 <= month <= 12 else match.group(0)


def mask(text: str) -> str:
    """``text`` with every CPR number (or what may be one) replaced by ``xxxxxxxxxx``."""
    if _DIGITS.search(text) is None:
        return text
    return _RUN.sub(_run, _SYSTEM_VALUE.sub(f"{CPR_SYSTEM}|{MASK}", text))
