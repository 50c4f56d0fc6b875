"""dk-core terminology the dk-core profiles bind to, written from dk-core 3.7.0's published lists.

Canonical URLs and ids are dk-core's own so that data coded against the national IG validates
here; the concept lists are facts (municipality codes, the authorisation register's profession
groups, HL7 v3 codes) with our own descriptions.
"""

from __future__ import annotations

from profiles.src import canon
from profiles.src.dsl import (
    DK_CORE,
    Json,
    code_system,
    concept,
    expansion_of,
    include_concepts,
    include_system,
    value_set,
)
from profiles.src.municipalities import CHRISTIANSOE, GREENLAND, MUNICIPALITIES, REGIONS

GREENLAND_CS = canon.dk_cs("dk-core-municipality-codes-greenland")
MUNICIPALITY_VS = canon.dk_vs("dk-core-MunicipalityCodes")
REGION_VS = canon.dk_vs("dk-core-RegionalSubDivisionCodes")
PROFESSION_CS = canon.dk_cs("DkCoreProfessionGroupCodes")
PROFESSION_VS = canon.dk_vs("DkCoreProfessionGroupValueSet")
D_ECPR_CS = canon.dk_cs("dk-core-d-ecpr-codes")
D_ECPR_VS = canon.dk_vs("DkCoreDeCPRValueSet")
PRIORITY_VS = canon.dk_vs("dk-core-priority-codes")
ENCOUNTER_PRIORITY_VS = canon.dk_vs("dk-core-encounter-priority")
MARITAL_CS = canon.dk_cs("dk-marital-status")
MARITAL_VS = canon.dk_vs("dk-marital-status")
RELATIONSHIP_CS = canon.dk_cs("dk-relatedperson-relationshipcodes")
RELATIONSHIP_VS = canon.dk_vs("dk-core-RelatedPersonRelationshipTypes")
CONTACT_RELATIONSHIP_VS = canon.dk_vs("extended-patient-contactrelationship")

# The authorisation register's profession groups (Styrelsen for Patientsikkerhed,
# Autorisationsregisteret; the professions of autorisationsloven, LBK 2019/731). Codes as the
# register issues them; dk-core splits the register's shared 5176 into 5176a/5176b.
PROFESSION_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("4498", "Optiker", "Optician"),
    ("5151", "Fysioterapeut", "Physiotherapist"),
    ("5152", "Social- og sundhedsassistent", "Social and healthcare assistant"),
    ("5153", "Ergoterapeut", "Occupational therapist"),
    ("5155", "Fodterapeut", "Podiatrist"),
    ("5158", "Radiograf", "Radiographer"),
    ("5159", "Bioanalytiker", "Biomedical laboratory scientist"),
    ("5166", "Sygeplejerske", "Nurse"),
    ("5175", "Jordemoder", "Midwife"),
    ("5176a", "Kontaktlinseoptiker", "Contact lens optician"),
    ("5176b", "Optometrist", "Optometrist"),
    ("5265", "Kiropraktor", "Chiropractor"),
    ("5431", "Tandplejer", "Dental hygienist"),
    ("5432", "Klinisk tandtekniker", "Clinical dental technician"),
    ("5433", "Tandlæge", "Dentist"),
    ("5451", "Klinisk diætist", "Clinical dietitian"),
    ("7170", "Læge", "Physician"),
    ("9495", "Bandagist", "Orthotist and prosthetist"),
    ("A511", "Osteopat", "Osteopath"),
    ("B511", "Behandlerfarmaceut", "Clinical pharmacist (treating)"),
    ("C511", "Ambulancebehandler", "Ambulance paramedic"),
)

RELATIONSHIP_ROLES: tuple[tuple[str, str], ...] = (
    ("FAMMEMB", "family member"),
    ("CHILD", "child"),
    ("DAUC", "daughter"),
    ("SONC", "son"),
    ("GRNDCHILD", "grandchild"),
    ("GRPRN", "grandparent"),
    ("CHLDINLAW", "child-in-law"),
    ("PRN", "parent"),
    ("FTH", "father"),
    ("MTH", "mother"),
    ("SIB", "sibling"),
    ("DOMPART", "domestic partner"),
    ("SPS", "spouse"),
    ("FRND", "unrelated friend"),
    ("NBOR", "neighbor"),
    ("ROOM", "Roommate"),
    ("GUARD", "guardian"),
    ("NOK", "next of kin"),
    ("POWATT", "power of attorney"),
    ("ECON", "emergency contact"),
)


