"""Who can see what in the demo: the demo's *expectation*, computed from the data by the rules of
DOMAIN.md §6 and docs/design/consent.md — not the server's decision (that is `auth/access/`).

`fhir-server demo` prints it so a person trying the demo knows whom to log in as for each rule;
tests hold the data to it. The rules, as this function reads them:

- a **health professional** sees a citizen's data only with a care relationship the data shows
  (their person, role, organization or a parent organization — ``partOf`` — is the GP in
  ``Patient.generalPractitioner``, a participant or the managing organization of an active
  CareTeam, requester/performer/owner of an active ServiceRequest or Task, service provider or
  participant of an in-progress Encounter, author/contributor/activity performer of an active
  CarePlan); then every active block (``deny``) that names them — or no one — hides what it
  covers (data period, security label, resource type), nested provisions are exceptions, and
  a permit that names them overrides a block;
- a **non-health** actor (municipality social: PPR, family services, job centre) sees only what
  an active permit naming them covers;
- a **citizen** sees their own data; a **relative** with parental authority (``PARAUTH``) sees
  a child under 15's data (less what a block naming them hides), anyone else only what a permit
  naming them covers.

SMART scopes and break-the-glass are left out: the table assumes ``user/*.rs`` /
``patient/*.rs`` and no emergency. Everything is judged at one instant ``at``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from auth.identity import MUNICIPALITY_SOCIAL, sector_of
from dataset import identifiers as ids
from dataset.scenarios.scene import age_at
from fhir_server.compartment import owners

Json = dict[str, Any]

HOLDER_TYPES = ("Practitioner/", "PractitionerRole/", "Organization/")
ACTIVE_TASK = frozenset({"requested", "received", "accepted", "ready", "in-progress", "on-hold"})
CUSTODY = ("http://hl7.dk/fhir/core/CodeSystem/dk-relatedperson-relationshipcodes", "PARAUTH")
DATA_DATES = (
    "effectivePeriod", "effectiveDateTime", "period", "onsetDateTime", "recordedDate",
    "authoredOn", "sent", "occurrenceDateTime", "startDate", "created", "dateAsserted",
)  # fmt: skip
"""Where a resource's data is dated, first found wins (what a ``dataPeriod`` is compared to)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who a login is in the data."""

    login: str
    fhir_user: str
    sector: str | None
    holders: frozenset[str]
    """Person, role, organization and its parents: what a relationship or consent may name."""
    identifiers: frozenset[tuple[str, str]]
    """The person's authorisation id and the organizations' SOR ids, as (system, value)."""
    patient: str | None = None
    """A citizen's own id, or the patient a relative is related to."""
    custody: bool = False

    @property
    def kind(self) -> str:
        if self.fhir_user.startswith("Patient/"):
            return "citizen"
        if self.fhir_user.startswith("RelatedPerson/"):
            return "relative"
        return "non-health" if self.sector in (MUNICIPALITY_SOCIAL, None) else "health"


@dataclass(frozen=True, slots=True)
class Cell:
    """What one login sees of one citizen's data."""

    visible: tuple[str, ...]
    """``Type/id`` of every resource of the citizen's compartment the login sees."""
    total: int
    why: str

    @property
    def short(self) -> str:
        if not self.visible:
            return "-"
        return "all" if len(self.visible) == self.total else f"{len(self.visible)}/{self.total}"


@dataclass
class _Data:
    at: date
    by_key: dict[str, Json]
    patients: list[str]
    compartment: dict[str, list[Json]] = field(default_factory=dict)
    relationships: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """patient id → (holder reference, kind)."""
    consents: dict[str, list[Json]] = field(default_factory=dict)


def _refs(*values: Any) -> Iterator[str]:
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and isinstance(item.get("reference"), str):
                yield item["reference"]


def _holds(period: Json | None, at: str) -> bool:
    start, end = (period or {}).get("start"), (period or {}).get("end")
    return (start is None or start[:10] <= at) and (end is None or at <= end[:10])


def _held(type_: str, r: Json, at: str) -> list[tuple[str, str]]:
    """(holder, kind) of the care relationships ``r`` shows, by the rules in the docstring."""
    status = r.get("status")
    if type_ == "Patient":
        return [(h, "GP") for h in _refs(r.get("generalPractitioner"))]
    if type_ == "CareTeam" and status == "active" and _holds(r.get("period"), at):
        members = [p.get("member") for p in r.get("participant", [])]
        return [(h, "care team") for h in _refs(members, r.get("managingOrganization"))]
    if type_ == "ServiceRequest" and status == "active":
        return [(h, "request") for h in _refs(r.get("requester"), r.get("performer"))]
    if type_ == "Task" and status in ACTIVE_TASK:
        return [(h, "task") for h in _refs(r.get("requester"), r.get("owner"))]
    if type_ == "Encounter" and status in ("in-progress", "onleave"):
        people = [p.get("individual") for p in r.get("participant", [])]
        return [(h, "encounter") for h in _refs(r.get("serviceProvider"), people)]
    if type_ == "CarePlan" and status == "active" and _holds(r.get("period"), at):
        performers = [p for a in r.get("activity", []) for p in a["detail"].get("performer", [])]
        found = _refs(r.get("author"), r.get("contributor"), performers)
        return [(h, "care plan") for h in found]
    return []


