"""A citizen's Consent resources (profile ff-consent) as rules: parsing, and what is in force.

A Consent is one `Policy`: a block (``deny`` at the top), a treatment-permit or a
disclosure-permit (``permit`` at the top), told apart by ``policyRule`` (CodeSystem
ff-consent-policy). Its provision tree becomes a `Provision` tree: who it concerns (`actors`),
which data (`Data`: resource types, security labels, tags, a data period), and nested
provisions — exceptions to their parent when of the opposite type. Parsing is pure; whether a
Consent is in force at an instant is `in_force` (status, scope, policy, period and the profile's
rules ff-consent-1..3), so a Consent that does not hold is ignored, never half-applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fhir_server.errors import Invalid
from fhir_server.search.dates import date_range
from profiles.src import canon
from profiles.src.terminology_ff import CONSENT_POLICY_CS

BLOCK = "block"
TREATMENT_PERMIT = "treatment-permit"
DISCLOSURE_PERMIT = "disclosure-permit"
POLICY_TYPES = {BLOCK: "deny", TREATMENT_PERMIT: "permit", DISCLOSURE_PERMIT: "permit"}
"""Each policy and the type its top provision must have (ff-consent-2)."""

RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
"""``provision.class`` codes name resource types in this system."""

OPEN_LOW, OPEN_HIGH = -(2**62), 2**62
"""An open end of a period (µs), as the date index has it."""


@dataclass(frozen=True, slots=True)
class Data:
    """Which data a provision covers; every part given must hold (a part lists alternatives)."""

    types: frozenset[str] = frozenset()
    """``provision.class`` resource types (empty: every type)."""
    security: tuple[tuple[str | None, str], ...] = ()
    """``provision.securityLabel`` (system, code): one of them on ``meta.security``."""
    tags: tuple[tuple[str | None, str], ...] = ()
    """``provision.code`` codings (system, code): one of them on ``meta.tag``."""
    period: tuple[int, int] | None = None
    """``provision.dataPeriod`` as [low, high) µs; None: any time."""


@dataclass(frozen=True, slots=True)
class Provision:
    type: str
    """``deny`` or ``permit``."""
    actors: tuple[dict[str, Any], ...]
    """``provision.actor.reference`` values (empty: whoever asks)."""
    data: Data
    nested: tuple[Provision, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    """One Consent in force."""

    id: str | None
    kind: str
    """`BLOCK`, `TREATMENT_PERMIT` or `DISCLOSURE_PERMIT`."""
    provision: Provision


def us(moment: datetime) -> int:
    """An aware datetime as µs since the epoch (the date index's unit)."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def bounds(period: Any) -> tuple[int, int] | None:
    """A FHIR Period as [low, high) µs — the end inclusive through its precision, as date
    search reads a Period; None when it is malformed."""
    if not isinstance(period, dict):
        return None
    start, end = period.get("start"), period.get("end")
    if not isinstance(start, str | None) or not isinstance(end, str | None):
        return None
    try:
        low = date_range(start, "period")[0] if start is not None else OPEN_LOW
        high = date_range(end, "period")[1] if end is not None else OPEN_HIGH
    except Invalid:
        return None
    return low, high


def _codings(value: Any) -> list[dict[str, Any]]:
    return [c for c in value if isinstance(c, dict)] if isinstance(value, list) else []


def _pairs(codings: list[dict[str, Any]]) -> tuple[tuple[str | None, str], ...]:
    out = []
    for c in codings:
        code, system = c.get("code"), c.get("system")
        if isinstance(code, str) and code:
            out.append((system if isinstance(system, str) else None, code))
    return tuple(out)


def policy_kind(consent: dict[str, Any]) -> str | None:
    """The ff-consent-policy code of ``policyRule`` (None: no known one)."""
    rule = consent.get("policyRule")
    for c in _codings(rule.get("coding") if isinstance(rule, dict) else None):
        if c.get("system") == CONSENT_POLICY_CS and c.get("code") in POLICY_TYPES:
            return str(c["code"])
    return None


def is_privacy(consent: dict[str, Any]) -> bool:
    """Whether the Consent's scope is ``patient-privacy``."""
    scope = consent.get("scope")
    return any(
        c.get("system") == canon.CONSENT_SCOPE and c.get("code") == "patient-privacy"
        for c in _codings(scope.get("coding") if isinstance(scope, dict) else None)
    )


def parse_provision(raw: dict[str, Any], parent: str = "deny") -> Provision:
    """The provision tree as written; a provision without a type has its parent's (so a
    nested one is no exception). What is refused on write: `management.consent_write_problem`."""
    actors = tuple(
        a["reference"]
        for a in raw.get("actor") or ()
        if isinstance(a, dict) and isinstance(a.get("reference"), dict)
    )
    types = frozenset(
        str(c["code"])
        for c in _codings(raw.get("class"))
        if c.get("system") in (RESOURCE_TYPES, None) and isinstance(c.get("code"), str)
    )
    tags = tuple(
        p
        for cc in raw.get("code") or ()
        if isinstance(cc, dict)
        for p in _pairs(_codings(cc.get("coding")))
    )
    period = bounds(raw["dataPeriod"]) if "dataPeriod" in raw else None
    if period == (OPEN_LOW, OPEN_HIGH):
        period = None
    data = Data(types, _pairs(_codings(raw.get("securityLabel"))), tags, period)
    written = raw.get("type")
    type_ = written if written in ("deny", "permit") else parent
    nested = tuple(
        parse_provision(p, type_) for p in raw.get("provision") or () if isinstance(p, dict)
    )
    return Provision(type_, actors, data, nested)


def plus_one_year(low: int) -> int:
    """``low`` (µs) one calendar year later (29 February → 28 February)."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=low)
    try:
        later = moment.replace(year=moment.year + 1)
    except ValueError:
        later = moment.replace(year=moment.year + 1, day=28)
    return us(later)


def period_problem(kind: str, provision: dict[str, Any]) -> str | None:
    """What in the top provision's period breaks ff-consent-1 (a block needs a start) or
    ff-consent-3 (a disclosure-permit runs at most one year); None when it is fine."""
    period = provision.get("period")
    if period is not None and bounds(period) is None:
        return "Consent.provision.period is not a valid Period"
    start = period.get("start") if isinstance(period, dict) else None
    end = period.get("end") if isinstance(period, dict) else None
    if kind == BLOCK and start is None:
        return "a block needs a start date (Consent.provision.period.start, ff-consent-1)"
    if kind == DISCLOSURE_PERMIT:
        if start is None or end is None:
            return (
                "a disclosure-permit needs a start and an end (Consent.provision.period,"
                " ff-consent-3)"
            )
        if date_range(end, "end")[0] > plus_one_year(date_range(start, "start")[0]):
            return (
                "a disclosure-permit runs at most one year (Consent.provision.period.end,"
                " ff-consent-3)"
            )
    return None


def in_force(consent: dict[str, Any], now: datetime) -> Policy | None:
    """The Consent as a `Policy` when it holds at ``now``: status active, scope
    patient-privacy, a known policy whose top provision has the policy's type, the profile's
    period rules met and ``now`` within ``provision.period``. Anything else: None (ignored)."""
    if consent.get("resourceType") != "Consent" or consent.get("status") != "active":
        return None
    kind = policy_kind(consent)
    raw = consent.get("provision")
    if kind is None or not is_privacy(consent) or not isinstance(raw, dict):
        return None
    if raw.get("type") != POLICY_TYPES[kind] or period_problem(kind, raw) is not None:
        return None
    low, high = bounds(raw.get("period") or {}) or (OPEN_LOW, OPEN_HIGH)
    if not low <= us(now) < high:
        return None
    id_ = consent.get("id")
    return Policy(id_ if isinstance(id_, str) else None, kind, parse_provision(raw))
