"""This project's code systems and value sets, and the MedCom code list the mappings use.

The project codes name what the regional planning documents ask for (DOMAIN.md §1-§3, §6): plan
kinds for the scenarios, the roles a shared care team must make visible, how a medication line
changed, and the Danish legal basis of a consent. Danish designations are the words the documents
use.
"""

from __future__ import annotations

from profiles.src import canon
from profiles.src.dsl import (
    FF,
    MEDCOM,
    Json,
    code_system,
    concept,
    expansion_of,
    include_system,
    value_set,
)

CAREPLAN_CATEGORY_CS = canon.ff_cs("ff-careplan-category")
CAREPLAN_CATEGORY_VS = canon.ff_vs("ff-careplan-category")
CARETEAM_ROLE_CS = canon.ff_cs("ff-careteam-role")
CARETEAM_ROLE_VS = canon.ff_vs("ff-careteam-role")
MEDICATION_CHANGE_CS = canon.ff_cs("ff-medication-change-type")
MEDICATION_CHANGE_VS = canon.ff_vs("ff-medication-change-type")
CONSENT_POLICY_CS = canon.ff_cs("ff-consent-policy")
CONSENT_POLICY_VS = canon.ff_vs("ff-consent-policy")
CARECOMMUNICATION_CATEGORY_CS = (
    f"{canon.MEDCOM_TERMINOLOGY}/CodeSystem/medcom-careCommunication-categoryCodes"
)
CARECOMMUNICATION_CATEGORY_VS = (
    f"{canon.MEDCOM_TERMINOLOGY}/ValueSet/medcom-careCommunication-categories"
)

CAREPLAN_CATEGORIES: list[Json] = [
    concept(
        "cross-sector-course",
        "Cross-sector shared course",
        "Fælles forløb på tværs af sektorer",
        "One shared, binding plan for a citizen treated by region, municipality and general "
        'practice at the same time ("Én borger - ét fælles forløb").',
    ),
    concept(
        "child-youth-psychiatry",
        "Shared action plan in child and youth psychiatry",
        "Fælles handleplan i børne- og ungdomspsykiatrien",
        "Plan spanning child and youth psychiatry, PPR, family services, the GP and the parents.",
    ),
    concept(
        "severe-mental-illness",
        "Shared course for an adult with severe mental illness",
        "Fælles forløb ved svær psykisk lidelse",
        "Plan for an adult with severe mental illness with a coordinator the citizen chose.",
    ),
    concept(
        "discharge-follow-up",
        "Follow-up after discharge",
        "Opfølgning efter udskrivelse",
        "Follow-up at home after a hospital stay (visit by GP and home nurse, medication changes).",
    ),
    concept(
        "iv-treatment-at-home",
        "IV treatment at home",
        "Intravenøs behandling i eget hjem",
        "Intravenous treatment given at home by municipal nurses while the hospital keeps "
        "the medical responsibility.",
    ),
    concept(
        "preventive-sick-visit",
        "Preventive sick visit",
        "Forebyggende sygebesøg",
        "GP visit requested by the municipality to prevent an admission.",
    ),
    concept(
        "acute-function",
        "Course in the municipal acute function",
        "Forløb i kommunal akutfunktion",
        "Course in the municipality's acute function after a referral from the GP or hospital.",
    ),
    concept(
        "chronic-multimorbidity",
        "Course for a citizen with several chronic diseases",
        "Forløb for borger med flere kroniske sygdomme",
        "Coordinated course for an elderly or chronically ill citizen with several diseases.",
    ),
]

CARETEAM_ROLES: list[Json] = [
    concept(
        "coordinator",
        "Coordinator",
        "Tovholder",
        "Coordinates the citizen's course and is the citizen's first point of contact; "
        "chosen together with the citizen.",
    ),
    concept(
        "patient-responsible-doctor",
        "Patient-responsible doctor",
        "Behandlingsansvarlig læge",
        "Holds the medical responsibility for the treatment, including the total medication.",
    ),
    concept(
        "general-practitioner",
        "General practitioner",
        "Praktiserende læge",
        "The citizen's own GP (listed doctor).",
    ),
    concept(
        "contact-person",
        "Contact person",
        "Kontaktperson",
        "A professional named as the citizen's contact in one unit or sector.",
    ),
    concept(
        "relative",
        "Relative",
        "Pårørende",
        "A relative or other close person taking part to the extent the citizen wishes, "
        "including parents of minors and proxies.",
    ),
    concept(
        "member",
        "Team member",
        "Deltager",
        "Any other professional or party with tasks in the course.",
    ),
]

MEDICATION_CHANGES: list[Json] = [
    concept("new", "New", "Ny", "The drug was started."),
    concept("changed", "Changed", "Ændret", "Dose, form, route or schedule was changed."),
    concept("paused", "Paused", "Pauseret", "The drug is paused and expected to be resumed."),
    concept("discontinued", "Discontinued", "Seponeret", "The drug was stopped for good."),
    concept("unchanged", "Unchanged", "Uændret", "The drug continues as before."),
]

