"""The one fixed data set every search test runs against, created with fixed ids via PUT.

Danish-flavoured on purpose: CPR (``urn:oid:1.2.208.176.1.2``) and SOR (``urn:oid:1.2.208.176.1.1``)
identifiers, names with æ, ø and å (letters of their own in Danish) next to accented names
(José), ATC codes, UCUM quantities. Each test file asserts exact ids against this set, so a change
here means re-checking the expectations that mention the changed resource.

Overview (ids sort in this order; search results are ordered by id):

Patients
  p1  Søren Ærø            male    1950-03-15      active   deceased false  København Ø 2100
  p2  Åse Østergård        female  1962-07         active   died 2020-05-01  Aarhus C 8000
  p3  José Hansen          male    1985            inactive                 Odense C 5000
  p4  Soren Aksel Olsen    male    1950-03-16               deceased true
  p5  Anne-Mette Møller    female  2001-12-31                               København K 1050
  p6  Ukendt               (nothing else)
"""

from __future__ import annotations

from typing import Any

CPR = "urn:oid:1.2.208.176.1.2"
SOR = "urn:oid:1.2.208.176.1.1"
AUTH = "https://autregweb.sst.dk"  # Danish authorization ids of health professionals
MRN = "http://rh.dk/mrn"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ATC = "http://www.whocc.no/atc"
UCUM = "http://unitsofmeasure.org"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DK_PATIENT = "http://hl7.dk/fhir/core/StructureDefinition/dk-core-patient"
DK_CORE = "http://hl7.dk/fhir/core/StructureDefinition/"
SOURCE_A = "http://sundhed.dk/fhir/system-a"
TAG = "http://example.dk/tags"


def _quantity(value: float, code: str, unit: str | None = None) -> dict[str, Any]:
    return {"value": value, "unit": unit or code, "system": UCUM, "code": code}


PATIENTS: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"profile": [DK_PATIENT], "source": f"{SOURCE_A}#req-1"},
        "identifier": [{"system": CPR, "value": "1503501234"}],
        "active": True,
        "name": [{"use": "official", "family": "Ærø", "given": ["Søren"]}],
        "telecom": [
            {"system": "phone", "value": "+4512345678", "use": "mobile"},
            {"system": "email", "value": "soren@example.dk"},
        ],
        "gender": "male",
        "birthDate": "1950-03-15",
        "deceasedBoolean": False,
        "address": [
            {"line": ["Østerbrogade 1"], "city": "København Ø", "postalCode": "2100"},
        ],
        "generalPractitioner": [{"reference": "Practitioner/pr1"}],
        "managingOrganization": {"reference": "Organization/o1"},
    },
    {
        "resourceType": "Patient",
        "id": "p2",
        "meta": {
            "profile": [DK_PATIENT],
            "tag": [{"system": TAG, "code": "test", "display": "Testdata"}],
        },
        "identifier": [{"system": CPR, "value": "0107621234"}],
        "active": True,
        "name": [{"family": "Østergård", "given": ["Åse"]}],
        "telecom": [{"system": "email", "value": "aase@example.dk"}],
        "gender": "female",
        "birthDate": "1962-07",
        "deceasedDateTime": "2020-05-01T10:00:00+02:00",
        "address": [{"city": "Aarhus C", "postalCode": "8000", "country": "DK"}],
        "managingOrganization": {"reference": "Organization/o2"},
    },
    {
        "resourceType": "Patient",
        "id": "p3",
        "meta": {"profile": [f"{DK_PATIENT}|3.0.0"], "source": "http://sundhed.dk/fhir/system-b"},
        "identifier": [
            {"system": CPR, "value": "0101851234"},
            {
                "type": {"coding": [{"system": V2_0203, "code": "MR"}], "text": "Journalnummer"},
                "system": MRN,
                "value": "4711",
            },
        ],
        "active": False,
        "name": [{"family": "Hansen", "given": ["José"]}],
        "telecom": [{"system": "phone", "value": "+4587654321"}],
        "gender": "male",
        "birthDate": "1985",
        "address": [{"city": "Odense C", "postalCode": "5000"}],
        "generalPractitioner": [{"reference": "Organization/o3"}],
    },
    {
        "resourceType": "Patient",
        "id": "p4",
        "identifier": [{"value": "1603501234"}],
        "name": [{"family": "Olsen", "given": ["Soren", "Aksel"]}],
        "gender": "male",
        "birthDate": "1950-03-16",
        "deceasedBoolean": True,
    },
    {
        "resourceType": "Patient",
        "id": "p5",
        "identifier": [{"system": CPR, "value": "3112011234"}],
        "name": [{"family": "Møller", "given": ["Anne-Mette"]}],
        "gender": "female",
        "birthDate": "2001-12-31",
        "address": [
            {"line": ["Vestergade 5, 2. th"], "city": "København K", "postalCode": "1050"},
        ],
    },
    {"resourceType": "Patient", "id": "p6", "name": [{"text": "Ukendt"}]},
]