def _index(resources: Sequence[Json], day: date) -> _Data:
    at = day.isoformat()
    data = _Data(day, {f"{r['resourceType']}/{r['id']}": r for r in resources}, [])
    for r in resources:
        type_ = r["resourceType"]
        if type_ == "Patient":
            data.patients.append(r["id"])
        for patient in sorted(owners(type_, r)):
            data.compartment.setdefault(patient, []).append(r)
            held = [(h, k) for h, k in _held(type_, r, at) if h.startswith(HOLDER_TYPES)]
            data.relationships.setdefault(patient, []).extend(held)
            if type_ == "Consent" and _in_force(r, at):
                data.consents.setdefault(patient, []).append(r)
    return data


def _in_force(consent: Json, at: str) -> bool:
    scope = [c.get("code") for c in consent.get("scope", {}).get("coding", [])]
    provision = consent.get("provision", {})
    return (
        consent.get("status") == "active"
        and "patient-privacy" in scope
        and _holds(provision.get("period"), at)
    )


def _identifiers(resource: Json, *systems: str) -> set[tuple[str, str]]:
    found = list(resource.get("identifier", []))
    found += [i for q in resource.get("qualification", []) for i in q.get("identifier", [])]
    return {(i["system"], i["value"]) for i in found if i.get("system") in systems}


def _actor(data: _Data, login: str, fhir_user: str) -> Actor:
    """The login's person, role, organizations and sector, read from the data as
    ``auth/identity.py`` reads them for a token."""
    user = data.by_key[fhir_user]
    if fhir_user.startswith(("Patient/", "RelatedPerson/")):
        patient = fhir_user.split("/")[1] if fhir_user.startswith("Patient/") else None
        patient = patient or next(_refs(user.get("patient"))).split("/")[1]
        codes = [
            (c.get("system"), c.get("code"))
            for rel in user.get("relationship", [])
            for c in rel.get("coding", [])
        ]
        return Actor(
            login, fhir_user, "citizen", frozenset({fhir_user}), frozenset(), patient,
            CUSTODY in codes,
        )  # fmt: skip
    role = user if fhir_user.startswith("PractitionerRole/") else None
    if role is None:  # a Practitioner: their one role
        role = next(
            r
            for r in data.by_key.values()
            if r["resourceType"] == "PractitionerRole" and fhir_user in _refs(r.get("practitioner"))
        )
    person = next(_refs(role.get("practitioner")))
    chain, org_ref = [], next(_refs(role.get("organization")), None)
    while org_ref and org_ref in data.by_key:
        chain.append(data.by_key[org_ref])
        org_ref = next(_refs(chain[-1].get("partOf")), None)
    organizations = [f"Organization/{o['id']}" for o in chain]
    found = _identifiers(data.by_key[person], ids.AUTHORISATION_SYSTEM)
    for org in chain:
        found |= _identifiers(org, ids.SOR_SYSTEM)
    role_ref = f"PractitionerRole/{role['id']}"
    holders = frozenset({person, role_ref, *organizations})
    return Actor(login, fhir_user, sector_of(chain), holders, frozenset(found))


def _names(provision: Json, who: Actor) -> bool:
    """Whether ``provision`` names ``who`` (by reference, authorisation id or SOR id)."""
    for a in provision.get("actor", []):
        ref = a.get("reference", {})
        if ref.get("reference") in who.holders:
            return True
        i = ref.get("identifier") or {}
        if (i.get("system"), i.get("value")) in who.identifiers:
            return True
    return False


def _dated(resource: Json) -> tuple[str, str] | None:
    for key in DATA_DATES:
        value = resource.get(key)
        if isinstance(value, dict) and value.get("start"):
            return value["start"][:10], (value.get("end") or "9999")[:10]
        if isinstance(value, str):
            return value[:10], value[:10]
    return None


def _covers(provision: Json, resource: Json) -> bool:
    """Whether the data conditions of ``provision`` (type, security label, data period) hold
    for ``resource``; a provision without any covers everything."""
    classes = [c.get("code") for c in provision.get("class", [])]
    if classes and resource["resourceType"] not in classes:
        return False
    labels = {(c.get("system"), c.get("code")) for c in provision.get("securityLabel", [])}
    security = resource.get("meta", {}).get("security", [])
    if labels and not labels & {(s.get("system"), s.get("code")) for s in security}:
        return False
    if "dataPeriod" in provision:
        period, when = provision["dataPeriod"], _dated(resource)
        start, end = (period.get("start") or "0000")[:10], (period.get("end") or "9999")[:10]
        if when is None or when[0] > end or when[1] < start:
            return False
    return True


