"""Purpose of use and break-the-glass (værdispring): the national vocabulary (OIO IDWS
Healthcare's ``PurposeOfUse``: ``TREATMENT``, ``EMERGENCY``, ``REQUEST``), stated once for the
token a SMART app asks for and for a national token's attribute.

Break-the-glass is purpose ``EMERGENCY`` (``BTG``, HL7's ``v3-ActReason#BTG``, is read as the
same) with a stated reason, for a bounded time: it is asked for when the token is issued
(``purpose_of_use=BTG`` and ``btg_reason=…`` on the SMART authorization request; the
``purpose_of_use`` and reason claims of a national token), lasts at most ``FHIR_BTG_SECONDS``
and never longer than the token, and only a health professional may ask for it. What it
overrides is the consent decision's business (``auth/consent``); here it is only carried.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TREATMENT = "TREATMENT"
EMERGENCY = "EMERGENCY"
REQUEST = "REQUEST"
PURPOSES = (TREATMENT, EMERGENCY, REQUEST)
_ALIASES = {"BTG": EMERGENCY, "ETREAT": EMERGENCY, "TREAT": TREATMENT}
"""HL7 v3 ActReason codes read as the national ones."""
MAX_REASON_CHARS = 500

NOT_HEALTH = (
    "Break-the-glass (purpose_of_use EMERGENCY) is only for health professionals acting in a"
    " health sector (region, psychiatry, municipal health care, general practice)"
)
NO_PERSON = (
    "Break-the-glass (purpose_of_use EMERGENCY) needs a health professional signed in; a"
    " backend service acts for no person"
)


class PurposeError(ValueError):
    """A purpose of use or break-the-glass reason that cannot be accepted (the message says
    which and why; it never echoes the reason itself)."""


def purpose_code(value: Any) -> str | None:
    """``TREATMENT``/``EMERGENCY``/``REQUEST`` from a claim or a request parameter: the code
    itself, any case, or a URI/coding ending in it (``urn:…:purposeofuse:EMERGENCY``,
    ``…v3-ActReason#BTG``); None when absent; `PurposeError` for anything else."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PurposeError("purpose_of_use must be a string")
    code = value.replace("#", ":").rsplit(":", 1)[-1].strip().upper()
    code = _ALIASES.get(code, code)
    if code not in PURPOSES:
        raise PurposeError("purpose_of_use must be one of TREATMENT, EMERGENCY (BTG), REQUEST")
    return code


def reason_text(value: Any) -> str:
    """A break-the-glass reason: mandatory, printable text of at most `MAX_REASON_CHARS`."""
    if not isinstance(value, str) or not value.strip():
        raise PurposeError("Break-the-glass (purpose_of_use EMERGENCY) needs a btg_reason")
    text = " ".join(value.split())
    if len(text) > MAX_REASON_CHARS or not text.isprintable():
        raise PurposeError(f"btg_reason must be printable text of at most {MAX_REASON_CHARS} chars")
    return text


@dataclass(frozen=True, slots=True)
class BreakGlass:
    """An asked-for break-the-glass: its reason and until when (epoch seconds)."""

    reason: str
    until: float


def requested(purpose: Any, reason: Any) -> str | None:
    """The reason of a break-the-glass request (``purpose_of_use``, ``btg_reason``), None when
    the request asks for none; `PurposeError` when it is malformed, or names a reason without
    asking for EMERGENCY."""
    code = purpose_code(purpose)
    if code == EMERGENCY:
        return reason_text(reason)
    if reason not in (None, ""):
        raise PurposeError("btg_reason is only for purpose_of_use EMERGENCY (BTG)")
    return None


def until(start: float, seconds: int, exp: float | None) -> float:
    """When a break-the-glass begun at ``start`` ends: after ``seconds``, and never after the
    token's ``exp``."""
    end = start + seconds
    return min(end, exp) if exp is not None else end
