"""Who manages a citizen's consents, and a parent's access to a child's data.

- From 15 the citizen gives, changes and withdraws their own consents and blocks (sundhedsloven
  §17 stk. 3); before 15 a parent with custody does (forældremyndighed; §39a for the parent's
  digital access). Age is computed from ``Patient.birthDate`` at the moment of the write.
- Custody is recorded on the parent's RelatedPerson: ``relationship`` holds a parent code
  (v3-RoleCode ``PRN``, ``FTH`` or ``MTH``) *and* dk-core's ``PARAUTH``
  "Forældremyndighedsindehaver" (CodeSystem dk-relatedperson-relationshipcodes), the
  RelatedPerson is not inactive, and its ``period`` (if any) holds now — custody that ends is
  recorded by ending the period.
- At 15 the parent's access ends unless the young person permits it: an in-force
  disclosure-permit naming the RelatedPerson that the young person gave (``performer`` the
  Patient, ``dateTime`` on or after the 15th birthday) — one a parent wrote before cannot keep
  the door open.
- Who recorded a consent, and when, is kept (§42): the writer must be the consent's
  ``performer`` and ``dateTime`` is required; the server adds the recorder (`recorded`), an
  extension it alone sets.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Protocol

from auth.consent.rules import (
    DISCLOSURE_PERMIT,
    POLICY_TYPES,
    RESOURCE_TYPES,
    bounds,
    in_force,
    is_privacy,
    period_problem,
    policy_kind,
    us,
)
from auth.consent.view import rank
from fhir_server.search.params.reference import split_reference
from profiles.src import canon
from profiles.src.terminology_dk import RELATIONSHIP_CS

ADULT_FOR_CONSENT = 15
"""The age from which a citizen decides on their own consents (§17 stk. 3)."""
PARENT_CODES = frozenset({(canon.V3_ROLE, "PRN"), (canon.V3_ROLE, "FTH"), (canon.V3_ROLE, "MTH")})
CUSTODY = (RELATIONSHIP_CS, "PARAUTH")
"""dk-core's "Forældremyndighedsindehaver": the related person holds parental custody."""
RECORDED = canon.ff_sd("ff-consent-recorded")
"""The server-set extension saying who recorded a Consent (``who``) and when (``when``)."""
UNSUPPORTED = ("data", "action", "purpose")
"""Provision elements this server does not evaluate: refused rather than silently ignored."""


class Writer(Protocol):
    """What the write rules need of the caller."""

    @property
    def person(self) -> str | None: ...


