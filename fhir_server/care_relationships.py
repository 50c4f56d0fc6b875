"""Care relationships the data shows (sundhedsloven §42a: "the current treatment"): who —
a Practitioner, PractitionerRole or Organization — takes part in a citizen's care, and for
which period, as a pure function of one resource (`relationships_of`). The stores keep the result
as an index beside the search index, replaced in the unit of work of every write, so an access
decision asks an index instead of reading resources (docs/implementation/relationships.md).

Only what holds in the resource's current version counts; a deleted resource shows none. The
rules, per source type (the statuses are R4's value sets):

=================  =======================================  ====================================
source             when                                     holders (kind) and period
=================  =======================================  ====================================
Patient            always                                   ``generalPractitioner`` (general-
                                                            practitioner); no period
CareTeam           status proposed or active (none: no)     ``participant.member`` (care-team-
                                                            member), ``managingOrganization``
                                                            (care-team-manager); the team's
                                                            ``period`` ∩ the participant's
ServiceRequest     status active or on-hold                 ``requester`` (referral-requester),
                                                            ``performer`` (referral-performer)
Task               status requested, received, accepted,    ``requester`` (task-requester),
                   ready, in-progress or on-hold            ``owner`` (task-owner); patient ``for``
Encounter          status arrived, triaged, in-progress     ``serviceProvider`` (encounter-
                   or onleave                               provider), ``participant.individual``
                                                            (encounter-participant); ``period``
                                                            ∩ the participant's
CarePlan           status active or on-hold                 ``author`` (care-plan-author),
                                                            ``contributor`` (care-plan-
                                                            contributor), ``activity.detail.
                                                            performer`` (care-plan-performer);
                                                            ``period``
EpisodeOfCare      status waitlist, active or onhold        ``managingOrganization`` (episode-
                                                            organization), ``careManager``
                                                            (episode-care-manager); ``period``
=================  =======================================  ====================================

The other resource types show none: who appears in an Appointment, a DocumentReference or an
Immunization takes part in a single act, not in the current treatment (§42a), and reaches the
citizen's data through the Encounter, referral or care team the act belongs to.

Why these statuses: a draft request has not reached its performer yet (its requester needed a
relationship to write it anyway); on-hold is care paused, not ended, so it keeps the
relationship; completed, revoked, cancelled, finished and entered-in-error end it. Triaged is
between arrived and in-progress. A CareTeam without a status is not known to be active. An
EpisodeOfCare on the waitlist already has its organization caring for the citizen (assessing,
planning).

The patient is the source's ``subject`` (``for`` of a Task, ``patient`` of an EpisodeOfCare;
the Patient itself), and only a reference to a Patient; holders only Practitioner,
PractitionerRole and Organization references (a caller's `holders` are its person, role and
organizations). A CarePlan's ``careTeam`` gives
nothing itself: the team's members hold their relationship through the CareTeam, while it is
active (an EpisodeOfCare's ``team`` likewise). References are read as
`references.local_reference` reads them: relative ones, and absolute ones under the server's
base when it is known; contained, logical and other servers' references give no relationship.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fhir_server.errors import Invalid
from fhir_server.references import local_reference
from fhir_server.search.dates import date_range

HOLDER_TYPES = frozenset({"Practitioner", "PractitionerRole", "Organization"})
"""What may hold a care relationship."""

GENERAL_PRACTITIONER = "general-practitioner"
CARE_TEAM_MEMBER = "care-team-member"
CARE_TEAM_MANAGER = "care-team-manager"
REFERRAL_REQUESTER = "referral-requester"
REFERRAL_PERFORMER = "referral-performer"
TASK_REQUESTER = "task-requester"
TASK_OWNER = "task-owner"
ENCOUNTER_PROVIDER = "encounter-provider"
ENCOUNTER_PARTICIPANT = "encounter-participant"
CARE_PLAN_AUTHOR = "care-plan-author"
CARE_PLAN_CONTRIBUTOR = "care-plan-contributor"
CARE_PLAN_PERFORMER = "care-plan-performer"
EPISODE_ORGANIZATION = "episode-organization"
EPISODE_CARE_MANAGER = "episode-care-manager"
PATIENT_CREATOR = "patient-creator"
"""Not derived: recorded (`UnitOfWork.relate`) for the organization that created a Patient."""

OPEN_START = -(1 << 62)
OPEN_END = 1 << 62
"""A period's open ends as µs (the search index's open date ends too)."""


@dataclass(frozen=True, slots=True)
class CareRelationship:
    """``holder`` takes part in the care of Patient ``patient`` from ``start`` until ``end``.

    ``patient`` is the Patient's id; ``holder`` a reference as written (``Organization/x``);
    ``start``/``end`` FHIR dateTimes as the source wrote them (None: open). The period is
    half-open over the values' precision: ``end`` 2024-03-31 holds through that whole day."""

    patient: str
    holder: str
    kind: str
    start: str | None = None
    end: str | None = None

    def bounds(self) -> tuple[int, int]:
        """[start, end) in µs; `OPEN_START`/`OPEN_END` for open ends."""
        return period_bounds(self.start, self.end)