ORGANIZATIONS: list[dict[str, Any]] = [
    {
        "resourceType": "Organization",
        "id": "o1",
        "identifier": [{"system": SOR, "value": "1301011000016007"}],
        "active": True,
        "name": "Rigshospitalet",
        "alias": ["RH"],
        "address": [{"city": "København Ø", "postalCode": "2100"}],
    },
    {
        "resourceType": "Organization",
        "id": "o2",
        "identifier": [{"system": SOR, "value": "6621000016003"}],
        "active": True,
        "type": [{"coding": [{"system": SCT, "code": "22232009", "display": "Hospital"}]}],
        "name": "Aarhus Universitetshospital",
    },
    {
        "resourceType": "Organization",
        "id": "o3",
        "identifier": [{"system": "http://example.dk/lokal", "value": "LH,ØST"}],
        "active": False,
        "name": "Lægehuset Østergade",
    },
]

PRACTITIONERS: list[dict[str, Any]] = [
    {
        "resourceType": "Practitioner",
        "id": "pr1",
        "identifier": [{"system": AUTH, "value": "ABC12"}],
        "active": True,
        "name": [{"family": "Jensen", "given": ["Lars"]}],
        "gender": "male",
    },
    {
        "resourceType": "Practitioner",
        "id": "pr2",
        "active": True,
        "name": [{"family": "Nørgaard", "given": ["Ida"]}],
        "telecom": [{"system": "email", "value": "ida@example.dk"}],
        "gender": "female",
    },
]

PRACTITIONER_ROLES: list[dict[str, Any]] = [
    {
        "resourceType": "PractitionerRole",
        "id": "prr1",
        "practitioner": {"reference": "Practitioner/pr1"},
        "organization": {"reference": "Organization/o1"},
    },
]

OUTPATIENT = {"system": SCT, "code": "736271009", "display": "Outpatient care plan"}
HOME_CARE = {"system": SCT, "code": "736368003", "display": "Home care plan"}

CAREPLANS: list[dict[str, Any]] = [
    {  # a closed period in the first half of 2024
        "resourceType": "CarePlan",
        "id": "cp1",
        "status": "active",
        "intent": "plan",
        "category": [{"coding": [OUTPATIENT], "text": "Ambulant forløb"}],
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2024-01-01", "end": "2024-06-30"},
    },
    {  # a closed period, March 2023
        "resourceType": "CarePlan",
        "id": "cp2",
        "status": "completed",
        "intent": "order",
        "category": [{"coding": [HOME_CARE]}],
        "subject": {"reference": "Patient/p2"},
        "period": {"start": "2023-03-01T08:00:00+01:00", "end": "2023-03-31T16:00:00+02:00"},
    },
    {  # open-ended: started May 2024
        "resourceType": "CarePlan",
        "id": "cp3",
        "status": "active",
        "intent": "proposal",
        "category": [{"coding": [OUTPATIENT, HOME_CARE]}],
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2024-05-01"},
    },
    {  # open start: ended 2022
        "resourceType": "CarePlan",
        "id": "cp4",
        "status": "draft",
        "intent": "plan",
        "subject": {"reference": "Patient/p3"},
        "period": {"end": "2022-12-31"},
    },
    {  # a Group subject, no period
        "resourceType": "CarePlan",
        "id": "cp5",
        "status": "revoked",
        "intent": "plan",
        "subject": {"reference": "Group/g1"},
    },
]

