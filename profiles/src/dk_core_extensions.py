"""The dk-core extensions the dk-core profiles here use (address codes, condition dates,
encounter planning), written from dk-core 3.7.0's published definitions."""

from __future__ import annotations

from profiles.src import canon
from profiles.src.dsl import DK_CORE, Json, binding, ref, simple_extension, types
from profiles.src.terminology_dk import MUNICIPALITY_VS, REGION_VS

MUNICIPALITY_EXT = canon.dk_sd("dk-core-municipalityCodes")
REGION_EXT = canon.dk_sd("dk-core-RegionalSubDivisionCodes")
LAST_ASSERTED_EXT = canon.dk_sd("ConditionLastAssertedDate")
NOT_FOLLOWED_EXT = canon.dk_sd("NotFollowedAnymore")
PLANNED_START_EXT = canon.dk_sd("dk-core-planned-start-date")
PLANNED_END_EXT = canon.dk_sd("dk-core-planned-end-date")
CARE_PROVIDER_EXT = canon.dk_sd("dk-core-care-provider")


def all_resources() -> list[Json]:
    address = ["Address", "Patient.address"]
    return [
        simple_extension(
            DK_CORE,
            "dk-core-municipalityCodes",
            "DkCoreMunicipalityCodesExtension",
            "Municipality code of an address",
            "The Danish municipality (kommune) an address lies in, as its four-digit code.",
            address,
            {
                "type": types("CodeableConcept"),
                "binding": binding("required", MUNICIPALITY_VS, "Danish municipality codes"),
            },
        ),
        simple_extension(
            DK_CORE,
            "dk-core-RegionalSubDivisionCodes",
            "DkCoreRegionalSubDivisionCodesExtension",
            "Region of an address",
            "The Danish region an address lies in, as its ISO 3166-2 code.",
            address,
            {
                "type": types("CodeableConcept"),
                "binding": binding("required", REGION_VS, "Danish regions"),
            },
        ),
        simple_extension(
            DK_CORE,
            "ConditionLastAssertedDate",
            "ConditionLastAssertedDate",
            "Condition last asserted",
            "When the condition was last confirmed to hold in its current state (status, stage, "
            "severity), typically at the latest follow-up.",
            ["Condition"],
            {"type": types("dateTime")},
        ),
        simple_extension(
            DK_CORE,
            "NotFollowedAnymore",
            "NotFollowedAnymore",
            "Condition no longer followed",
            "When the condition stopped being followed in a given clinical setting.",
            ["Condition"],
            {"type": types("dateTime")},
        ),
        simple_extension(
            DK_CORE,
            "dk-core-planned-start-date",
            "PlannedStartDate",
            "Planned start",
            "When the encounter is planned to start (for an admission: the planned admission).",
            ["Encounter"],
            {"type": types("dateTime")},
        ),
        simple_extension(
            DK_CORE,
            "dk-core-planned-end-date",
            "PlannedEndDate",
            "Planned end",
            "When the encounter is planned to end (for an admission: the planned discharge).",
            ["Encounter"],
            {"type": types("dateTime")},
        ),
        simple_extension(
            DK_CORE,
            "dk-core-care-provider",
            "CareProvider",
            "Care provider",
            "The organisation responsible for the patient's care during the encounter.",
            ["Encounter"],
            {"type": ref(canon.DK_ORGANIZATION)},
        ),
    ]