def _municipality_concept(code: str, name: str, region: str) -> Json:
    out = concept(code, name)
    out["property"] = [{"code": "region", "valueCode": region}]
    return out


def municipalities() -> list[Json]:
    rows = sorted((*MUNICIPALITIES, CHRISTIANSOE))
    concepts = [_municipality_concept(*row) for row in rows]
    christiansoe = next(c for c in concepts if c["code"] == CHRISTIANSOE[0])
    christiansoe["definition"] = (
        "Christiansø: not a municipality (administered by the state) but carries its own "
        "municipality code in CPR and the address register."
    )
    cs = code_system(
        DK_CORE,
        "dk-core-municipality-codes",
        "DkCoreMunicipalityCodes",
        "Danish municipality codes",
        "The four-digit codes of Denmark's 98 municipalities (kommunekoder) as used in CPR and "
        "the Danish address register, plus 0411 Christiansø. Each code carries the ISO 3166-2 "
        "code of the region the municipality lies in.",
        concepts,
        properties=[
            {
                "code": "region",
                "description": "ISO 3166-2 code of the region the municipality lies in "
                "(DK-81..DK-85)",
                "type": "code",
            }
        ],
    )
    greenland = code_system(
        DK_CORE,
        "dk-core-municipality-codes-greenland",
        "DkCoreMunicipalityCodesGreenland",
        "Greenland municipality codes",
        "The municipality codes of Greenland's five municipalities (since 2018), which CPR uses "
        "for residents of Greenland.",
        [concept(code, name) for code, name in GREENLAND],
    )
    vs = value_set(
        DK_CORE,
        "dk-core-MunicipalityCodes",
        "DkCoreMunicipalityCodesValueSet",
        "Danish municipality codes",
        "Every municipality code in use in Denmark and Greenland.",
        [include_system(canon.MUNICIPALITY), include_system(GREENLAND_CS)],
    )
    return [cs, greenland, vs]


def regions() -> list[Json]:
    rows = [(code, name) for code, name, _ in REGIONS]
    include = include_concepts(canon.REGION, rows)
    for row, (_, _, english) in zip(include["concept"], REGIONS, strict=True):
        row["designation"] = [{"language": "en", "value": english}]
    expansion = [{"system": canon.REGION, "code": c, "display": d} for c, d in rows]
    return [
        value_set(
            DK_CORE,
            "dk-core-RegionalSubDivisionCodes",
            "DkCoreRegionalSubDivisionCodes",
            "Danish regions",
            "The five Danish regions as ISO 3166-2 subdivision codes.",
            [include],
            expansion=expansion,
        )
    ]


def profession_groups() -> list[Json]:
    concepts = [
        concept(
            code,
            danish,
            definition=f"{english} authorised by the Danish Patient Safety "
            "Authority (autorisationsregisteret)",
        )
        for code, danish, english in PROFESSION_GROUPS
    ]
    cs = code_system(
        DK_CORE,
        "DkCoreProfessionGroupCodes",
        "DkCoreProfessionGroupCodes",
        "Danish authorised health profession groups",
        "The profession groups of the Danish authorisation register: the health professions "
        "whose members hold an authorisation id.",
        concepts,
        value_set=PROFESSION_VS,
        case_sensitive=False,
    )
    vs = value_set(
        DK_CORE,
        "DkCoreProfessionGroupValueSet",
        "DkCoreProfessionGroupValueSet",
        "Danish authorised health profession groups",
        "All profession groups of the Danish authorisation register.",
        [include_system(PROFESSION_CS)],
        expansion=expansion_of(PROFESSION_CS, concepts),
    )
    return [cs, vs]


def d_ecpr_systems() -> list[Json]:
    regions = {
        177: "Sjælland",
        179: "Nordjylland",
        181: "Midtjylland",
        183: "Syddanmark",
        187: "Hovedstaden",
    }
    concepts = [concept(canon.D_ECPR, "D-eCPR", "Decentralt erstatnings-CPR")]
    for number, region in regions.items():
        concepts.append(
            concept(
                f"{canon.D_ECPR}.{number}",
                f"D-eCPR issued in Region {region}",
                f"D-eCPR fra Region {region}",
            )
        )
    cs = code_system(
        DK_CORE,
        "dk-core-d-ecpr-codes",
        "DkCoreDeCprSystems",
        "D-eCPR identifier systems",
        "The identifier systems under which decentralised replacement CPR numbers (D-eCPR) are "
        "issued: the national root and one branch per region.",
        concepts,
        value_set=D_ECPR_VS,
    )
    vs = value_set(
        DK_CORE,
        "DkCoreDeCPRValueSet",
        "DkCoreDeCprSystemsValueSet",
        "D-eCPR identifier systems",
        "Every system a D-eCPR identifier may carry.",
        [include_system(D_ECPR_CS)],
        expansion=expansion_of(D_ECPR_CS, concepts),
    )
    return [cs, vs]