def period_bounds(start: str | None, end: str | None) -> tuple[int, int]:
    """A period's [start, end) in µs: from the start's first instant to its end's last."""
    lo = date_range(start, "start")[0] if start else OPEN_START
    hi = date_range(end, "end")[1] if end else OPEN_END
    return lo, hi


def instant_us(at: str) -> int:
    """An instant (or any FHIR dateTime: its first moment) in µs; `Invalid` if it is none."""
    return date_range(at, "at")[0]


_CARE_TEAM = frozenset({"proposed", "active"})
_REQUEST = frozenset({"active", "on-hold"})
_TASK = frozenset({"requested", "received", "accepted", "ready", "in-progress", "on-hold"})
_ENCOUNTER = frozenset({"arrived", "triaged", "in-progress", "onleave"})
_EPISODE = frozenset({"waitlist", "active", "onhold"})

Period = tuple[str | None, str | None]
_OPEN: Period = (None, None)


def relationships_of(
    type_: str, resource: dict[str, Any], base: str | None = None
) -> list[CareRelationship]:
    """The care relationships ``resource`` (a ``type_``, current version) shows, each once, in
    document order. ``base``: the server's FHIR base, so absolute references to it count."""
    derive = _RULES.get(type_)
    if derive is None or not isinstance(resource, dict):
        return []
    found: dict[CareRelationship, None] = {}
    for rel in derive(resource, base):
        found.setdefault(rel, None)
    return list(found)


Derived = Iterator[CareRelationship]


def _patient(reference: Any, base: str | None) -> str | None:
    target = local_reference(reference, base)
    return target[1] if target is not None and target[0] == "Patient" else None


def _holders(references: Any, base: str | None) -> Iterator[str]:
    for reference in references if isinstance(references, list) else [references]:
        target = local_reference(reference, base)
        if target is not None and target[0] in HOLDER_TYPES:
            yield f"{target[0]}/{target[1]}"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _period(value: Any) -> Period:
    period = _dict(value)
    start, end = period.get("start"), period.get("end")
    return (start if isinstance(start, str) else None, end if isinstance(end, str) else None)


def _within(*periods: Period) -> Period | None:
    """The intersection of ``periods`` (the latest start, the earliest end, as written); None
    when it is empty or a date cannot be read (nothing is then known to hold)."""
    try:
        starts = [(date_range(s, "start")[0], s) for s, _ in periods if s]
        ends = [(date_range(e, "end")[1], e) for _, e in periods if e]
    except Invalid:
        return None
    start = max(starts)[1] if starts else None
    end = min(ends)[1] if ends else None
    lo, hi = period_bounds(start, end)
    return (start, end) if lo < hi else None