SERVICE_REQUESTS: list[dict[str, Any]] = [
    {
        "resourceType": "ServiceRequest",
        "id": "sr1",
        "status": "active",
        "intent": "order",
        "priority": "routine",
        "code": {"coding": [{"system": SCT, "code": "73761001", "display": "Colonoscopy"}]},
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2024-02-10T09:30:00+01:00",
        "requester": {"reference": "PractitionerRole/prr1"},
        "performer": [{"reference": "Organization/o1"}],
    },
    {
        "resourceType": "ServiceRequest",
        "id": "sr2",
        "status": "active",
        "intent": "order",
        "priority": "asap",
        "subject": {"reference": "Patient/p2"},
        "authoredOn": "2024-02-10",
        "requester": {"reference": "Practitioner/pr2"},
        "performer": [{"reference": "Organization/o2"}, {"reference": "Practitioner/pr1"}],
    },
    {
        "resourceType": "ServiceRequest",
        "id": "sr3",
        "status": "completed",
        "intent": "order",
        "subject": {"reference": "Patient/p3"},
        "authoredOn": "2023-11-30T23:30:00Z",
        "requester": {"identifier": {"system": AUTH, "value": "XYZ99"}, "display": "Vikar"},
        "performer": [{"reference": "http://testserver/fhir/Organization/o1"}],
    },
]

MEDICATION_STATEMENTS: list[dict[str, Any]] = [
    {
        "resourceType": "MedicationStatement",
        "id": "ms1",
        "status": "active",
        "medicationCodeableConcept": {
            "coding": [{"system": ATC, "code": "N02BE01", "display": "Paracetamol"}]
        },
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-03-01T08:00:00Z",
    },
    {
        "resourceType": "MedicationStatement",
        "id": "ms2",
        "status": "completed",
        "medicationCodeableConcept": {
            "coding": [{"system": ATC, "code": "B01AC06", "display": "Acetylsalicylsyre"}],
            "text": "Hjertemagnyl",
        },
        "subject": {"reference": "Patient/p2"},
        "effectivePeriod": {"start": "2023-01-01", "end": "2023-12-31"},
    },
    {
        "resourceType": "MedicationStatement",
        "id": "ms3",
        "status": "active",
        "medicationCodeableConcept": {
            "coding": [{"system": ATC, "code": "C09AA05", "display": "Ramipril"}]
        },
        "subject": {"reference": "Patient/p1"},
        "effectivePeriod": {"start": "2024-01-15"},
    },
    {
        "resourceType": "MedicationStatement",
        "id": "ms4",
        "status": "stopped",
        "medicationCodeableConcept": {"text": "Ukendt naturmedicin"},
        "subject": {"reference": "Patient/p3"},
        "effectiveDateTime": "2022",
    },
]

GLUCOSE = {"coding": [{"system": LOINC, "code": "15074-8", "display": "Glucose"}]}