def priorities() -> list[Json]:
    request = [("routine", "Routine"), ("asap", "ASAP")]
    encounter = [("A", "ASAP"), ("EL", "elective")]
    return [
        value_set(
            DK_CORE,
            "dk-core-priority-codes",
            "DkCorePriorityCodes",
            "Danish request priorities",
            "The request priorities used in Denmark: routine or as soon as possible. The R4 codes "
            "urgent and stat have no Danish counterpart and are left out.",
            [include_concepts(canon.REQUEST_PRIORITY, request)],
            expansion=[
                {"system": canon.REQUEST_PRIORITY, "code": c, "display": d} for c, d in request
            ],
        ),
        value_set(
            DK_CORE,
            "dk-core-encounter-priority",
            "DkCoreEncounterPriority",
            "Danish encounter priorities",
            "Acute (ASAP) or planned (elective) encounters.",
            [include_concepts(canon.V3_ACT_PRIORITY, encounter)],
            expansion=[
                {"system": canon.V3_ACT_PRIORITY, "code": c, "display": d} for c, d in encounter
            ],
        ),
    ]


def marital_status() -> list[Json]:
    concepts = [
        concept("P", "Registered partnership", "Registreret partnerskab"),
        concept("O", "Dissolved partnership", "Ophævet partnerskab"),
    ]
    cs = code_system(
        DK_CORE,
        "dk-marital-status",
        "DkMaritalStatus",
        "Danish marital statuses",
        "Marital statuses the Danish CPR register knows beyond the HL7 v3 set: registered "
        "partnership and its dissolution.",
        concepts,
        case_sensitive=False,
    )
    vs = value_set(
        DK_CORE,
        "dk-marital-status",
        "DkMaritalStatusValueSet",
        "Danish marital statuses",
        "The FHIR marital statuses plus the Danish registered-partnership statuses.",
        [
            {"valueSet": ["http://hl7.org/fhir/ValueSet/marital-status"]},
            include_system(canon.dk_cs("dk-marital-status")),
        ],
    )
    return [cs, vs]


def relationships() -> list[Json]:
    concepts = [
        concept(
            "PARAUTH",
            "Parental authority",
            "Forældremyndighedsindehaver",
            "The person holds parental authority over the patient.",
        ),
        concept(
            "PRICARE",
            "Primary caretaker",
            "Primær omsorgsperson",
            "The person is the patient's primary caretaker.",
        ),
        concept(
            "PROCON",
            "Professional contact",
            "Professionel kontakt",
            "A professional who is a contact for the patient.",
        ),
    ]
    cs = code_system(
        DK_CORE,
        "dk-relatedperson-relationshipcodes",
        "DkRelatedPersonRelationshipCodes",
        "Danish related-person relationships",
        "Relationships between a citizen and a related person that Danish care needs and HL7 v3 "
        "lacks.",
        concepts,
        case_sensitive=False,
    )
    v3 = include_concepts(canon.V3_ROLE, list(RELATIONSHIP_ROLES))
    related = value_set(
        DK_CORE,
        "dk-core-RelatedPersonRelationshipTypes",
        "DkCoreRelatedPersonRelationshipTypes",
        "Danish related-person relationship types",
        "Family, household and legal relationships from HL7 v3 RoleCode plus the Danish codes.",
        [v3, include_system(RELATIONSHIP_CS)],
        expansion=[
            {"system": canon.V3_ROLE, "code": c, "display": d} for c, d in RELATIONSHIP_ROLES
        ]
        + expansion_of(RELATIONSHIP_CS, concepts),
    )
    contact = value_set(
        DK_CORE,
        "extended-patient-contactrelationship",
        "DkExtendedPatientContactRelationship",
        "Danish patient contact relationships",
        "The FHIR patient contact relationships extended with the Danish related-person types.",
        [
            {"valueSet": ["http://hl7.org/fhir/ValueSet/patient-contactrelationship"]},
            {"valueSet": [RELATIONSHIP_VS]},
        ],
    )
    return [cs, related, contact]


def all_resources() -> list[Json]:
    return [
        *municipalities(),
        *regions(),
        *profession_groups(),
        *d_ecpr_systems(),
        *priorities(),
        *marital_status(),
        *relationships(),
    ]
