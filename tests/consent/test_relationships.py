"""Which care relationships a resource shows (`fhir_server.care_relationships.relationships_of`),
table-driven: each kind, its period, the statuses that hold and those that end it, and the
references that give none."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.care_relationships import CareRelationship, relationships_of

BASE = "https://fhir.example.dk/fhir"
P = {"reference": "Patient/p1"}


def ref(text: str) -> dict[str, str]:
    return {"reference": text}


def rel(
    holder: str, kind: str, start: str | None = None, end: str | None = None, patient: str = "p1"
) -> CareRelationship:
    return CareRelationship(patient, holder, kind, start, end)


CASES: list[tuple[str, str, dict[str, Any], list[CareRelationship]]] = [
    # --- Patient: the GP, any of the three holder types, no period
    (
        "gp organization, practitioner and role",
        "Patient",
        {
            "id": "p1",
            "generalPractitioner": [
                ref("Organization/clinic"),
                ref("Practitioner/dr"),
                ref("PractitionerRole/dr-at-clinic"),
            ],
        },
        [
            rel("Organization/clinic", "general-practitioner"),
            rel("Practitioner/dr", "general-practitioner"),
            rel("PractitionerRole/dr-at-clinic", "general-practitioner"),
        ],
    ),
    ("patient without gp", "Patient", {"id": "p1"}, []),
    ("patient without id", "Patient", {"generalPractitioner": [ref("Organization/o")]}, []),
    # --- CareTeam: members with the team's period ∩ their own; the managing organization
    (
        "active care team",
        "CareTeam",
        {
            "status": "active",
            "subject": P,
            "period": {"start": "2024-01-01", "end": "2024-12-31"},
            "participant": [
                {"member": ref("Practitioner/nurse")},
                {"member": ref("PractitionerRole/ot"), "period": {"start": "2024-03"}},
                {"member": ref("Organization/home-care"), "period": {"end": "2025-06-01"}},
                {"member": ref("RelatedPerson/mother")},
                {"member": ref("Patient/p1")},
            ],
            "managingOrganization": [ref("Organization/kommune")],
        },
        [
            rel("Practitioner/nurse", "care-team-member", "2024-01-01", "2024-12-31"),
            rel("PractitionerRole/ot", "care-team-member", "2024-03", "2024-12-31"),
            rel("Organization/home-care", "care-team-member", "2024-01-01", "2024-12-31"),
            rel("Organization/kommune", "care-team-manager", "2024-01-01", "2024-12-31"),
        ],
    ),
    (
        "proposed care team",
        "CareTeam",
        {"status": "proposed", "subject": P, "participant": [{"member": ref("Practitioner/a")}]},
        [rel("Practitioner/a", "care-team-member")],
    ),
    *(
        (
            f"{status or 'no-status'} care team",
            "CareTeam",
            {
                **({"status": status} if status else {}),
                "subject": P,
                "participant": [{"member": ref("Practitioner/a")}],
                "managingOrganization": [ref("Organization/o")],
            },
            [],
        )
        for status in ("suspended", "inactive", "entered-in-error", None)
    ),
    (
        "participant outside the team's period",
        "CareTeam",
        {
            "status": "active",
            "subject": P,
            "period": {"start": "2024-01-01", "end": "2024-06-30"},
            "participant": [
                {"member": ref("Practitioner/late"), "period": {"start": "2024-07-01"}},
                {"member": ref("Practitioner/same-day"), "period": {"start": "2024-06-30"}},
            ],
        },
        [rel("Practitioner/same-day", "care-team-member", "2024-06-30", "2024-06-30")],
    ),
    (
        "care team about a group",
        "CareTeam",
        {
            "status": "active",
            "subject": ref("Group/g"),
            "participant": [{"member": ref("Practitioner/a")}],
        },
        [],
    ),
    # --- ServiceRequest: requester and performers while active or on hold
    *(
        (
            f"{status} referral",
            "ServiceRequest",
            {
                "status": status,
                "intent": "order",
                "subject": P,
                "requester": ref("PractitionerRole/gp"),
                "performer": [
                    ref("Organization/hospital"),
                    ref("CareTeam/t"),
                    ref("HealthcareService/h"),
                ],
            },
            [
                rel("PractitionerRole/gp", "referral-requester"),
                rel("Organization/hospital", "referral-performer"),
            ],
        )
        for status in ("active", "on-hold")
    ),
    *(
        (
            f"{status} referral",
            "ServiceRequest",
            {
                "status": status,
                "intent": "order",
                "subject": P,
                "requester": ref("PractitionerRole/gp"),
                "performer": [ref("Organization/h")],
            },
            [],
        )
        for status in ("draft", "completed", "revoked", "entered-in-error", "unknown")
    ),
    # --- Task: requester and owner, the patient is `for`
    *(
        (
            f"{status} task",
            "Task",
            {
                "status": status,
                "intent": "order",
                "for": P,
                "requester": ref("Organization/hospital"),
                "owner": ref("Organization/home-care"),
            },
            [
                rel("Organization/hospital", "task-requester"),
                rel("Organization/home-care", "task-owner"),
            ],
        )
        for status in ("requested", "received", "accepted", "ready", "in-progress", "on-hold")
    ),
    *(
        (
            f"{status} task",
            "Task",
            {"status": status, "intent": "order", "for": P, "owner": ref("Organization/o")},
            [],
        )
        for status in ("draft", "rejected", "cancelled", "failed", "completed", "entered-in-error")
    ),
    (
        "task for no patient",
        "Task",
        {"status": "requested", "intent": "order", "owner": ref("Organization/o")},
        [],
    ),
    # --- Encounter: service provider and participants, the stay ∩ the participation
    *(
        (
            f"{status} encounter",
            "Encounter",
            {
                "status": status,
                "class": {"code": "IMP"},
                "subject": P,
                "period": {"start": "2024-05-01T08:00:00+02:00"},
                "serviceProvider": ref("Organization/ward"),
                "participant": [
                    {
                        "individual": ref("Practitioner/doc"),
                        "period": {
                            "start": "2024-05-01T09:00:00+02:00",
                            "end": "2024-05-01T10:00:00+02:00",
                        },
                    },
                    {"individual": ref("RelatedPerson/son")},
                ],
            },
            [
                rel("Organization/ward", "encounter-provider", "2024-05-01T08:00:00+02:00"),
                rel(
                    "Practitioner/doc",
                    "encounter-participant",
                    "2024-05-01T09:00:00+02:00",
                    "2024-05-01T10:00:00+02:00",
                ),
            ],
        )
        for status in ("arrived", "triaged", "in-progress", "onleave")
    ),
    *(
        (
            f"{status} encounter",
            "Encounter",
            {
                "status": status,
                "class": {"code": "AMB"},
                "subject": P,
                "serviceProvider": ref("Organization/ward"),
            },
            [],
        )
        for status in ("planned", "finished", "cancelled", "entered-in-error", "unknown")
    ),
    # --- CarePlan: author, contributors, activity performers; the plan's period
    (
        "active care plan",
        "CarePlan",
        {
            "status": "active",
            "intent": "plan",
            "subject": P,
            "period": {"start": "2024-02-01"},
            "author": ref("Organization/kommune"),
            "contributor": [ref("Practitioner/gp"), ref("Patient/p1")],
            "careTeam": [ref("CareTeam/team")],
            "activity": [
                {
                    "detail": {
                        "status": "scheduled",
                        "performer": [ref("Organization/home-care"), ref("CareTeam/x")],
                    }
                },
                {"reference": ref("ServiceRequest/sr")},
            ],
        },
        [
            rel("Organization/kommune", "care-plan-author", "2024-02-01"),
            rel("Practitioner/gp", "care-plan-contributor", "2024-02-01"),
            rel("Organization/home-care", "care-plan-performer", "2024-02-01"),
        ],
    ),
    (
        "on-hold care plan",
        "CarePlan",
        {"status": "on-hold", "intent": "plan", "subject": P, "author": ref("Organization/k")},
        [rel("Organization/k", "care-plan-author")],
    ),
    *(
        (
            f"{status} care plan",
            "CarePlan",
            {"status": status, "intent": "plan", "subject": P, "author": ref("Organization/k")},
            [],
        )
        for status in ("draft", "revoked", "completed", "entered-in-error", "unknown")
    ),
    # --- references that name no local holder or patient
    (
        "contained, logical, conditional and other servers' references",
        "CarePlan",
        {
            "status": "active",
            "intent": "plan",
            "subject": P,
            "contributor": [
                ref("#author"),
                {"identifier": {"system": "urn:oid:1.2.208.176.1.1", "value": "123"}},
                ref("Organization?identifier=x"),
                ref("https://other.example/fhir/Organization/o"),
                ref("urn:uuid:53fefa32-fcbb-4ff8-8a92-55ee120877b7"),
                ref("Organization/"),
                ref("x/Organization/o"),
            ],
        },
        [],
    ),
    (
        "a version-specific reference",
        "CarePlan",
        {
            "status": "active",
            "intent": "plan",
            "subject": ref("Patient/p1/_history/2"),
            "author": ref("Organization/k/_history/7"),
        },
        [rel("Organization/k", "care-plan-author")],
    ),
    (
        "a subject that is no patient",
        "CarePlan",
        {
            "status": "active",
            "intent": "plan",
            "subject": ref("Group/g"),
            "author": ref("Organization/k"),
        },
        [],
    ),
    (
        "the same holder twice",
        "ServiceRequest",
        {
            "status": "active",
            "intent": "order",
            "subject": P,
            "performer": [ref("Organization/h"), ref("Organization/h")],
        },
        [rel("Organization/h", "referral-performer")],
    ),
    # --- EpisodeOfCare: its managing organization and care manager, for the episode's period
    (
        "active episode of care",
        "EpisodeOfCare",
        {
            "status": "active",
            "patient": P,
            "period": {"start": "2024-01-01"},
            "managingOrganization": ref("Organization/home-care"),
            "careManager": ref("Practitioner/coordinator"),
            "team": [ref("CareTeam/t")],
        },
        [
            rel("Organization/home-care", "episode-organization", "2024-01-01"),
            rel("Practitioner/coordinator", "episode-care-manager", "2024-01-01"),
        ],
    ),
    (
        "episode of care on the waitlist",
        "EpisodeOfCare",
        {"status": "waitlist", "patient": P, "managingOrganization": ref("Organization/o")},
        [rel("Organization/o", "episode-organization")],
    ),
    (
        "finished episode of care",
        "EpisodeOfCare",
        {"status": "finished", "patient": P, "managingOrganization": ref("Organization/o")},
        [],
    ),
    (
        "a type that shows none",
        "Observation",
        {"status": "final", "subject": P, "performer": [ref("Practitioner/x")]},
        [],
    ),
]


@pytest.mark.parametrize(
    ("type_", "resource", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_relationships_of(
    type_: str, resource: dict[str, Any], expected: list[CareRelationship]
) -> None:
    assert relationships_of(type_, {"resourceType": type_, **resource}) == expected


def test_absolute_references_count_under_the_servers_base_only() -> None:
    plan = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "subject": ref(f"{BASE}/Patient/p1"),
        "author": ref(f"{BASE}/Organization/k"),
        "contributor": [
            ref("https://other.example/fhir/Organization/o"),
            ref(f"{BASE}x/Organization/y"),
        ],
    }
    assert relationships_of("CarePlan", plan, BASE) == [rel("Organization/k", "care-plan-author")]
    assert relationships_of("CarePlan", plan, BASE + "/") == [
        rel("Organization/k", "care-plan-author")
    ]
    assert relationships_of("CarePlan", plan) == []  # whose URL it is cannot be told


def test_periods_keep_their_precision() -> None:
    """A period ending on a day holds through that day; an unreadable date gives nothing."""
    team = {
        "status": "active",
        "subject": P,
        "participant": [
            {
                "member": ref("Practitioner/a"),
                "period": {"start": "2024-01-01", "end": "2024-01-31"},
            },
            {"member": ref("Practitioner/b"), "period": {"start": "not a date"}},
        ],
    }
    [found] = relationships_of("CareTeam", team)
    lo, hi = found.bounds()
    assert (lo, hi) == (1704067200000000, 1706745600000000)  # 2024-01-01 .. 2024-02-01 UTC
