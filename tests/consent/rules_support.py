"""Builders for consent tests: actors, Consents (profile ff-consent) and labelled data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from profiles.danish.identifiers import AUTHORISATION_SYSTEM, SOR_SYSTEM
from profiles.src.terminology_ff import CONSENT_POLICY_CS

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PSY = (ACT_CODE, "PSY")
RESTRICTED = (CONFIDENTIALITY, "R")
PSYCHIATRY_TAG = ("http://faellesforloeb.dk/fhir/CodeSystem/data-category", "psychiatry")


@dataclass(frozen=True)
class Actor:
    """An actor as `auth.consent.view.Actor` describes it."""

    person: str | None = None
    authorisation_id: str | None = None
    role: str | None = None
    organizations: tuple[str, ...] = ()
    organization_identifiers: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    sector: str | None = "region"


def sor(code: str) -> tuple[tuple[str, str], ...]:
    return ((SOR_SYSTEM, code),)


HOSPITAL = "Organization/aarhus-hospital"
PSYCH_DEPT = "Organization/psych-dept"  # partOf HOSPITAL
WARD_7 = "Organization/ward-7"  # partOf PSYCH_DEPT
ORTHO = "Organization/ortho"  # partOf HOSPITAL
ORG_SOR = {
    HOSPITAL: sor("1000000000001"),
    PSYCH_DEPT: sor("1000000000002"),
    WARD_7: sor("1000000000003"),
    ORTHO: sor("1000000000004"),
    "Organization/gp": sor("2000000000001"),
    "Organization/ppr": sor("3000000000001"),
    "Organization/family": sor("3000000000002"),
    "Organization/school": sor("3000000000003"),
    "Organization/social": sor("3000000000009"),
}


def actor(person: str, auth: str | None, sector: str, *orgs: str, role: str | None = None) -> Actor:
    return Actor(person, auth, role, orgs, {o: ORG_SOR.get(o, ()) for o in orgs}, sector)


HANSEN = actor(
    "Practitioner/hansen",
    "HB2K7",
    "region-psychiatry",
    WARD_7,
    PSYCH_DEPT,
    HOSPITAL,
    role="PractitionerRole/hansen-ward-7",
)
BERG = actor("Practitioner/berg", "BR5T9", "region", ORTHO, HOSPITAL)
GP = actor("Practitioner/gp", "GP3D4", "general-practice", "Organization/gp")
NURSE = actor("Practitioner/nurse", "NR8M2", "municipality-health", "Organization/home-care")
PPR = actor(
    "Practitioner/ppr", None, "municipality-social", "Organization/ppr", "Organization/social"
)
FAMILY = actor("Practitioner/family", None, "municipality-social", "Organization/family")
TEACHER = actor("Practitioner/teacher", None, "municipality-social", "Organization/school")
UNPLACED = Actor("Practitioner/unknown", sector=None)


def ref(reference: str) -> dict[str, Any]:
    return {"reference": {"reference": reference}}


def by_authorisation(value: str) -> dict[str, Any]:
    return {"reference": {"identifier": {"system": AUTHORISATION_SYSTEM, "value": value}}}


def by_sor(org: str) -> dict[str, Any]:
    system, value = ORG_SOR[org][0]
    return {"reference": {"identifier": {"system": system, "value": value}}}


def provision(
    type_: str,
    *actors: dict[str, Any],
    period: tuple[str | None, str | None] | None = None,
    data_period: tuple[str | None, str | None] | None = None,
    classes: tuple[str, ...] = (),
    security: tuple[tuple[str, str], ...] = (),
    codes: tuple[tuple[str, str], ...] = (),
    nested: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type_}
    if period is not None:
        out["period"] = _period(period)
    if actors:
        out["actor"] = list(actors)
    if data_period is not None:
        out["dataPeriod"] = _period(data_period)
    if classes:
        out["class"] = [{"system": RESOURCE_TYPES, "code": c} for c in classes]
    if security:
        out["securityLabel"] = [{"system": s, "code": c} for s, c in security]
    if codes:
        out["code"] = [{"coding": [{"system": s, "code": c}]} for s, c in codes]
    if nested:
        out["provision"] = list(nested)
    return out


def _period(bounds: tuple[str | None, str | None]) -> dict[str, str]:
    start, end = bounds
    return {k: v for k, v in (("start", start), ("end", end)) if v is not None}


def consent(
    kind: str,
    top: dict[str, Any],
    *,
    status: str = "active",
    patient: str = "p1",
    performer: str | None = None,
    date_time: str = "2026-01-02",
    id_: str = "c1",
) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": id_,
        "status": status,
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "dateTime": date_time,
        "performer": [{"reference": performer or f"Patient/{patient}"}],
        "policyRule": {"coding": [{"system": CONSENT_POLICY_CS, "code": kind}]},
        "provision": top,
    }


def block(*actors: dict[str, Any], start: str = "2026-01-01", **data: Any) -> dict[str, Any]:
    """A block in force at NOW (from ``start``, open-ended)."""
    return consent("block", provision("deny", *actors, period=(start, None), **data))


def treatment_permit(*actors: dict[str, Any], **data: Any) -> dict[str, Any]:
    return consent(
        "treatment-permit", provision("permit", *actors, period=("2026-01-01", None), **data)
    )


def disclosure(
    *actors: dict[str, Any], period: tuple[str, str] = ("2026-01-01", "2026-12-31"), **data: Any
) -> dict[str, Any]:
    return consent("disclosure-permit", provision("permit", *actors, period=period, **data))


def resource(
    type_: str,
    id_: str,
    *,
    security: tuple[tuple[str, str], ...] = (),
    tags: tuple[tuple[str, str], ...] = (),
    last_updated: str = "2026-01-01T00:00:00.000000+00:00",
    **content: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"lastUpdated": last_updated}
    if security:
        meta["security"] = [{"system": s, "code": c} for s, c in security]
    if tags:
        meta["tag"] = [{"system": s, "code": c} for s, c in tags]
    return {"resourceType": type_, "id": id_, "meta": meta, **content}


DATA = {
    "obs-2019": resource("Observation", "obs-2019", status="final", effectiveDateTime="2019-05-01"),
    "obs-2024": resource("Observation", "obs-2024", status="final", effectiveDateTime="2024-03-01"),
    "obs-psy": resource(
        "Observation", "obs-psy", security=(PSY,), status="final", effectiveDateTime="2024-04-01"
    ),
    "obs-r": resource(
        "Observation",
        "obs-r",
        security=(RESTRICTED,),
        status="final",
        effectiveDateTime="2025-01-01",
    ),
    "plan": resource(
        "CarePlan", "plan", status="active", intent="plan", period={"start": "2025-09-01"}
    ),
    "med-psy": resource(
        "MedicationStatement",
        "med-psy",
        tags=(PSYCHIATRY_TAG,),
        status="active",
        effectiveDateTime="2023-02-01",
    ),
    "patient": resource("Patient", "p1", last_updated="2020-06-01T00:00:00.000000+00:00"),
}
"""One citizen's data: each resource's label (``Type`` and id) is the key."""
ALL = frozenset(DATA)