def _verdict(provision: Json, who: Actor, resource: Json) -> str | None:
    """``deny``/``permit`` when ``provision`` applies to ``who`` and ``resource`` — its most
    specific applying nested provision (an exception) decides —, None when it does not apply."""
    if provision.get("actor") and not _names(provision, who):
        return None
    if not _covers(provision, resource):
        return None
    for nested in provision.get("provision", []):
        found = _verdict(nested, who, resource)
        if found is not None:
            return found
    return str(provision.get("type"))


def _decide(data: _Data, who: Actor, patient: str) -> Cell:
    records = data.compartment.get(patient, [])
    keys = [f"{r['resourceType']}/{r['id']}" for r in records]
    if who.kind in ("citizen", "relative") and who.patient != patient:
        return Cell((), len(keys), "not their own or their child's data")
    if who.kind == "citizen":
        return Cell(tuple(keys), len(keys), "own data")
    if who.kind == "relative":
        birth = date.fromisoformat(data.by_key[f"Patient/{patient}"]["birthDate"])
        under_15 = age_at(birth, data.at) < 15
        related = who.custody and under_15
        why = (
            "parental authority, child under 15"
            if related
            else ("parent of a citizen of 15 or older" if who.custody else "relative")
        )
    else:
        kinds = sorted({k for h, k in data.relationships.get(patient, []) if h in who.holders})
        related = who.kind == "health" and bool(kinds)
        why = ", ".join(kinds) if related else "no care relationship"
        if who.kind == "non-health":
            why = "non-health: only what a permit names"
        elif not related:  # a permit does not make a relationship
            return Cell((), len(keys), why)
    visible, effect = [], set()
    for key, r in zip(keys, records, strict=True):
        verdicts = [(c, _verdict(c["provision"], who, r)) for c in data.consents.get(patient, [])]
        denied = {f"Consent/{c['id']}" for c, v in verdicts if v == "deny"}
        denied_by_name = {
            f"Consent/{c['id']}" for c, v in verdicts if v == "deny" and c["provision"].get("actor")
        }
        named = {
            f"Consent/{c['id']}"
            for c, v in verdicts
            if v == "permit" and c["provision"].get("actor")
        }
        if related and (not denied or named):
            visible.append(key)
            effect |= named if denied else set()  # a permit for them overrode a block
        elif not related and named and not denied:
            visible.append(key)
            effect |= named
        elif related or named:  # a block took away what they would see
            effect |= denied
        else:  # they would see nothing anyway; say so when a block names them
            effect |= denied_by_name
    if effect:
        why += "; " + ", ".join(sorted(effect))
    return Cell(tuple(visible), len(keys), why)


def who_sees_what(
    resources: Sequence[Json], logins: Sequence[tuple[str, str]], at: date
) -> dict[str, dict[str, Cell]]:
    """login → patient id → what the login sees, for (login, fhirUser) pairs."""
    data = _index(resources, at)
    out: dict[str, dict[str, Cell]] = {}
    for login, fhir_user in logins:
        who = _actor(data, login, fhir_user)
        out[login] = {p: _decide(data, who, p) for p in data.patients}
    return out


def table(resources: Sequence[Json], logins: Sequence[tuple[str, str]], at: date) -> list[str]:
    """`who_sees_what` for the console: a row per login, a column per citizen (``all``, ``-``
    or seen/total resources of the citizen's compartment), then why, where a consent decided."""
    seen = who_sees_what(resources, logins, at)
    data = _index(resources, at)
    names = {p: data.by_key[f"Patient/{p}"]["name"][0]["given"][0] for p in data.patients}
    width = max(len(login) for login, _ in logins) + 1
    kinds = {login: _actor(data, login, user) for login, user in logins}
    lines = [
        f"Who can see what — the demo's expectation at {at.isoformat()}, computed from the data "
        "(care relationship and consent; SMART scopes and break-the-glass not applied):",
        " " * (width + 22) + " ".join(f"{names[p]:7}" for p in data.patients),
    ]
    for login, row in seen.items():
        who = kinds[login]
        what = f"{who.sector or who.kind}"
        lines.append(f"  {login:{width}}{what:20}" + " ".join(f"{c.short:7}" for c in row.values()))
    lines.append("Where a consent decided:")
    for login, row in seen.items():
        for patient, cell in row.items():
            if "Consent/" in cell.why:
                lines.append(f"  {login} → {names[patient]}: {cell.short} ({cell.why})")
    return lines
