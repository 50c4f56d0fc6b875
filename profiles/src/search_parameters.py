"""Search parameters the Danish profiles make useful and R4 does not define.

They are data: the server's search wiring reads R4's parameters today and can add these later.
Codes are chosen not to clash with the R4 parameters of the same resource type.
"""

from __future__ import annotations

from profiles.src import canon
from profiles.src.dk_core_extensions import MUNICIPALITY_EXT
from profiles.src.dsl import FF, Json, search_parameter


def all_resources() -> list[Json]:
    change = canon.FF_MEDICATION_CHANGE
    return [
        search_parameter(
            FF,
            "ff-careteam-role",
            "role",
            "CareTeam",
            "token",
            "CareTeam.participant.role",
            "Care teams with a participant in this role (e.g. coordinator).",
        ),
        search_parameter(
            FF,
            "ff-careteam-managing-organization",
            "managing-organization",
            "CareTeam",
            "reference",
            "CareTeam.managingOrganization",
            "Care teams managed by this organisation.",
            target=["Organization"],
        ),
        search_parameter(
            FF,
            "ff-careplan-activity-status",
            "activity-status",
            "CarePlan",
            "token",
            "CarePlan.activity.detail.status",
            "Care plans with an activity in this status (e.g. not-started, in-progress).",
        ),
        search_parameter(
            FF,
            "ff-medicationstatement-change-type",
            "change-type",
            "MedicationStatement",
            "token",
            f"MedicationStatement.extension.where(url = '{change}').extension"
            ".where(url = 'type').value",
            "Medication lines by how they changed (new, changed, paused, discontinued, unchanged).",
        ),
        search_parameter(
            FF,
            "ff-consent-policy-rule",
            "policy-rule",
            "Consent",
            "token",
            "Consent.policyRule",
            "Consents by Danish legal basis (block, treatment-permit, disclosure-permit).",
        ),
        search_parameter(
            FF,
            "ff-goal-expressed-by",
            "expressed-by",
            "Goal",
            "reference",
            "Goal.expressedBy",
            "Goals by who expressed them; the citizen's own goals have the Patient here.",
            target=["Patient", "Practitioner", "PractitionerRole", "RelatedPerson"],
        ),
        search_parameter(
            FF,
            "ff-patient-municipality",
            "municipality",
            "Patient",
            "token",
            f"Patient.address.extension.where(url = '{MUNICIPALITY_EXT}').value",
            "Patients by the municipality code of an address.",
        ),
    ]