CONSENT_POLICIES: list[Json] = [
    concept(
        "block",
        "Block (negative consent)",
        "Spærring",
        "The citizen blocks health professionals' look-up of own health data for named "
        "clinicians, treatment sites, data periods or data categories (sundhedsloven "
        '§42a; the national consent service "Min Spærring"). The top provision denies.',
    ),
    concept(
        "treatment-permit",
        "Consent to look-up for treatment",
        "Samtykke til indhentning i behandlingsøjemed",
        "The citizen explicitly lets a named health actor look up data for the current "
        "treatment, overriding a block for that actor (sundhedsloven §42a). The top "
        "provision permits.",
    ),
    concept(
        "disclosure-permit",
        "Consent to disclosure to non-health parties",
        "Samtykke til videregivelse til andre formål",
        "The citizen (or parents) lets named non-health parties such as social services, "
        "PPR, school or job centre see data for a stated period of at most one year "
        "(sundhedsloven §43). The top provision permits.",
    ),
]

# MedCom CareCommunication categories (dk-medcom-terminology 1.9.0): code, English, Danish.
CARECOMMUNICATION_CATEGORIES: list[tuple[str, str, str]] = [
    ("alcohol-and-drug-treatment", "Alcohol and drug treatment", "Rusmiddelbehandling"),
    ("assistive-devices", "Assistive technology", "Hjælpemidler"),
    ("carecoordination", "Care Coordination", "Forløbskoordinering"),
    ("decease", "Decease", "Dødsfald"),
    ("discharge", "Discharge", "Udskrivelse"),
    ("examination-results", "Examination Results", "Undersøgelsessvar"),
    ("healthcare", "Healthcare", "Sundhedspleje"),
    ("home-care-assessment", "Home care assessment", "Visitation"),
    ("medicine", "Medicine", "Medicin"),
    ("nursing", "Nursing", "Sygepleje"),
    ("outpatient", "Outpatient", "Ambulant"),
    (
        "psychiatry-social-disability",
        "Psychiatry, Social, Disability",
        "Psykiatri, social, handicap",
    ),
    ("regarding-referral", "Regarding Referral", "Vedr. henvisning"),
    ("telemedicine", "Telemedicine", "Telemedicin"),
    ("training", "Training", "Træning"),
    ("acute-ambulant", "Acute ambulant", "Akut ambulant"),
    ("extended-care-responsibility", "Extended care responsibility", "Udvidet behandlingsansvar"),
    ("other", "Other", "Andet"),
]


def _pair(
    id_: str, name: str, title: str, cs_desc: str, vs_desc: str, concepts: list[Json]
) -> list[Json]:
    cs_url = canon.ff_cs(id_)
    cs = code_system(FF, id_, name, title, cs_desc, concepts, value_set=canon.ff_vs(id_))
    vs = value_set(
        FF,
        id_,
        f"{name}ValueSet",
        title,
        vs_desc,
        [include_system(cs_url)],
        expansion=expansion_of(cs_url, concepts),
    )
    return [cs, vs]


def project_terminology() -> list[Json]:
    return [
        *_pair(
            "ff-careplan-category",
            "FfCarePlanCategory",
            "Shared care plan categories",
            "Kinds of shared cross-sector care plans, one per course type the regional "
            "planning documents describe.",
            "Every shared care plan category.",
            CAREPLAN_CATEGORIES,
        ),
        *_pair(
            "ff-careteam-role",
            "FfCareTeamRole",
            "Care team participant roles",
            "Roles a participant holds in a citizen's shared care team, so it is always "
            "clear who coordinates, who holds the medical responsibility and which relatives "
            "take part.",
            "Every care team participant role.",
            CARETEAM_ROLES,
        ),
        *_pair(
            "ff-medication-change-type",
            "FfMedicationChangeType",
            "Medication change types",
            "How a line of the medication list changed at a transition (e.g. discharge), as "
            "shown on the shared medication card.",
            "Every medication change type.",
            MEDICATION_CHANGES,
        ),
        *_pair(
            "ff-consent-policy",
            "FfConsentPolicy",
            "Danish consent policies",
            "The Danish legal basis a Consent rests on: a block, a permit for treatment "
            "look-up, or a permit to disclose to non-health parties.",
            "Every Danish consent policy.",
            CONSENT_POLICIES,
        ),
    ]


def medcom_terminology() -> list[Json]:
    concepts = [concept(code, en, da) for code, en, da in CARECOMMUNICATION_CATEGORIES]
    cs = code_system(
        MEDCOM,
        "medcom-careCommunication-categoryCodes",
        "MedComCareCommunicationCategoryCodes",
        "MedCom CareCommunication categories",
        "The category of a MedCom CareCommunication message (mirrors MedCom's code list "
        "version 1.9.0). A priority may only accompany regarding-referral; the category other "
        "needs a topic text.",
        concepts,
        value_set=CARECOMMUNICATION_CATEGORY_VS,
        case_sensitive=False,
    )
    vs = value_set(
        MEDCOM,
        "medcom-careCommunication-categories",
        "MedComCareCommunicationCategories",
        "MedCom CareCommunication categories",
        "Every MedCom CareCommunication category.",
        [include_system(CARECOMMUNICATION_CATEGORY_CS)],
        expansion=expansion_of(CARECOMMUNICATION_CATEGORY_CS, concepts),
    )
    return [cs, vs]


def all_resources() -> list[Json]:
    return [*project_terminology(), *medcom_terminology()]
