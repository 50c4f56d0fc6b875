"""dk-core profiles for Organization, Condition, Encounter and the person ServiceRequest.

Written from the constraints dk-core 3.7.0 publishes; the wording is ours. Where dk-core points to
a profile this server does not carry (dk-core-observation, dk-core-location) the base resource is
the target; docs/profiles.md lists these differences.
"""

from __future__ import annotations

from profiles.src import canon
from profiles.src.dk_core_extensions import (
    CARE_PROVIDER_EXT,
    LAST_ASSERTED_EXT,
    NOT_FOLLOWED_EXT,
    PLANNED_END_EXT,
    PLANNED_START_EXT,
)
from profiles.src.dsl import (
    DK_CORE,
    Json,
    binding,
    el,
    ext_type,
    fixed_system_slice,
    inv,
    profile,
    ref,
    slice_entry,
    slicing,
)
from profiles.src.identifiers import ORGANIZATION_RULES, organization_identifier_slices
from profiles.src.terminology_dk import ENCOUNTER_PRIORITY_VS, PRIORITY_VS

ORGANIZATION_ID_RULE = inv(
    "dk-core-organization-1",
    "An organisation needs at least one SOR, KOMBIT organisation or CVR identifier",
    f"identifier.where(system = '{canon.SOR}' or system = '{canon.KOMBIT_ORG}'"
    f" or system = '{canon.CVR}').exists()",
)

CONDITION_DUE_TO = "http://hl7.org/fhir/StructureDefinition/condition-dueTo"


def organization() -> Json:
    o = "Organization"
    return profile(
        DK_CORE,
        "dk-core-organization",
        o,
        "DkCoreOrganization",
        "Danish Core Organization",
        "A Danish health or care organisation: hospital unit, general practice, municipal "
        "service, region. It is identified by SOR, KOMBIT organisation id or CVR, and may carry "
        "GLN, ydernummer, municipality or region codes. Written from HL7 Denmark's dk-core 3.7.0.",
        [
            el(o, constraint=[ORGANIZATION_ID_RULE]),
            el(f"{o}.identifier", min=1, slicing=slicing("system"), constraint=ORGANIZATION_RULES),
            *organization_identifier_slices(f"{o}.identifier"),
        ],
    )


def _coding_slices(base: str, sct: str = "SCTConditionCode", sks: str = "SKS-D") -> list[Json]:
    """Danish code systems a condition or a reason may be coded in, one optional slice each
    (slice names as dk-core names them; they differ between Condition and ServiceRequest)."""
    return [
        *fixed_system_slice(
            base, "FSIIIConditionCode", canon.FSIII, "FSIII condition code (municipal care)"
        ),
        *fixed_system_slice(base, sct, canon.SNOMED, "SNOMED CT code"),
        *fixed_system_slice(
            base, "FFBConditionCode", canon.FFB, "FFB sub-theme code (social services)"
        ),
        *fixed_system_slice(base, sks, canon.SKS_D, "SKS diagnosis code (D hierarchy)"),
        *fixed_system_slice(base, "ICPC2code", canon.ICPC2, "ICPC-2 code (general practice)"),
    ]


