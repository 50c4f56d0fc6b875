"""MedCom Core 4.0.0 (medcom-consent-audit.md A.7): the patient, organization, practitioner,
practitioner role, care team and encounter a MedCom message carries, and the extensions on a
CareCommunication's payload segments.

Flattened onto R4 (the build makes profiles of R4 only): each profile carries what its dk-core
parent adds that a message needs (the SOR identifier, the official name), not all of dk-core;
docs/profiles.md "MedCom" lists what is left out.
"""

from __future__ import annotations

from profiles.src import medcom_canon as mc
from profiles.src.dsl import (
    Json,
    binding,
    el,
    extension,
    fixed_system_slice,
    inv,
    profile,
    ref,
    simple_extension,
    slicing,
    types,
)
from profiles.src.identifiers import PERSON_RULES, SOR_RULE

C = mc.CORE
# MedCom's expression: lower-case hex in UUID form; the version digit is not checked
UUID = "urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _id_and_text(type_: str) -> list[Json]:
    """Core 4.0.0: every MedCom resource has an id and a narrative."""
    return [el(f"{type_}.id", min=1), el(f"{type_}.text", min=1)]


def patient() -> Json:
    p = "Patient"
    return profile(
        C,
        "medcom-core-patient",
        p,
        "MedComCorePatient",
        "MedCom Core Patient",
        "The citizen a MedCom message is about: a CPR number or a replacement CPR (X-eCPR, "
        "D-eCPR) and the official name.",
        [
            el(
                p,
                constraint=[
                    inv(
                        "medcom-core-patient-official-name",
                        "The patient's official name (use 'official') must be present",
                        "name.where(use = 'official').exists()",
                    ),
                ],
            ),
            *_id_and_text(p),
            el(f"{p}.identifier", min=1, constraint=PERSON_RULES),
            el(f"{p}.name", min=1),
            el(f"{p}.name.family", min=1),
            el(f"{p}.managingOrganization", type=ref(mc.CORE_ORGANIZATION)),
        ],
    )


def organization() -> Json:
    o = "Organization"
    return profile(
        C,
        "medcom-core-organization",
        o,
        "MedComCoreOrganization",
        "MedCom Core Organization",
        "An organization in a MedCom message, identified by its SOR id.",
        [
            *_id_and_text(o),
            el(f"{o}.identifier", min=1, slicing=slicing("system"), constraint=[SOR_RULE]),
            *fixed_system_slice(
                f"{o}.identifier", "SOR-ID", mc.SOR, "SOR id", min_=1, value={"min": 1}
            ),
        ],
    )


def practitioner() -> Json:
    p = "Practitioner"
    return profile(
        C,
        "medcom-core-practitioner",
        p,
        "MedComCorePractitioner",
        "MedCom Core Practitioner",
        "A health or social care professional named in a MedCom message.",
        [*_id_and_text(p)],
    )


def practitioner_role() -> Json:
    r = "PractitionerRole"
    return profile(
        C,
        "medcom-core-practitionerrole",
        r,
        "MedComCorePractitionerRole",
        "MedCom Core PractitionerRole",
        "The role in which a professional writes or receives a MedCom message: the "
        "organization, the practitioner and the role's code or text.",
        [
            el(
                r,
                constraint=[
                    inv(
                        "medcom-core-practitionerrole-code-xor-text",
                        "A role is given by a code or by text, not both",
                        "code.exists() implies (code.coding.code.exists() xor code.text.exists())",
                    ),
                ],
            ),
            *_id_and_text(r),
            el(f"{r}.practitioner", type=ref(mc.CORE_PRACTITIONER)),
            # core 4.0.0 makes organization 1..; CareCommunication 5.0 (core 3.0.1) and its
            # published messages do not
            el(f"{r}.organization", type=ref(mc.CORE_ORGANIZATION)),
        ],
    )


