"""The project's shared cross-sector CarePlan and its CareTeam.

The planning documents ask for one shared, binding plan per citizen with goals (the citizen's own
among them), who does what, and a named coordinator (DOMAIN.md §1, S2-S5). No national profile
exists for either resource; the CareTeam follows MedCom's core CareTeam (name required, one
managing organisation) so a team can travel in a MedCom message unchanged.
"""

from __future__ import annotations

from profiles.src import canon
from profiles.src.dsl import FF, Json, binding, el, inv, profile, ref
from profiles.src.terminology_ff import (
    CAREPLAN_CATEGORIES,
    CAREPLAN_CATEGORY_CS,
    CAREPLAN_CATEGORY_VS,
    CARETEAM_ROLE_CS,
    CARETEAM_ROLE_VS,
)

PARTIES = (
    canon.DK_PRACTITIONER,
    canon.DK_PRACTITIONER_ROLE,
    canon.DK_ORGANIZATION,
    canon.DK_RELATED_PERSON,
    canon.DK_PATIENT,
)


def _category_rule() -> Json:
    # Stated with the codes listed so any FHIRPath engine can check it without a terminology
    # service; the list is generated from the CodeSystem and cannot drift from it.
    codes = " | ".join(f"'{c['code']}'" for c in CAREPLAN_CATEGORIES)
    return inv(
        "ff-careplan-1",
        "A shared care plan needs at least one category from the shared care plan categories",
        f"category.coding.where(system = '{CAREPLAN_CATEGORY_CS}' and code in ({codes})).exists()",
    )


ACTIVITY_CONTENT_RULE = inv(
    "ff-careplan-2",
    "Each activity should say what is to be done (detail.code or detail.description)",
    "activity.detail.all(code.exists() or description.exists())",
    severity="warning",
)


def careplan() -> Json:
    c = "CarePlan"
    return profile(
        FF,
        "ff-careplan",
        c,
        "FfCarePlan",
        "Shared cross-sector care plan",
        "The one shared, binding plan for a citizen's course across hospital, psychiatry, "
        "municipality and general practice: its kind, its care team, its goals (the citizen's "
        "own included), and the activities with who is responsible for each and how far it has "
        "come.",
        [
            el(c, constraint=[_category_rule(), ACTIVITY_CONTENT_RULE]),
            el(
                f"{c}.category",
                min=1,
                binding=binding("extensible", CAREPLAN_CATEGORY_VS, "Kind of shared course"),
            ),
            el(f"{c}.title", min=1, short="Name of the plan as the parties and the citizen see it"),
            el(f"{c}.subject", type=ref(canon.DK_PATIENT)),
            el(f"{c}.author", type=ref(*PARTIES, canon.FF_CARETEAM)),
            el(
                f"{c}.careTeam",
                min=1,
                type=ref(canon.FF_CARETEAM),
                short="The citizen's shared care team (who takes part, who coordinates)",
            ),
            el(f"{c}.addresses", type=ref(canon.DK_CONDITION)),
            el(
                f"{c}.goal",
                comment="Include the citizen's own goals and wishes: a Goal whose "
                "expressedBy is the Patient (or a RelatedPerson acting for the citizen).",
            ),
            el(
                f"{c}.activity.reference",
                max="0",
                comment="Activities are described inline (detail) so each one has its own status "
                "and responsible party.",
            ),
            el(f"{c}.activity.detail", min=1),
            el(f"{c}.activity.detail.status", short="How far the activity has come"),
            el(
                f"{c}.activity.detail.performer",
                min=1,
                type=ref(*PARTIES, canon.FF_CARETEAM),
                short="Who is responsible for the activity",
            ),
        ],
    )


def _role_rule(key: str, code: str, human: str) -> Json:
    return inv(
        key,
        human,
        f"participant.where(role.coding.where(system = '{CARETEAM_ROLE_CS}' and code = "
        f"'{code}').exists()).count() = 1",
        severity="warning",
    )


def careteam() -> Json:
    t = "CareTeam"
    return profile(
        FF,
        "ff-careteam",
        t,
        "FfCareTeam",
        "Shared care team",
        "The people and organisations taking part in a citizen's shared course, each with a "
        "role: the coordinator (tovholder), the patient-responsible doctor, the GP, contact "
        "persons, relatives. Aligned with MedCom's core CareTeam: a name and one managing "
        "organisation identified by SOR.",
        [
            el(
                t,
                constraint=[
                    _role_rule(
                        "ff-careteam-1",
                        "coordinator",
                        "The care team should name exactly one coordinator (tovholder)",
                    ),
                    _role_rule(
                        "ff-careteam-2",
                        "patient-responsible-doctor",
                        "The care team should name exactly one patient-responsible doctor",
                    ),
                ],
            ),
            el(f"{t}.status", min=1),
            el(f"{t}.name", min=1, short="Name of the team (required by MedCom)"),
            el(f"{t}.subject", min=1, type=ref(canon.DK_PATIENT)),
            el(f"{t}.participant", min=1),
            el(
                f"{t}.participant.role",
                min=1,
                binding=binding("required", CARETEAM_ROLE_VS, "Role in the shared care team"),
            ),
            el(f"{t}.participant.member", min=1, type=ref(*PARTIES)),
            el(f"{t}.participant.onBehalfOf", type=ref(canon.DK_ORGANIZATION)),
            el(
                f"{t}.managingOrganization",
                min=1,
                max="1",
                type=ref(canon.DK_ORGANIZATION),
                short="The organisation responsible for the team; carries a SOR id (MedCom)",
            ),
        ],
    )


def all_resources() -> list[Json]:
    return [careplan(), careteam()]