def condition() -> Json:
    c = "Condition"
    return profile(
        DK_CORE,
        "dk-core-condition",
        c,
        "DkCoreCondition",
        "Danish Core Condition",
        "A condition asserted by a Danish health or social care professional, coded in one of "
        "the Danish code systems (SKS, SNOMED CT, FSIII, FFB, ICPC-2). Written from HL7 "
        "Denmark's dk-core 3.7.0.",
        [
            el(f"{c}.extension", slicing=slicing("url")),
            slice_entry(
                f"{c}.extension:dueTo",
                0,
                "1",
                "What caused the condition",
                type=ext_type(CONDITION_DUE_TO),
            ),
            slice_entry(
                f"{c}.extension:conditionLastAssertedDate",
                0,
                "1",
                "When the condition was last confirmed in its current state",
                type=ext_type(LAST_ASSERTED_EXT),
            ),
            slice_entry(
                f"{c}.extension:notFollowedAnymore",
                0,
                "1",
                "When the condition stopped being followed",
                type=ext_type(NOT_FOLLOWED_EXT),
            ),
            el(f"{c}.code.coding", slicing=slicing("system"), short="Condition code"),
            *_coding_slices(f"{c}.code.coding"),
            el(f"{c}.subject", type=ref(canon.DK_PATIENT)),
            el(
                f"{c}.recorder",
                type=ref(
                    canon.DK_PRACTITIONER,
                    canon.DK_PRACTITIONER_ROLE,
                    canon.DK_PATIENT,
                    canon.DK_RELATED_PERSON,
                ),
            ),
            el(f"{c}.asserter", type=ref(canon.DK_PRACTITIONER, canon.DK_PRACTITIONER_ROLE)),
        ],
    )


def encounter() -> Json:
    e = "Encounter"
    return profile(
        DK_CORE,
        "dk-core-encounter",
        e,
        "DkCoreEncounter",
        "Danish Core Encounter",
        "A contact between a Danish patient and a care provider (admission, outpatient visit, "
        "home visit), with its planned start and end and the responsible care provider. Written "
        "from HL7 Denmark's dk-core 3.7.0.",
        [
            el(f"{e}.extension", slicing=slicing("url")),
            slice_entry(
                f"{e}.extension:plannedStartDate",
                0,
                "1",
                "Planned start",
                type=ext_type(PLANNED_START_EXT),
            ),
            slice_entry(
                f"{e}.extension:plannedEndDate",
                0,
                "1",
                "Planned end",
                type=ext_type(PLANNED_END_EXT),
            ),
            slice_entry(
                f"{e}.extension:careProvider",
                0,
                "1",
                "Organisation responsible for the care during the encounter",
                type=ext_type(CARE_PROVIDER_EXT),
            ),
            el(
                f"{e}.priority",
                binding=binding("extensible", ENCOUNTER_PRIORITY_VS, "Acute or planned"),
            ),
            el(f"{e}.subject", type=ref(canon.DK_PATIENT)),
            el(f"{e}.serviceProvider", type=ref(canon.DK_ORGANIZATION)),
        ],
    )


def service_request() -> Json:
    s = "ServiceRequest"
    people = (
        canon.DK_PRACTITIONER,
        canon.DK_PRACTITIONER_ROLE,
        canon.DK_ORGANIZATION,
        canon.DK_PATIENT,
        canon.DK_RELATED_PERSON,
    )
    return profile(
        DK_CORE,
        "dk-core-person-servicerequest",
        s,
        "DkCorePersonServiceRequest",
        "Danish Core Person ServiceRequest",
        "A request for a service for a Danish patient: investigation, nursing, treatment, a "
        "preventive visit. Priority is routine or as soon as possible. Written from HL7 "
        "Denmark's dk-core 3.7.0.",
        [
            el(
                f"{s}.priority",
                binding=binding("required", PRIORITY_VS, "Routine or as soon as possible"),
            ),
            el(f"{s}.subject", type=ref(canon.DK_PATIENT)),
            el(f"{s}.requester", type=ref(*people, canon.r4("Device"))),
            el(
                f"{s}.performer",
                type=ref(
                    *people, canon.r4("HealthcareService"), canon.r4("Device"), canon.r4("CareTeam")
                ),
            ),
            el(f"{s}.reasonCode.coding", slicing=slicing("system"), short="Reason code"),
            *_coding_slices(f"{s}.reasonCode.coding", sct="SCTCode", sks="SKS"),
            el(
                f"{s}.reasonReference",
                type=ref(
                    canon.DK_CONDITION,
                    canon.r4("Observation"),
                    canon.r4("DiagnosticReport"),
                    canon.r4("DocumentReference"),
                ),
            ),
        ],
    )


def all_resources() -> list[Json]:
    return [organization(), condition(), encounter(), service_request()]