OBSERVATIONS: list[dict[str, Any]] = [
    {
        "resourceType": "Observation",
        "id": "obs1",
        "status": "final",
        "code": GLUCOSE,
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-03-01T10:00:00+01:00",
        "valueQuantity": _quantity(5.4, "mmol/L"),
    },
    {
        "resourceType": "Observation",
        "id": "obs2",
        "status": "final",
        "code": GLUCOSE,
        "subject": {"reference": "Patient/p1"},
        "valueQuantity": _quantity(5.35, "mmol/L"),
    },
    {
        "resourceType": "Observation",
        "id": "obs3",
        "status": "final",
        "code": GLUCOSE,
        "subject": {"reference": "Patient/p2"},
        "valueQuantity": _quantity(5.45, "mmol/L"),
    },
    {  # blood pressure: components only
        "resourceType": "Observation",
        "id": "obs4",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure"}]},
        "subject": {"reference": "Patient/p2"},
        "component": [
            {
                "code": {
                    "coding": [
                        {"system": LOINC, "code": "8480-6"},
                        {"system": SCT, "code": "271649006", "display": "Systolic"},
                    ]
                },
                "valueQuantity": _quantity(120, "mm[Hg]"),
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": _quantity(80, "mm[Hg]"),
            },
        ],
    },
    {
        "resourceType": "Observation",
        "id": "obs5",
        "status": "amended",
        "code": {"coding": [{"system": LOINC, "code": "29463-7", "display": "Body weight"}]},
        "subject": {"reference": "Patient/p3"},
        "valueQuantity": _quantity(80, "kg"),
    },
    {
        "resourceType": "Observation",
        "id": "obs6",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "48767-8"}], "text": "Notat"},
        "subject": {"reference": "Patient/p1"},
        "valueString": "Patienten har det godt, spiser æbler",
    },
    {
        "resourceType": "Observation",
        "id": "obs7",
        "status": "preliminary",
        "code": {"coding": [{"system": LOINC, "code": "94500-6"}]},
        "subject": {"reference": "Patient/p3"},
        "valueCodeableConcept": {
            "coding": [{"system": SCT, "code": "260385009", "display": "Negative"}],
            "text": "Negativ",
        },
    },
    {  # a quantity with a unit but neither system nor code, and no subject
        "resourceType": "Observation",
        "id": "obs8",
        "status": "final",
        "code": GLUCOSE,
        "valueQuantity": {"value": 5.4, "unit": "mmol/l"},
    },
    {  # a dateTime value: first day of the last menstrual period
        "resourceType": "Observation",
        "id": "obs9",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "8665-2"}]},
        "subject": {"reference": "Patient/p5"},
        "valueDateTime": "2024-02-20",
    },
]

ENCOUNTERS: list[dict[str, Any]] = [
    {
        "resourceType": "Encounter",
        "id": "enc1",
        "status": "finished",
        "class": {"system": ACT_CODE, "code": "AMB"},
        "subject": {"reference": "Patient/p1"},
        "participant": [{"individual": {"reference": "Practitioner/pr1"}}],
        "period": {"start": "2024-03-01T09:00:00+01:00", "end": "2024-03-01T10:00:00+01:00"},
        "length": _quantity(60, "min", "minutter"),
        "serviceProvider": {"reference": "Organization/o1"},
    },
    {
        "resourceType": "Encounter",
        "id": "enc2",
        "status": "in-progress",
        "class": {"system": ACT_CODE, "code": "IMP"},
        "subject": {"reference": "Patient/p2"},
        "period": {"start": "2024-04-01"},
        "serviceProvider": {"reference": "Organization/o2"},
    },
]

TASKS: list[dict[str, Any]] = [
    {
        "resourceType": "Task",
        "id": "t1",
        "status": "requested",
        "intent": "order",
        "priority": "routine",
        "focus": {"reference": "ServiceRequest/sr1"},
        "for": {"reference": "Patient/p1"},
        "authoredOn": "2024-02-11T12:00:00+01:00",
        "owner": {"reference": "Organization/o1"},
    },
    {
        "resourceType": "Task",
        "id": "t2",
        "status": "completed",
        "intent": "order",
        "businessStatus": {"text": "Afsluttet"},
        "for": {"reference": "Patient/p2"},
        "authoredOn": "2024-02-12",
        "owner": {"reference": "Practitioner/pr1"},
        "executionPeriod": {
            "start": "2024-02-12T08:00:00+01:00",
            "end": "2024-02-12T09:00:00+01:00",
        },
    },
]

ALL: list[dict[str, Any]] = [
    *PATIENTS,
    *ORGANIZATIONS,
    *PRACTITIONERS,
    *PRACTITIONER_ROLES,
    *CAREPLANS,
    *SERVICE_REQUESTS,
    *MEDICATION_STATEMENTS,
    *OBSERVATIONS,
    *ENCOUNTERS,
    *TASKS,
]
