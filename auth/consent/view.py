"""What one actor may see of one citizen's data under the citizen's consents: a `View`.

``view(actor, consents, now)`` evaluates the Consents in force (`rules.in_force`) for the actor:

- A **health-sector** actor (region, region psychiatry, municipal health, general practice — the
  care relationship is decided elsewhere) sees everything except what a block (``deny``) that
  applies to it covers; a block names the actor (person by reference or authorisation id, role,
  organization by reference or SOR id — the actor's organization *chain*, so a block of a site
  covers its sub-units) or no actor (everybody). A treatment-permit naming the actor overrides,
  on the data it covers, every block that names the actor no more specifically
  (person < role < organization, nearest first < no actor): a permit for Dr Y lifts a block of
  her hospital, a permit for the hospital does not lift a block of Dr Y.
- **Any other** actor (municipality social — PPR, family services, job centre, school — or one
  of unknown sector) sees only what a disclosure-permit naming it allows (§41, §43: explicit
  consent), while it runs (at most one year, ff-consent-3).
- Nested provisions of the opposite type are exceptions to their parent, recursively; a nested
  provision naming actors applies only to them.

The same decision is given two ways that must agree (tests/consent/test_consent_filters.py
proves it on both stores): `View.admits` for one resource, and `View.filters` as `Restriction`s
— search parameters the search layer already understands (``_security``, ``_tag``, a date
parameter with ``:missing``, ``_lastUpdated``) — for the store to push into a query.

A data period is matched on the type's clinical date (`DATA_DATE`, e.g. Observation
``date`` = effective[x], CarePlan ``date`` = period), or — for a type without one, or a resource
that has none — on ``meta.lastUpdated``: data "from" the period is data whose date overlaps it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Protocol

from auth.consent.rules import (
    DISCLOSURE_PERMIT,
    TREATMENT_PERMIT,
    Data,
    Policy,
    Provision,
    in_force,
)
from fhir_server.errors import Invalid
from fhir_server.search.dates import date_range
from fhir_server.search.extract import index_resource
from fhir_server.search.params.reference import split_reference
from fhir_server.search.registry import builtin_params
from profiles.danish.identifiers import AUTHORISATION_SYSTEM

HEALTH_SECTORS = frozenset(
    {"region", "region-psychiatry", "municipality-health", "general-practice"}
)
"""Sectors whose actors are judged by blocks; every other sees only what a permit allows."""

DATA_DATE = {
    "CarePlan": "date",
    "CareTeam": "date",
    "Communication": "sent",
    "Condition": "onset-date",
    "Encounter": "date",
    "Goal": "start-date",
    "MedicationStatement": "effective",
    "Observation": "date",
    "ServiceRequest": "authored",
    "Task": "authored-on",
    # served since every R4 type is (issue 15 item 7): the clinical types' own dates
    "AdverseEvent": "date",
    "AllergyIntolerance": "date",
    "Appointment": "date",
    "ClinicalImpression": "date",
    "CommunicationRequest": "authored",
    "Composition": "date",
    "DetectedIssue": "identified",
    "DeviceRequest": "event-date",
    "DiagnosticReport": "date",
    "DocumentReference": "date",
    "EpisodeOfCare": "date",
    "FamilyMemberHistory": "date",
    "Flag": "date",
    "ImagingStudy": "started",
    "Immunization": "date",
    "List": "date",
    "Media": "created",
    "MedicationAdministration": "effective-time",
    "MedicationDispense": "whenhandedover",
    "MedicationRequest": "authoredon",
    "NutritionOrder": "datetime",
    "Procedure": "date",
    "QuestionnaireResponse": "authored",
    "RiskAssessment": "date",
    "Specimen": "collected",
}
"""The date search parameter a data period is matched on per type (its clinical date); any other
type, and a resource without that date, is matched on ``_lastUpdated``."""

LAST_UPDATED = "_lastUpdated"


class Actor(Protocol):
    """What consent evaluation needs of the caller (`auth.principal.Principal` has it)."""

    @property
    def person(self) -> str | None:
        """``Practitioner/x``, ``Patient/x`` or ``RelatedPerson/x``."""
        ...

    @property
    def authorisation_id(self) -> str | None:
        """The Danish authorisation id (system ``https://autregweb.sst.dk``)."""
        ...

    @property
    def role(self) -> str | None:
        """``PractitionerRole/x``."""
        ...

    @property
    def organizations(self) -> Sequence[str]:
        """``Organization/x`` acted for and its ``partOf`` parents, nearest first."""
        ...

    @property
    def organization_identifiers(self) -> Mapping[str, Collection[tuple[str, str]]]:
        """Per organization of `organizations`: its identifiers as (system, value), e.g. SOR
        (``urn:oid:1.2.208.176.1.1``)."""
        ...

    @property
    def sector(self) -> str | None: ...


# ---- who a provision names ------------------------------------------------------------------

UNNAMED = 1000
"""The rank of a provision that names no actor (it applies to everybody)."""


def _local(reference: str) -> str | None:
    type_, id_, _ = split_reference(reference)
    return f"{type_}/{id_}" if type_ and id_ else None


def rank(actor: Actor, named: Sequence[dict[str, Any]]) -> int | None:
    """How specifically ``named`` (``provision.actor.reference`` values) names the actor: 0
    the person, 1 the role, 2 + n its organization n steps up the chain, `UNNAMED` when
    nothing is named; None when the actor is not among them."""
    if not named:
        return UNNAMED
    places: dict[str, int] = {}
    if actor.person:
        places[actor.person] = 0
    if actor.role:
        places[actor.role] = 1
    for n, org in enumerate(actor.organizations):
        places.setdefault(org, 2 + n)
    identifiers: dict[tuple[str, str], int] = {}
    if actor.authorisation_id:
        identifiers[(AUTHORISATION_SYSTEM, actor.authorisation_id)] = 0
    for n, org in enumerate(actor.organizations):
        for known in actor.organization_identifiers.get(org, ()):
            identifiers.setdefault(known, 2 + n)
    found: list[int] = []
    for ref in named:
        text = ref.get("reference")
        local = _local(text) if isinstance(text, str) else None
        if local in places:
            found.append(places[local])
        ident = ref.get("identifier")
        if isinstance(ident, dict):
            key = (str(ident.get("system")), str(ident.get("value")))
            if key in identifiers:
                found.append(identifiers[key])
    return min(found) if found else None


# ---- conditions ----------------------------------------------------------------------------

Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Match:
    """Resources matching every pair (search parameters, ANDed; a pair's comma-separated values
    ORed) and none of the exceptions. No pairs: every resource."""

    pairs: tuple[Pair, ...] = ()
    unless: tuple[Match, ...] = ()


@dataclass(frozen=True, slots=True)
class Restriction:
    """What a search must exclude (``exclude``), or — in a permit-only view — the resources it
    may include: a resource is admitted when it matches some include restriction (or there is
    none) and no exclude restriction."""

    exclude: bool
    match: Match


EVERYTHING_MATCH = Match()


def _escape(text: str) -> str:
    for ch in "\\,|$":
        text = text.replace(ch, "\\" + ch)
    return text


def _token(system: str | None, code: str) -> str:
    return f"{_escape(system) if system is not None else ''}|{_escape(code)}"


def _instant(value: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ").rjust(27, "0")


_MIN_US = -62135596800000000 + 1  # 0001-01-01T00:00:00.000001Z
_MAX_US = 253402300799999999  # 9999-12-31T23:59:59.999999Z


def _overlap(param: str, period: tuple[int, int]) -> tuple[Pair, ...]:
    """``param`` has a value ending after the period starts and one starting before it ends:
    ``gt`` an instant 1 µs before the start (its range ends at the start), ``lt`` the end."""
    low, high = period
    out: list[Pair] = []
    if low > _MIN_US:
        out.append((param, "gt" + _instant(low - 1)))
    if high <= _MAX_US:
        out.append((param, "lt" + _instant(high)))
    return tuple(out)


@cache
def data_date(type_: str) -> str | None:
    """The clinical date parameter of ``type_`` (`DATA_DATE`) if the type has it."""
    name = DATA_DATE.get(type_)
    known = builtin_params(type_)
    return name if name in known and known[name].type == "date" else None


def _alternatives(type_: str, data: Data) -> list[tuple[Pair, ...]] | None:
    """The data part as alternative conjunctions of search pairs; None: no ``type_`` resource
    is covered (another type is named)."""
    if data.types and type_ not in data.types:
        return None
    common: list[Pair] = []
    if data.security:
        common.append(("_security", ",".join(_token(s, c) for s, c in data.security)))
    if data.tags:
        common.append(("_tag", ",".join(_token(s, c) for s, c in data.tags)))
    if data.period is None:
        return [tuple(common)]
    param = data_date(type_)
    fallback = (*common, *_overlap(LAST_UPDATED, data.period))
    if param is None:
        return [fallback]
    return [
        (*common, *_overlap(param, data.period)),
        (*common, (f"{param}:missing", "true"), *_overlap(LAST_UPDATED, data.period)),
    ]


# ---- one resource --------------------------------------------------------------------------


def _has(labels: Any, wanted: tuple[tuple[str | None, str], ...]) -> bool:
    if not isinstance(labels, list):
        return False
    for c in labels:
        if isinstance(c, dict):
            system = c.get("system") if isinstance(c.get("system"), str) else None
            if (system, c.get("code")) in wanted:
                return True
    return False


def _rows(type_: str, resource: dict[str, Any]) -> list[tuple[int, int]]:
    """The ranges a data period is compared with: the clinical date's index rows, else
    ``meta.lastUpdated``'s (none when the resource has neither, e.g. before it is stored)."""
    param = data_date(type_)
    if param is not None:
        rows = [(lo, hi) for p, lo, hi in index_resource(type_, resource).dates if p == param]
        if rows:
            return rows
    meta = resource.get("meta")
    stamp = meta.get("lastUpdated") if isinstance(meta, dict) else None
    try:
        return [date_range(stamp, LAST_UPDATED)] if isinstance(stamp, str) else []
    except Invalid:
        return []


def covers(data: Data, type_: str, resource: dict[str, Any]) -> bool:
    """Whether a provision's data part covers this resource."""
    if data.types and type_ not in data.types:
        return False
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        meta = {}
    if data.security and not _has(meta.get("security"), data.security):
        return False
    if data.tags and not _has(meta.get("tag"), data.tags):
        return False
    if data.period is None:
        return True
    low, high = data.period
    rows = _rows(type_, resource)
    # as the search's two ANDed filters: some value ends after the start, some starts before
    # the end (for the usual single date: the two overlap)
    return any(hi > low for _, hi in rows) and any(lo < high for lo, _ in rows)


# ---- rules for one actor -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """A provision that applies to the actor, with the exceptions that apply to it."""

    data: Data
    exceptions: tuple[Rule, ...]

    def applies(self, type_: str, resource: dict[str, Any]) -> bool:
        return covers(self.data, type_, resource) and not any(
            e.applies(type_, resource) for e in self.exceptions
        )

    def matches(self, type_: str) -> list[Match]:
        """The same as search conditions for ``type_`` (alternatives)."""
        alternatives = _alternatives(type_, self.data)
        if alternatives is None:
            return []
        unless = tuple(m for e in self.exceptions for m in e.matches(type_))
        return [Match(pairs, unless) for pairs in alternatives]


def _rule(actor: Actor, provision: Provision) -> Rule:
    exceptions = tuple(
        _rule(actor, p)
        for p in provision.nested
        if p.type != provision.type and rank(actor, p.actors) is not None
    )
    return Rule(provision.data, exceptions)


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int
    rule: Rule


@dataclass(frozen=True, slots=True)
class View:
    """One actor's view of one citizen's data under the citizen's consents."""

    permit_only: bool
    """True: only what `permits` cover (non-health actors); False: all but what `blocks`
    cover unless a permit at least as specific lifts it."""
    blocks: tuple[Ranked, ...] = ()
    permits: tuple[Ranked, ...] = ()
    consents: tuple[str, ...] = ()
    """``Consent/<id>`` of the consents whose blocks and permits these are (what decided: the
    audit's AuthZ-Consent events name them)."""

    @property
    def everything(self) -> bool:
        """No consent narrows this actor's view."""
        return not self.permit_only and not self.blocks

    @property
    def nothing(self) -> bool:
        """This actor sees none of the citizen's data."""
        return self.permit_only and not self.permits

    def _lifting(self, block: Ranked) -> tuple[Rule, ...]:
        return tuple(p.rule for p in self.permits if p.rank <= block.rank)

    def admits(self, type_: str, resource: dict[str, Any]) -> bool:
        """Whether the actor may see this resource (as stored: ``meta.lastUpdated`` is used
        when it has no clinical date)."""
        if self.permit_only:
            return any(p.rule.applies(type_, resource) for p in self.permits)
        for block in self.blocks:
            if block.rule.applies(type_, resource) and not any(
                p.applies(type_, resource) for p in self._lifting(block)
            ):
                return False
        return True

    def filters(self, type_: str) -> list[Restriction]:
        """`admits` for ``type_`` as search restrictions ([]: none)."""
        if self.permit_only:
            keep = [m for p in self.permits for m in p.rule.matches(type_)]
            if any(not m.pairs and not m.unless for m in keep):
                return []
            if not keep:
                return [Restriction(True, EVERYTHING_MATCH)]
            return [Restriction(False, m) for m in keep]
        out: list[Restriction] = []
        for block in self.blocks:
            lifts = tuple(m for rule in self._lifting(block) for m in rule.matches(type_))
            for m in block.rule.matches(type_):
                if any(not p.pairs and not p.unless for p in lifts):
                    continue  # lifted outright
                exclude = Restriction(True, Match(m.pairs, m.unless + lifts))
                if not exclude.match.pairs and not exclude.match.unless:
                    return [exclude]
                out.append(exclude)
        return out


def is_health(actor: Actor) -> bool:
    return actor.sector in HEALTH_SECTORS


def view(actor: Actor, consents: Sequence[dict[str, Any]], now: datetime) -> View:
    """The actor's view of the data of the citizen whose ``consents`` these are, at ``now``."""
    health = is_health(actor)
    permit_kind = TREATMENT_PERMIT if health else DISCLOSURE_PERMIT
    blocks: list[Ranked] = []
    permits: list[Ranked] = []
    deciding: list[str] = []
    for consent in consents:
        policy: Policy | None = in_force(consent, now)
        if policy is None:
            continue
        top = policy.provision
        found = rank(actor, top.actors)
        if found is None:
            continue
        if policy.kind == permit_kind and top.actors:  # a permit must name its actor
            permits.append(Ranked(found, _rule(actor, top)))
        elif top.type == "deny" and health:
            blocks.append(Ranked(found, _rule(actor, top)))
        else:
            continue
        if isinstance(consent.get("id"), str):
            deciding.append(f"Consent/{consent['id']}")
    return View(not health, tuple(blocks), tuple(permits), tuple(sorted(set(deciding))))
