"""dk-core profiles for people: Patient, RelatedPerson, Practitioner, PractitionerRole.

Written from the constraints dk-core 3.7.0 publishes (FSH sources of hl7dk/dk-core); the wording
is ours. Differences from dk-core are listed in docs/profiles.md.
"""

from __future__ import annotations

from profiles.src import canon
from profiles.src.dk_core_extensions import MUNICIPALITY_EXT, REGION_EXT
from profiles.src.dsl import (
    DK_CORE,
    Json,
    binding,
    el,
    ext_type,
    inv,
    profile,
    ref,
    slice_entry,
    slicing,
)
from profiles.src.identifiers import (
    PERSON_RULES,
    SOR_RULE,
    authorisation_rule,
    on_child,
    person_identifier_slices,
)
from profiles.src.terminology_dk import (
    CONTACT_RELATIONSHIP_VS,
    MARITAL_VS,
    PROFESSION_VS,
    RELATIONSHIP_VS,
)

MARITAL_RULE = inv(
    "dk-core-marital-1",
    "Danish law has no polygamous or annulled marriage; do not use the v3 marital statuses P or A",
    "maritalStatus.coding.where(system = 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus'"
    " and (code = 'P' or code = 'A')).empty()",
    severity="warning",
)


def _official_name(base: str) -> list[Json]:
    return [
        el(base, slicing=slicing("use")),
        slice_entry(f"{base}:official", 0, "1", "Official name as registered in CPR"),
        el(f"{base}:official.use", min=1, fixedCode="official"),
        el(f"{base}:official.family", min=1),
    ]


def patient() -> Json:
    p = "Patient"
    return profile(
        DK_CORE,
        "dk-core-patient",
        p,
        "DkCorePatient",
        "Danish Core Patient",
        "A Danish citizen or patient: identified by CPR or a replacement number (X-eCPR, "
        "D-eCPR), with the official name from CPR and the municipality and region of the "
        "address. Written from HL7 Denmark's dk-core 3.7.0.",
        [
            el(p, constraint=[MARITAL_RULE]),
            el(f"{p}.identifier", min=1, slicing=slicing("system"), constraint=PERSON_RULES),
            *person_identifier_slices(f"{p}.identifier"),
            *_official_name(f"{p}.name"),
            el(
                f"{p}.address",
                definition="An address of the person. Danish addresses follow the "
                "Danish address register (DAR).",
            ),
            slice_entry(
                f"{p}.address.extension:municipalityCode",
                0,
                "1",
                "Municipality code (kommunekode)",
                type=ext_type(MUNICIPALITY_EXT),
            ),
            slice_entry(
                f"{p}.address.extension:regionalSubDivisionCodes",
                0,
                "1",
                "Region code (regionskode)",
                type=ext_type(REGION_EXT),
            ),
            el(
                f"{p}.maritalStatus",
                binding=binding("extensible", MARITAL_VS, "Danish marital statuses"),
            ),
            el(
                f"{p}.contact.relationship",
                binding=binding(
                    "extensible", CONTACT_RELATIONSHIP_VS, "Danish patient contact relationships"
                ),
            ),
            el(
                f"{p}.generalPractitioner",
                slicing=slicing("identifier.system"),
                type=ref(canon.DK_ORGANIZATION, canon.DK_PRACTITIONER, canon.DK_PRACTITIONER_ROLE),
                constraint=[on_child(SOR_RULE, "identifier")],
            ),
            slice_entry(
                f"{p}.generalPractitioner:referencedSORUnit",
                0,
                "*",
                "The GP's practice by its SOR id (health institution level)",
            ),
            el(f"{p}.generalPractitioner:referencedSORUnit.identifier", min=1),
            el(
                f"{p}.generalPractitioner:referencedSORUnit.identifier.system",
                min=1,
                fixedUri=canon.SOR,
            ),
            el(f"{p}.generalPractitioner:referencedSORUnit.identifier.value", min=1),
            el(f"{p}.managingOrganization", type=ref(canon.DK_ORGANIZATION)),
            el(f"{p}.link.other", type=ref(canon.DK_PATIENT, canon.DK_RELATED_PERSON)),
        ],
    )


def related_person() -> Json:
    r = "RelatedPerson"
    return profile(
        DK_CORE,
        "dk-core-related-person",
        r,
        "DkCoreRelatedPerson",
        "Danish Core Related Person",
        "A relative or other person related to a Danish patient (parent, spouse, proxy), "
        "identified like a patient. Written from HL7 Denmark's dk-core 3.7.0.",
        [
            el(f"{r}.identifier", slicing=slicing("system"), constraint=PERSON_RULES),
            *person_identifier_slices(f"{r}.identifier"),
            el(f"{r}.patient", type=ref(canon.DK_PATIENT)),
            el(
                f"{r}.relationship",
                binding=binding(
                    "extensible", RELATIONSHIP_VS, "Danish related-person relationship types"
                ),
            ),
            *_official_name(f"{r}.name"),
        ],
    )


def practitioner() -> Json:
    q = "Practitioner.qualification"
    slice_ = f"{q}:officialHealthAuthorization"
    return profile(
        DK_CORE,
        "dk-core-practitioner",
        "Practitioner",
        "DkCorePractitioner",
        "Danish Core Practitioner",
        "A health professional or other actor in a citizen's course. Authorised health "
        "professionals carry their authorisation id and profession group from the Danish "
        "authorisation register. Written from HL7 Denmark's dk-core 3.7.0.",
        [
            el(
                "Practitioner.identifier",
                constraint=[authorisation_rule("dk-core-authorization-2")],
            ),
            el(
                q,
                slicing=slicing(
                    "identifier.system",
                    description="Official authorisations are told apart by the "
                    "identifier system of the authorisation register",
                ),
                constraint=[on_child(authorisation_rule("dk-core-authorization-1"), "identifier")],
            ),
            slice_entry(slice_, 0, "*", "Authorisation from the Danish authorisation register"),
            el(f"{slice_}.identifier", min=1),
            el(f"{slice_}.identifier.system", min=1, fixedUri=canon.AUTHORISATION),
            el(f"{slice_}.identifier.value", min=1, maxLength=5),
            el(
                f"{slice_}.code",
                short="Profession group as registered in the authorisation register",
                binding=binding(
                    "extensible", PROFESSION_VS, "Danish authorised health profession groups"
                ),
            ),
        ],
    )


def practitioner_role() -> Json:
    r = "PractitionerRole"
    return profile(
        DK_CORE,
        "dk-core-practitioner-role",
        r,
        "DkCorePractitionerRole",
        "Danish Core PractitionerRole",
        "The role a Danish practitioner holds in an organisation (e.g. a nurse in the home "
        "nursing service of a municipality). Written from HL7 Denmark's dk-core 3.7.0.",
        [
            el(f"{r}.practitioner", type=ref(canon.DK_PRACTITIONER)),
            el(f"{r}.organization", type=ref(canon.DK_ORGANIZATION)),
        ],
    )


def all_resources() -> list[Json]:
    return [patient(), related_person(), practitioner(), practitioner_role()]