def _emit(patient: str, holders: Iterable[str], kind: str, *periods: Period) -> Derived:
    period = _within(*periods)
    if period is None:
        return
    for holder in holders:
        yield CareRelationship(patient, holder, kind, *period)


def _patient_rules(r: dict[str, Any], base: str | None) -> Derived:
    patient = r.get("id")
    if isinstance(patient, str) and patient:
        yield from _emit(
            patient, _holders(r.get("generalPractitioner"), base), GENERAL_PRACTITIONER
        )


def _care_team(r: dict[str, Any], base: str | None) -> Derived:
    patient = _patient(r.get("subject"), base)
    if patient is None or r.get("status") not in _CARE_TEAM:
        return
    team = _period(r.get("period"))
    for participant in _list(r.get("participant")):
        participant = _dict(participant)
        member = _holders(participant.get("member"), base)
        yield from _emit(
            patient, member, CARE_TEAM_MEMBER, team, _period(participant.get("period"))
        )
    managers = _holders(r.get("managingOrganization"), base)
    yield from _emit(patient, managers, CARE_TEAM_MANAGER, team)


def _service_request(r: dict[str, Any], base: str | None) -> Derived:
    patient = _patient(r.get("subject"), base)
    if patient is None or r.get("status") not in _REQUEST:
        return
    yield from _emit(patient, _holders(r.get("requester"), base), REFERRAL_REQUESTER, _OPEN)
    yield from _emit(patient, _holders(r.get("performer"), base), REFERRAL_PERFORMER, _OPEN)


def _task(r: dict[str, Any], base: str | None) -> Derived:
    patient = _patient(r.get("for"), base)
    if patient is None or r.get("status") not in _TASK:
        return
    yield from _emit(patient, _holders(r.get("requester"), base), TASK_REQUESTER, _OPEN)
    yield from _emit(patient, _holders(r.get("owner"), base), TASK_OWNER, _OPEN)


def _encounter(r: dict[str, Any], base: str | None) -> Derived:
    patient = _patient(r.get("subject"), base)
    if patient is None or r.get("status") not in _ENCOUNTER:
        return
    stay = _period(r.get("period"))
    yield from _emit(patient, _holders(r.get("serviceProvider"), base), ENCOUNTER_PROVIDER, stay)
    for participant in _list(r.get("participant")):
        participant = _dict(participant)
        who = _holders(participant.get("individual"), base)
        yield from _emit(
            patient, who, ENCOUNTER_PARTICIPANT, stay, _period(participant.get("period"))
        )


def _care_plan(r: dict[str, Any], base: str | None) -> Derived:
    patient = _patient(r.get("subject"), base)
    if patient is None or r.get("status") not in _REQUEST:
        return
    plan = _period(r.get("period"))
    yield from _emit(patient, _holders(r.get("author"), base), CARE_PLAN_AUTHOR, plan)
    yield from _emit(patient, _holders(r.get("contributor"), base), CARE_PLAN_CONTRIBUTOR, plan)
    for activity in _list(r.get("activity")):
        performers = _dict(_dict(activity).get("detail")).get("performer")
        yield from _emit(patient, _holders(performers, base), CARE_PLAN_PERFORMER, plan)


def _episode_of_care(r: dict[str, Any], base: str | None) -> Derived:
    patient = _patient(r.get("patient"), base)
    if patient is None or r.get("status") not in _EPISODE:
        return
    episode = _period(r.get("period"))
    managers = _holders(r.get("managingOrganization"), base)
    yield from _emit(patient, managers, EPISODE_ORGANIZATION, episode)
    yield from _emit(patient, _holders(r.get("careManager"), base), EPISODE_CARE_MANAGER, episode)


_RULES = {
    "Patient": _patient_rules,
    "CareTeam": _care_team,
    "ServiceRequest": _service_request,
    "Task": _task,
    "Encounter": _encounter,
    "CarePlan": _care_plan,
    "EpisodeOfCare": _episode_of_care,
}

SOURCE_TYPES = frozenset(_RULES)
"""The types whose resources can show a care relationship."""