def age_on(birth_date: str, now: datetime) -> int | None:
    """Whole years of age at ``now`` (UTC date) of one born on ``birth_date`` (FHIR date);
    None when it is not a full date (``2010`` or ``2010-05`` does not say the day of the 15th
    birthday)."""
    try:
        born = date.fromisoformat(birth_date)
    except (TypeError, ValueError):
        return None
    today = now.astimezone(UTC).date()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _birthday(birth_date: str, years: int) -> datetime | None:
    try:
        born = date.fromisoformat(birth_date)
    except (TypeError, ValueError):
        return None
    try:
        day = born.replace(year=born.year + years)
    except ValueError:  # 29 February: the day after 28 February
        day = date(born.year + years, 3, 1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _local(ref: Any) -> str | None:
    text = ref.get("reference") if isinstance(ref, dict) else None
    type_, id_, _ = split_reference(text if isinstance(text, str) else "")
    return f"{type_}/{id_}" if type_ and id_ else None


def _codes(relatedperson: dict[str, Any]) -> set[tuple[Any, Any]]:
    out = set()
    for cc in relatedperson.get("relationship") or ():
        for c in (cc.get("coding") or ()) if isinstance(cc, dict) else ():
            if isinstance(c, dict):
                out.add((c.get("system"), c.get("code")))
    return out


def has_custody(relatedperson: dict[str, Any], patient_id: str, now: datetime) -> bool:
    """Whether the RelatedPerson is a parent holding custody of ``Patient/patient_id`` now."""
    if relatedperson.get("resourceType") != "RelatedPerson" or relatedperson.get("active") is False:
        return False
    if _local(relatedperson.get("patient")) != f"Patient/{patient_id}":
        return False
    codes = _codes(relatedperson)
    if CUSTODY not in codes or not codes & PARENT_CODES:
        return False
    if "period" in relatedperson:
        held = bounds(relatedperson["period"])
        return held is not None and held[0] <= us(now) < held[1]
    return True


class _Named:
    """A RelatedPerson as an actor a permit may name."""

    def __init__(self, person: str) -> None:
        self.person = person
        self.authorisation_id = None
        self.role = None
        self.organizations: tuple[str, ...] = ()
        self.organization_identifiers: dict[str, tuple[tuple[str, str], ...]] = {}
        self.sector = "citizen"


def _given_by_young_person(consent: dict[str, Any], patient: str, birthday15: datetime) -> bool:
    performers = {_local(p) for p in consent.get("performer") or ()}
    stamp = bounds({"start": consent.get("dateTime")}) if consent.get("dateTime") else None
    return f"Patient/{patient}" in performers and stamp is not None and stamp[0] >= us(birthday15)


def guardian_may_read(
    relatedperson: dict[str, Any],
    patient: dict[str, Any],
    consents: list[dict[str, Any]],
    now: datetime,
) -> bool:
    """Whether a parent (``relatedperson``) may read the child's (``patient``) data now: with
    custody, under 15 always; from 15 only by the young person's own in-force
    disclosure-permit naming the RelatedPerson (what it covers: `view.view` for the parent)."""
    patient_id = patient.get("id")
    if not isinstance(patient_id, str) or not has_custody(relatedperson, patient_id, now):
        return False
    birth = patient.get("birthDate")
    age = age_on(birth, now) if isinstance(birth, str) else None
    if age is None:
        return False
    if age < ADULT_FOR_CONSENT:
        return True
    birthday15 = _birthday(str(birth), ADULT_FOR_CONSENT)
    me = _Named(f"RelatedPerson/{relatedperson.get('id')}")
    for consent in consents:
        policy = in_force(consent, now)
        if (
            policy is not None
            and policy.kind == DISCLOSURE_PERMIT
            and policy.provision.actors
            and rank(me, policy.provision.actors) is not None
            and birthday15 is not None
            and _given_by_young_person(consent, patient_id, birthday15)
        ):
            return True
    return False


def _shape_problem(consent: dict[str, Any]) -> str | None:
    """What in the Consent this server could not enforce as written."""
    if not is_privacy(consent):
        return "Consent.scope must be patient-privacy"
    kind = policy_kind(consent)
    if kind is None:
        return "Consent.policyRule must be block, treatment-permit or disclosure-permit"
    top = consent.get("provision")
    if not isinstance(top, dict) or top.get("type") != POLICY_TYPES[kind]:
        return f"Consent.provision.type must be {POLICY_TYPES[kind]} for a {kind} (ff-consent-2)"
    if kind != "block" and not top.get("actor"):
        return f"a {kind} must name its actor (Consent.provision.actor)"
    problem = period_problem(kind, top)
    if problem is not None:
        return problem
    if not consent.get("dateTime"):
        return "Consent.dateTime (when the consent was given) is required (§42)"
    return _provision_problem(top, "Consent.provision")


def _provision_problem(provision: dict[str, Any], path: str) -> str | None:
    for name in UNSUPPORTED:
        if name in provision:
            return f"{path}.{name} is not supported: use class, code, securityLabel, dataPeriod"
    for c in provision.get("class") or ():
        if not isinstance(c, dict) or c.get("system") != RESOURCE_TYPES or not c.get("code"):
            return f"{path}.class must be resource types ({RESOURCE_TYPES})"
    for c in provision.get("securityLabel") or ():
        if not isinstance(c, dict) or not c.get("system") or not c.get("code"):
            return f"{path}.securityLabel needs a system and a code"
    if "dataPeriod" in provision and bounds(provision["dataPeriod"]) is None:
        return f"{path}.dataPeriod is not a valid Period"
    for actor in provision.get("actor") or ():
        ref = actor.get("reference") if isinstance(actor, dict) else None
        if not isinstance(ref, dict) or not (ref.get("reference") or ref.get("identifier")):
            return f"{path}.actor.reference must name the actor by reference or identifier"
    for n, nested in enumerate(provision.get("provision") or ()):
        if isinstance(nested, dict):
            problem = _provision_problem(nested, f"{path}.provision[{n}]")
            if problem is not None:
                return problem
    return None


def consent_write_problem(
    actor: Writer,
    consent: dict[str, Any],
    patient_resource: dict[str, Any],
    now: datetime,
    relatedperson: dict[str, Any] | None = None,
    deleting: bool = False,
) -> str | None:
    """Why ``actor`` may not create, update or delete this patient-privacy Consent of
    ``patient_resource`` at ``now`` (None: it may). ``relatedperson``: the actor's own
    RelatedPerson resource when the actor is one (its custody is read from it). ``deleting``:
    ``consent`` is the stored one being withdrawn — whoever manages the citizen's consents now
    may, whoever recorded it (a young person of 15 withdraws the block a parent wrote)."""
    patient_id = patient_resource.get("id")
    if _local(consent.get("patient")) != f"Patient/{patient_id}":
        return f"Consent.patient must be Patient/{patient_id}"
    birth = patient_resource.get("birthDate")
    age = age_on(birth, now) if isinstance(birth, str) else None
    person = actor.person
    if age is None:
        return "the citizen's age is unknown (Patient.birthDate): who may consent is not known"
    if person == f"Patient/{patient_id}":
        if age < ADULT_FOR_CONSENT:
            return "under 15 a parent with custody manages the child's consents (§17 stk. 3)"
    elif person is not None and person.startswith("RelatedPerson/"):
        if (
            relatedperson is None
            or f"RelatedPerson/{relatedperson.get('id')}" != person
            or not has_custody(relatedperson, str(patient_id), now)
        ):
            return "only a parent with custody manages a child's consents"
        if age >= ADULT_FOR_CONSENT:
            return "from 15 the young person manages their own consents (§17 stk. 3)"
    else:
        return (
            "a citizen's consents are managed by the citizen from 15, or a parent with custody"
            " before"
        )
    if deleting:
        return None
    performers = {_local(p) for p in consent.get("performer") or ()}
    if person not in performers:
        return f"Consent.performer must name who gives the consent ({person}) (§42)"
    return _shape_problem(consent)


def recorded(consent: dict[str, Any], actor: Writer, now: datetime) -> dict[str, Any]:
    """The Consent as stored: any recorder a client sent replaced by the server's own —
    who recorded it (the writer) and when (§42)."""
    kept = [e for e in consent.get("extension") or () if e.get("url") != RECORDED]
    stamp = {
        "url": RECORDED,
        "extension": [
            {"url": "who", "valueReference": {"reference": actor.person}},
            {"url": "when", "valueDateTime": now.astimezone(UTC).isoformat()},
        ],
    }
    return {**consent, "extension": [*kept, stamp]}
