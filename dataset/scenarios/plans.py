"""The shared plan: CareTeam (ff-careteam), CarePlan (ff-careplan) with its activities, Goal."""

from __future__ import annotations

from dataset import build as b
from dataset import codes as c
from dataset.build import Json
from dataset.scenarios.scene import Scene


def careteam(
    scene: Scene,
    local: str,
    subject: Json,
    name: str,
    managing: Json,
    participants: list[tuple[tuple[str, ...], Json]],
    start: int,
) -> Json:
    """A care team; each participant is (its ff-careteam-role codes, the member reference)."""
    lines = [f"{name}. Ansvarlig organisation: {managing['display']}."]
    lines += [
        f"{', '.join(c.CARETEAM_ROLE_TEXT[r] for r in roles)}: {member['display']}"
        for roles, member in participants
    ]
    return scene.add(
        b.resource(
            "CareTeam",
            scene.id(local),
            tuple(lines),
            status="active",
            name=name,
            subject=subject,
            period={"start": scene.day(start)},
            participant=[
                {"role": [c.careteam_role(r) for r in roles], "member": member}
                for roles, member in participants
            ],
            managingOrganization=[managing],
        )
    )


ACTIVITY_STATUS_TEXT = {
    "not-started": "ikke startet",
    "scheduled": "planlagt",
    "in-progress": "i gang",
    "on-hold": "sat i bero",
    "completed": "afsluttet",
    "cancelled": "aflyst",
}


def activity(text: str, status: str, performers: list[Json], scheduled: str | None = None) -> Json:
    detail: Json = {"code": b.concept(text), "status": status}
    if scheduled:
        detail["scheduledString"] = scheduled
    detail["performer"] = performers
    detail["description"] = text
    return {"detail": detail}


def careplan(
    scene: Scene,
    local: str,
    subject: Json,
    title: str,
    categories: list[str],
    team: Json,
    author: Json,
    activities: list[Json],
    start: int,
    *,
    goals: list[Json] | None = None,
    addresses: list[Json] | None = None,
    description: str | None = None,
    end: str | None = None,
) -> Json:
    lines = [title] + ([description] if description else [])
    for a in activities:
        detail = a["detail"]
        who = ", ".join(p["display"] for p in detail["performer"])
        lines.append(f"{detail['description']}: {who} ({ACTIVITY_STATUS_TEXT[detail['status']]})")
    return scene.add(
        b.resource(
            "CarePlan",
            scene.id(local),
            tuple(lines),
            status="active",
            intent="plan",
            category=[c.careplan_category(code) for code in categories],
            title=title,
            description=description,
            subject=subject,
            period=b.period(scene.day(start), end),
            created=scene.day(start),
            author=author,
            careTeam=[team],
            addresses=addresses,
            goal=goals,
            activity=activities,
        )
    )


def goal(scene: Scene, local: str, subject: Json, text: str, by: Json, start: int) -> Json:
    return scene.add(
        b.resource(
            "Goal",
            scene.id(local),
            f"Mål: {text} (udtrykt af {by['display']})",
            lifecycleStatus="active",
            achievementStatus=b.concept(
                "I fremgang",
                b.coding("http://terminology.hl7.org/CodeSystem/goal-achievement", "improving"),
            ),
            description={"text": text},
            subject=subject,
            startDate=scene.day(start),
            target=[{"dueDate": scene.day(start + 180)}],
            expressedBy=by,
        )
    )


IRCP = b.concept(
    "Modtager af oplysninger",
    b.coding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP"),
)
POLICIES = {  # ff-consent-policy code → (provision type, Danish wording)
    "block": ("deny", "Spærring"),
    "treatment-permit": ("permit", "Samtykke til indhentning i behandlingsøjemed"),
    "disclosure-permit": ("permit", "Samtykke til videregivelse til andre formål"),
}


def consent(
    scene: Scene,
    local: str,
    subject: Json,
    policy: str,
    by: list[Json],
    actors: list[Json],
    start: int,
    end: int | None,
    summary: str,
    classes: tuple[str, ...] = (),
    data_period: Json | None = None,
    labels: tuple[Json, ...] = (),
    exceptions: tuple[Json, ...] = (),
) -> Json:
    """A block ('spærring', a deny provision) or a permit, by its Danish legal basis ``policy``
    (ff-consent-policy: block, treatment-permit, disclosure-permit), for ``actors`` (everyone if
    none), from ``start`` (days from now) until ``end`` if given, on the resource types in
    ``classes``, the data of ``data_period`` and the data marked with the security ``labels``
    if given; ``exceptions`` are nested provisions (`exception`)."""
    kind, wording = POLICIES[policy]
    provision: Json = {
        "type": kind,
        "period": b.period(scene.day(start), scene.day(end) if end is not None else None),
    }
    if actors:
        provision["actor"] = [{"role": IRCP, "reference": actor} for actor in actors]
    if data_period:
        provision["dataPeriod"] = data_period
    if labels:
        provision["securityLabel"] = list(labels)
    if classes:
        provision["class"] = [b.coding(RESOURCE_TYPES, t) for t in classes]
    if exceptions:
        provision["provision"] = list(exceptions)
    return scene.add(
        b.resource(
            "Consent",
            scene.id(local),
            summary,
            status="active",
            scope=b.concept(
                "Privatliv", b.coding(c.CONSENT_SCOPE, "patient-privacy", "Privacy Consent")
            ),
            category=[b.concept("Samtykke", b.coding(c.LOINC, "59284-0", "Patient Consent"))],
            patient=subject,
            dateTime=scene.at(start, 12),
            performer=by,
            policyRule=b.concept(wording, b.coding(c.FF_CONSENT_POLICY, policy)),
            provision=provision,
        )
    )


def exception(kind: str, actors: list[Json]) -> Json:
    """A nested provision of type ``kind`` (permit or deny) for ``actors``: an exception to its
    parent, e.g. a permit for psychiatry inside a block of psychiatric data."""
    return {"type": kind, "actor": [{"role": IRCP, "reference": actor} for actor in actors]}


RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