def careteam() -> Json:
    t = "CareTeam"
    return profile(
        C,
        "medcom-core-careteam",
        t,
        "MedComCoreCareTeam",
        "MedCom Core CareTeam",
        "A team that sends or receives a MedCom message: its name and the organization that "
        "manages it.",
        [
            *_id_and_text(t),
            el(f"{t}.name", min=1),
            el(f"{t}.managingOrganization", min=1, max="1", type=ref(mc.CORE_ORGANIZATION)),
        ],
    )


def encounter_elements(e: str = "Encounter") -> list[Json]:
    """The core encounter's rules; the HospitalNotification encounter narrows them."""
    return [
        *_id_and_text(e),
        el(f"{e}.episodeOfCare.identifier.system", min=1),
        el(f"{e}.episodeOfCare.identifier.value", min=1),
        el(f"{e}.subject", min=1, type=ref(mc.CORE_PATIENT)),
        el(f"{e}.account", max="0"),
        el(f"{e}.serviceProvider", type=ref(mc.CORE_ORGANIZATION)),
    ]


def encounter() -> Json:
    e = "Encounter"
    elements = encounter_elements(e)
    elements.insert(
        2,
        el(
            f"{e}.class",
            binding=binding(
                "required", mc.CORE_ENCOUNTER_CLASS_VS, "v3 encounter classes and MedCom's 'other'"
            ),
        ),
    )
    return profile(
        C,
        "medcom-core-encounter",
        e,
        "MedComCoreEncounter",
        "MedCom Core Encounter",
        "A hospital or care contact a MedCom message refers to, identified by its episode of "
        "care id.",
        elements,
    )


def _extensions() -> list[Json]:
    return [
        simple_extension(
            C,
            "medcom-core-sender-extension",
            "MedComCoreSenderExtension",
            "Specific sender",
            "The practitioner role or care team that sent the message (the 'specific sender').",
            ["Communication"],
            {"type": ref(mc.CORE_PRACTITIONER_ROLE, mc.CORE_CARETEAM)},
        ),
        simple_extension(
            C,
            "medcom-core-datetime-extension",
            "MedComCoreDateTimeExtension",
            "Segment time",
            "When the author sent this segment (pressed send).",
            ["Communication.payload"],
            {"type": types("dateTime")},
        ),
        simple_extension(
            C,
            "medcom-core-practitioner-extension",
            "MedComCorePractitionerExtension",
            "Segment author",
            "The practitioner role that wrote this segment.",
            ["Communication.payload"],
            {"type": ref(mc.CORE_PRACTITIONER_ROLE)},
        ),
        extension(
            C,
            "medcom-core-contact-extension",
            "MedComCoreContactExtension",
            "Author's phone",
            "The phone number at which the author of a segment can be reached.",
            ["Communication.payload"],
            [
                el("Extension.extension", max="0"),
                el("Extension.value[x]", min=1, type=types("ContactPoint")),
                el("Extension.value[x].system", min=1, fixedCode="phone"),
                el("Extension.value[x].value", min=1),
            ],
        ),
        extension(
            C,
            "medcom-core-identifier-extension",
            "MedComCoreIdentifierExtension",
            "Segment identifier",
            "The identifier of a payload segment: a UUID v4 URN assigned "
            "by the organization that wrote it.",
            ["Communication.payload"],
            [
                el("Extension.extension", max="0"),
                el(
                    "Extension.value[x]",
                    min=1,
                    type=types("Identifier"),
                    constraint=[
                        inv(
                            "medcom-uuidv4",
                            "The identifier must be a UUID URN (urn:uuid:…, lower case)",
                            f"value.matches('^{UUID}$')",
                        ),
                    ],
                ),
                el("Extension.value[x].value", min=1),
                el("Extension.value[x].assigner", type=ref(mc.CORE_ORGANIZATION)),
            ],
        ),
    ]


def all_resources() -> list[Json]:
    return [
        patient(),
        organization(),
        practitioner(),
        practitioner_role(),
        careteam(),
        encounter(),
        *_extensions(),
    ]
