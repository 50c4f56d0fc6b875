"""The consent suite's world: organizations of every sector with their Danish identifiers,
clinicians with authorisation ids and roles, citizens (adults, children, young people turning 15
today and tomorrow) with parents, the care relationships the data shows, and the citizens'
blocks and permits (profile ff-consent) — and, per principal, exactly what it may see.

Everything is stated here once: `RESOURCES` is what a ``system/*.cruds`` token writes,
`PRINCIPALS` the tokens and their expected views (``Type/id`` over `PATIENT_DATA` types), `CASES`
the leak suite's hidden cases. Dates are relative to today (UTC), so ages and permit periods hold
on any day the suite runs.

Codes the decision must understand (assumptions the integrator must satisfy):
- sector: `auth.identity.sector_of` — region code / SOR / municipality code / ydernummer, and
  ``Organization.type`` v3-RoleCode ``CAPC`` for the child & youth psychiatry unit;
- parent with custody: ``RelatedPerson.relationship`` v3-RoleCode ``MTH``/``FTH`` with
  dk-relatedperson-relationshipcodes ``PARAUTH`` (forældremyndighed), as dataset/ writes it; a
  father without ``PARAUTH`` has no custody;
- private data: ``meta.security`` v3-Confidentiality ``R``; psychiatry: ``meta.security``
  v3-ActCode ``PSY`` (and the provision's ``securityLabel`` naming them);
- a data-period block applies to an Observation by its ``effectiveDateTime`` (search ``date``);
  a Patient resource carries no clinical date and is not hidden by a data-period block;
- a permit for a non-health party or a parent names the types it opens in ``provision.class``
  (``http://hl7.org/fhir/resource-types``), the Patient included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.auth.conftest import mint

Json = dict[str, Any]

TODAY = datetime.now(UTC).date()
TEST_ID = "http://example.org/fhir/ff-test/id"
"""Every patient-data resource has ``identifier`` ``TEST_ID|<its id>`` (conditional ops)."""
SECRET_CODE = "http://example.org/fhir/ff-test/code"
NEVER = "never-was"
"""An id no resource ever had: what a hidden resource must be indistinguishable from."""

SOR = "urn:oid:1.2.208.176.1.1"
REGION = "urn:iso:std:iso:3166:-2"
MUNICIPALITY = "http://hl7.dk/fhir/core/CodeSystem/dk-core-municipality-codes"
YDERNUMMER = "urn:oid:1.2.208.176.1.4"
AUTHORISATION = "https://autregweb.sst.dk"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
DK_RELATION = "http://hl7.dk/fhir/core/CodeSystem/dk-relatedperson-relationshipcodes"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
POLICY = "http://faellesforloeb.dk/fhir/CodeSystem/ff-consent-policy"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"

PATIENT_DATA = (
    "Patient",
    "CarePlan",
    "CareTeam",
    "Observation",
    "MedicationStatement",
    "ServiceRequest",
    "Encounter",
)
"""The types whose visibility every principal's expected view states exactly (Consent,
RelatedPerson and Task are in the world but their visibility is left to the design)."""


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


def years_ago(years: int, extra_days: int = 0) -> str:
    """The birth date of someone who turns ``years`` ``extra_days`` from today (0: today)."""
    anniversary = TODAY + timedelta(days=extra_days)
    try:
        born = anniversary.replace(year=anniversary.year - years)
    except ValueError:  # 29 February
        born = date(anniversary.year - years, 3, 1)
    return born.isoformat()


def ref(target: str) -> Json:
    return {"reference": target}


def _ids(id_: str) -> list[Json]:
    return [{"system": TEST_ID, "value": id_}]


# --- organizations, practitioners, roles ------------------------------------------------------


def org(
    id_: str,
    name: str,
    *identifiers: tuple[str, str],
    part_of: str | None = None,
    psychiatry: bool = False,
) -> Json:
    out: Json = {
        "resourceType": "Organization",
        "id": id_,
        "active": True,
        "name": name,
        "identifier": [{"system": s, "value": v} for s, v in identifiers],
    }
    if part_of:
        out["partOf"] = ref(f"Organization/{part_of}")
    if psychiatry:
        out["type"] = [{"coding": [{"system": ROLE_CODE, "code": "CAPC"}]}]
    return out


ORGS = [
    org("reg-h", "Rigshospitalet", (REGION, "DK-84"), (SOR, "10000000001")),
    org("reg-ward", "Rigshospitalet, medicinsk afsnit", (SOR, "10000000002"), part_of="reg-h"),
    org("reg-other", "Herlev Hospital", (REGION, "DK-84"), (SOR, "10000000003")),
    org(
        "reg-psych",
        "Børne- og Ungdomspsykiatrien",
        (REGION, "DK-84"),
        (SOR, "10000000004"),
        psychiatry=True,
    ),
    org("kom-home", "Hjemmesygeplejen", (MUNICIPALITY, "0101"), (SOR, "10000000005")),
    org("kom-rehab", "Genoptræningscenter", (MUNICIPALITY, "0101"), (SOR, "10000000006")),
    org("kom-ppr", "PPR København", (MUNICIPALITY, "0101")),
    org("gp-clinic", "Lægehuset", (YDERNUMMER, "012345"), (SOR, "10000000007")),
    org("sem-hosp", "Hvidovre Hospital", (REGION, "DK-84"), (SOR, "10000000008")),
    org("sem-ward", "Hvidovre, afsnit 1", (SOR, "10000000009"), part_of="sem-hosp"),
]

STAFF = [  # (practitioner id, authorisation id or None, role id, organization id)
    ("gp-doc", "GPD01", "gp-role", "gp-clinic"),
    ("ward-doc", "WRD01", "ward-role", "reg-ward"),
    ("ward-doc2", "WRD02", "ward-role2", "reg-ward"),
    ("other-doc", "THR01", "other-role", "reg-other"),
    ("other-doc2", "THR02", "other-role2", "reg-other"),
    ("nurse", "NRS01", "nurse-role", "kom-home"),
    ("psych-doc", "PSC01", "psych-role", "reg-psych"),
    ("ppr-worker", None, "ppr-role", "kom-ppr"),
    ("rehab-doc", "RHB01", "rehab-role", "kom-rehab"),
    ("sem-doc", "SMD01", "sem-role", "sem-ward"),
    ("sem-boss", "SMB01", "boss-role", "sem-hosp"),
]


def _staff() -> list[Json]:
    out: list[Json] = []
    for pid, authorisation, role, org_id in STAFF:
        practitioner: Json = {
            "resourceType": "Practitioner",
            "id": pid,
            "active": True,
            "name": [{"family": pid}],
        }
        if authorisation:
            practitioner["identifier"] = [{"system": AUTHORISATION, "value": authorisation}]
        out.append(practitioner)
        out.append(
            {
                "resourceType": "PractitionerRole",
                "id": role,
                "active": True,
                "practitioner": ref(f"Practitioner/{pid}"),
                "organization": ref(f"Organization/{org_id}"),
            }
        )
    return out


# --- citizens and their data ------------------------------------------------------------------


def patient(id_: str, born: str, gp: str | None = None) -> Json:
    out: Json = {
        "resourceType": "Patient",
        "id": id_,
        "identifier": _ids(id_),
        "name": [{"family": f"Borger-{id_}", "given": [id_.capitalize()]}],
        "birthDate": born,
    }
    if gp:
        out["generalPractitioner"] = [ref(gp)]
    return out


def subject(pid: str) -> Json:
    return ref(f"Patient/{pid}")


def observation(
    id_: str,
    pid: str,
    effective: str = "2024-01-10",
    security: Json | None = None,
    derived_from: str | None = None,
    code: str = "pulse",
) -> Json:
    out: Json = {
        "resourceType": "Observation",
        "id": id_,
        "identifier": _ids(id_),
        "status": "final",
        "code": {"coding": [{"system": SECRET_CODE, "code": code}]},
        "subject": subject(pid),
        "effectiveDateTime": effective,
    }
    if security:
        out["meta"] = {"security": [security]}
    if derived_from:
        out["derivedFrom"] = [ref(f"Observation/{derived_from}")]
    return out


def medication(id_: str, pid: str) -> Json:
    return {
        "resourceType": "MedicationStatement",
        "id": id_,
        "identifier": _ids(id_),
        "status": "active",
        "medicationCodeableConcept": {"text": "paracetamol"},
        "subject": subject(pid),
    }


def careplan(id_: str, pid: str, status: str = "active", **more: Any) -> Json:
    return {
        "resourceType": "CarePlan",
        "id": id_,
        "identifier": _ids(id_),
        "status": status,
        "intent": "plan",
        "subject": subject(pid),
        **more,
    }


def careteam(id_: str, pid: str, *members: str, status: str = "active", **more: Any) -> Json:
    participants = [{"member": ref(m)} for m in members]
    out: Json = {
        "resourceType": "CareTeam",
        "id": id_,
        "identifier": _ids(id_),
        "status": status,
        "subject": subject(pid),
        **more,
    }
    if participants:
        out["participant"] = participants
    return out


def service_request(id_: str, pid: str, status: str = "active", **more: Any) -> Json:
    return {
        "resourceType": "ServiceRequest",
        "id": id_,
        "identifier": _ids(id_),
        "status": status,
        "intent": "order",
        "subject": subject(pid),
        **more,
    }


def encounter(id_: str, pid: str, status: str = "in-progress", **more: Any) -> Json:
    return {
        "resourceType": "Encounter",
        "id": id_,
        "identifier": _ids(id_),
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": subject(pid),
        **more,
    }


def task(id_: str, pid: str, status: str, **more: Any) -> Json:
    return {
        "resourceType": "Task",
        "id": id_,
        "status": status,
        "intent": "order",
        "for": subject(pid),
        **more,
    }


def parent(id_: str, pid: str, code: str, custody: bool = True) -> Json:
    codings = [{"system": ROLE_CODE, "code": code}]
    if custody:
        codings.append({"system": DK_RELATION, "code": "PARAUTH"})
    return {
        "resourceType": "RelatedPerson",
        "id": id_,
        "active": True,
        "patient": subject(pid),
        "relationship": [{"coding": codings}],
        "name": [{"family": id_}],
    }


IRCP = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}
    ]
}


def actor(reference: Json) -> Json:
    return {"role": IRCP, "reference": reference}


def consent(
    id_: str, pid: str, policy: str, provision: Json, by: str | None = None, status: str = "active"
) -> Json:
    """A ff-consent Consent: ``policy`` block | treatment-permit | disclosure-permit."""
    return {
        "resourceType": "Consent",
        "id": id_,
        "status": status,
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": subject(pid),
        "dateTime": f"{day(-30)}T12:00:00Z",
        "performer": [ref(by or f"Patient/{pid}")],
        "policyRule": {"coding": [{"system": POLICY, "code": policy}]},
        "provision": provision,
    }


def classes(*types: str) -> list[Json]:
    return [{"system": RESOURCE_TYPES, "code": t} for t in types]


def period(start: str | None, end: str | None = None) -> Json:
    return {k: v for k, v in (("start", start), ("end", end)) if v}


GP = "Organization/gp-clinic"
R_LABEL = {"system": CONFIDENTIALITY, "code": "R"}
PSY_LABEL = {"system": ACT_CODE, "code": "PSY"}

CITIZENS: list[Json] = [
    # anna: every kind of relationship; blocks the named clinician ward-doc2 (authorisation id)
    patient("anna", "1960-05-01", GP),
    encounter("enc-anna", "anna", serviceProvider=ref("Organization/reg-ward")),
    careteam("ct-anna", "anna", "PractitionerRole/nurse-role"),
    careplan("cp-anna", "anna", author=ref("PractitionerRole/nurse-role")),
    service_request(
        "sr-anna", "anna", requester=ref("PractitionerRole/nurse-role"), performer=[ref(GP)]
    ),
    medication("ms-anna", "anna"),
    observation("obs-anna", "anna"),
    consent(
        "block-anna-doc2",
        "anna",
        "block",
        {
            "type": "deny",
            "period": period("2020-01-01"),
            "actor": [actor({"identifier": {"system": AUTHORISATION, "value": "WRD02"}})],
        },
    ),
    # bent: blocks the hospital (by SOR), which hits its ward; permits ward-doc2 to treat him
    patient("bent", "1955-03-02", GP),
    encounter("enc-bent", "bent", serviceProvider=ref("Organization/reg-ward")),
    observation("obs-bent", "bent"),
    medication("ms-bent", "bent"),
    consent(
        "block-bent-hospital",
        "bent",
        "block",
        {
            "type": "deny",
            "period": period("2020-01-01"),
            "actor": [actor({"identifier": {"system": SOR, "value": "10000000001"}})],
        },
    ),
    consent(
        "permit-bent-doc2",
        "bent",
        "treatment-permit",
        {
            "type": "permit",
            "period": period("2020-01-01"),
            "actor": [actor(ref("Practitioner/ward-doc2"))],
        },
    ),
    # clara: blocks the data of 2019
    patient("clara", "1970-07-07", GP),
    observation("obs-clara-19", "clara", effective="2019-06-01"),
    observation("obs-clara-24", "clara", effective="2024-06-01"),
    consent(
        "block-clara-2019",
        "clara",
        "block",
        {
            "type": "deny",
            "period": period("2020-01-01"),
            "dataPeriod": period("2019-01-01", "2019-12-31"),
        },
    ),
    # dorte: blocks private-marked data, and psychiatry except for her GP (nested permit)
    patient("dorte", "1965-09-09", GP),
    careteam("ct-dorte", "dorte", "PractitionerRole/nurse-role"),
    observation("obs-dorte", "dorte", derived_from="obs-dorte-r"),
    observation("obs-dorte-r", "dorte", security=R_LABEL, code="secret"),
    observation("obs-dorte-psy", "dorte", security=PSY_LABEL, code="psy"),
    consent(
        "block-dorte-r",
        "dorte",
        "block",
        {"type": "deny", "period": period("2020-01-01"), "securityLabel": [R_LABEL]},
    ),
    consent(
        "block-dorte-psy",
        "dorte",
        "block",
        {
            "type": "deny",
            "period": period("2020-01-01"),
            "securityLabel": [PSY_LABEL],
            "provision": [{"type": "permit", "actor": [actor(ref("Practitioner/gp-doc"))]}],
        },
    ),
    # jens: blocks home nursing's view of his medication (actor AND class); three blocks of his
    # GP that do not hold (ended, not yet begun, inactive)
    patient("jens", "1950-01-15", GP),
    careteam("ct-jens", "jens", "PractitionerRole/nurse-role"),
    observation("obs-jens", "jens"),
    medication("ms-jens", "jens"),
    consent(
        "block-jens-home-meds",
        "jens",
        "block",
        {
            "type": "deny",
            "period": period("2020-01-01"),
            "actor": [actor(ref("Organization/kom-home"))],
            "class": classes("MedicationStatement"),
        },
    ),
    consent(
        "block-jens-gp-ended",
        "jens",
        "block",
        {
            "type": "deny",
            "period": period("2020-01-01", "2021-01-01"),
            "actor": [actor(ref("Practitioner/gp-doc"))],
        },
    ),
    consent(
        "block-jens-gp-later",
        "jens",
        "block",
        {"type": "deny", "period": period(day(30)), "actor": [actor(ref("Practitioner/gp-doc"))]},
    ),
    consent(
        "block-jens-gp-inactive",
        "jens",
        "block",
        {
            "type": "deny",
            "period": period("2020-01-01"),
            "actor": [actor(ref("Practitioner/gp-doc"))],
        },
        status="inactive",
    ),
    # emil (10): S2 — child psychiatry, PPR in the team; his mother (custody) permits PPR to see
    # the plan for a year; his father has no custody
    patient("emil", years_ago(10, -100), GP),
    careplan("cp-emil", "emil", author=ref("PractitionerRole/psych-role")),
    careteam("ct-emil", "emil", "PractitionerRole/psych-role", "PractitionerRole/ppr-role", GP),
    observation("obs-emil", "emil"),
    medication("ms-emil", "emil"),
    parent("mor-emil", "emil", "MTH"),
    parent("far-emil", "emil", "FTH", custody=False),
    consent(
        "permit-emil-ppr",
        "emil",
        "disclosure-permit",
        {
            "type": "permit",
            "period": period(day(-30), day(300)),
            "actor": [actor(ref("Organization/kom-ppr"))],
            "class": classes("Patient", "CarePlan"),
        },
        by="RelatedPerson/mor-emil",
    ),
    # frida (11): PPR's permit ended last year
    patient("frida", years_ago(11, -40)),
    careplan("cp-frida", "frida", author=ref("PractitionerRole/psych-role")),
    careteam("ct-frida", "frida", "PractitionerRole/ppr-role"),
    consent(
        "permit-frida-ppr",
        "frida",
        "disclosure-permit",
        {
            "type": "permit",
            "period": period("2023-01-01", "2023-12-31"),
            "actor": [actor(ref("Organization/kom-ppr"))],
            "class": classes("Patient", "CarePlan"),
        },
    ),
    # gustav (16): blocks his mother; permits his father to see his plan
    patient("gustav", years_ago(16, -100)),
    careplan("cp-gustav", "gustav", author=ref("PractitionerRole/psych-role")),
    observation("obs-gustav", "gustav"),
    parent("mor-gustav", "gustav", "MTH"),
    parent("far-gustav", "gustav", "FTH"),
    consent(
        "block-gustav-mor",
        "gustav",
        "block",
        {
            "type": "deny",
            "period": period("2020-01-01"),
            "actor": [actor(ref("RelatedPerson/mor-gustav"))],
        },
    ),
    consent(
        "permit-gustav-far",
        "gustav",
        "disclosure-permit",
        {
            "type": "permit",
            "period": period(day(-30), day(300)),
            "actor": [actor(ref("RelatedPerson/far-gustav"))],
            "class": classes("Patient", "CarePlan"),
        },
    ),
    # hanne turns 15 today, ida tomorrow
    patient("hanne", years_ago(15)),
    careplan("cp-hanne", "hanne", author=ref("PractitionerRole/psych-role")),
    parent("far-hanne", "hanne", "FTH"),
    patient("ida", years_ago(15, 1)),
    careplan("cp-ida", "ida", author=ref("PractitionerRole/psych-role")),
    parent("mor-ida", "ida", "MTH"),
]

# --- §42a: one citizen per relationship kind, held by sem-doc (at sem-ward, under sem-hosp) ----

SEM_ROLE = "PractitionerRole/sem-role"
SEM_DOC = "Practitioner/sem-doc"
SEM_WARD = "Organization/sem-ward"
SEM_HOSP = "Organization/sem-hosp"


@dataclass(frozen=True)
class Kind:
    """A citizen ``rk-<name>`` whose only tie to sem-doc/sem-boss is ``resource`` (or none)."""

    name: str
    why: str
    resource: Json | None
    doc: bool
    """sem-doc (at sem-ward, whose parent is sem-hosp) has a relationship."""
    boss: bool = False
    """sem-boss (at sem-hosp, the parent) has one."""
    gp: str | None = None

    @property
    def patient(self) -> str:
        return f"rk-{self.name}"


def _k(
    name: str,
    why: str,
    doc: bool,
    boss: bool = False,
    gp: str | None = None,
    make: Any = None,
    **more: Any,
) -> Kind:
    pid = f"rk-{name}"
    return Kind(name, why, make(f"x-{pid}", pid, **more) if make else None, doc, boss, gp)


KINDS = [
    _k("gp", "Patient.generalPractitioner names the role", True, gp=SEM_ROLE),
    _k(
        "team",
        "CareTeam participant since 2020",
        True,
        make=careteam,
        participant=[{"member": ref(SEM_DOC), "period": period("2020-01-01")}],
    ),
    _k(
        "team-ended",
        "CareTeam participant until 2021",
        False,
        make=careteam,
        participant=[{"member": ref(SEM_DOC), "period": period("2020-01-01", "2021-01-01")}],
    ),
    _k(
        "team-org",
        "CareTeam managingOrganization = own ward (not the parent's)",
        True,
        make=careteam,
        managingOrganization=[ref(SEM_WARD)],
    ),
    _k(
        "sr",
        "active ServiceRequest performer",
        True,
        make=service_request,
        performer=[ref(SEM_ROLE)],
    ),
    _k(
        "sr-done",
        "completed ServiceRequest performer",
        False,
        make=service_request,
        status="completed",
        performer=[ref(SEM_ROLE)],
    ),
    _k(
        "sr-req",
        "active ServiceRequest requester (the ward)",
        True,
        make=service_request,
        requester=ref(SEM_WARD),
    ),
    _k(
        "task", "in-progress Task owner", True, make=task, status="in-progress", owner=ref(SEM_ROLE)
    ),
    _k(
        "task-done",
        "completed Task owner",
        False,
        make=task,
        status="completed",
        owner=ref(SEM_ROLE),
    ),
    _k(
        "enc",
        "in-progress Encounter serviceProvider = the parent hospital",
        True,
        True,
        make=encounter,
        serviceProvider=ref(SEM_HOSP),
    ),
    _k(
        "enc-done",
        "finished Encounter serviceProvider",
        False,
        make=encounter,
        status="finished",
        serviceProvider=ref(SEM_HOSP),
    ),
    _k(
        "enc-part",
        "on-leave Encounter participant",
        True,
        make=encounter,
        status="onleave",
        participant=[{"individual": ref(SEM_ROLE)}],
    ),
    _k("cp", "active CarePlan author", True, make=careplan, author=ref(SEM_DOC)),
    _k(
        "cp-done",
        "completed CarePlan author",
        False,
        make=careplan,
        status="completed",
        author=ref(SEM_DOC),
    ),
    _k(
        "cp-contrib",
        "active CarePlan contributor (the ward)",
        True,
        make=careplan,
        contributor=[ref(SEM_WARD)],
    ),
    _k(
        "cp-activity",
        "active CarePlan activity performer",
        True,
        make=careplan,
        activity=[{"detail": {"status": "in-progress", "performer": [ref(SEM_ROLE)]}}],
    ),
    _k("none", "nothing in the data", False),
]


def _kinds() -> list[Json]:
    out: list[Json] = []
    for k in KINDS:
        out.append(patient(k.patient, "1980-01-01", k.gp))
        if k.resource:
            out.append(k.resource)
    return out


RESOURCES: list[Json] = [*ORGS, *_staff(), *CITIZENS, *_kinds()]
BY_ID: dict[str, Json] = {f"{r['resourceType']}/{r['id']}": r for r in RESOURCES}


def owner(key: str) -> str | None:
    """The patient id a resource is about."""
    r = BY_ID[key]
    if r["resourceType"] == "Patient":
        return str(r["id"])
    for name in ("subject", "patient", "for"):
        if name in r:
            return str(r[name]["reference"].split("/", 1)[1])
    return None


def of(*patients: str) -> frozenset[str]:
    """Every `PATIENT_DATA` resource of these patients."""
    return frozenset(
        k for k in BY_ID if k.split("/", 1)[0] in PATIENT_DATA and owner(k) in patients
    )


def kinds_of(who: str) -> frozenset[str]:
    return frozenset().union(*(of(k.patient) for k in KINDS if getattr(k, who)))


# --- principals -------------------------------------------------------------------------------

CLINICIAN = "openid fhirUser user/*.rs"
CITIZEN = "openid fhirUser patient/*.rs"


@dataclass(frozen=True)
class Who:
    """A principal: its token and exactly what it sees of `PATIENT_DATA`."""

    name: str
    token: str = field(repr=False)
    sees: frozenset[str]


def clinician(name: str, fhir_user: str, sees: frozenset[str]) -> Who:
    return Who(name, mint(CLINICIAN, fhirUser=fhir_user), sees)


def citizen(name: str, fhir_user: str, pid: str, sees: frozenset[str]) -> Who:
    return Who(name, mint(CITIZEN, fhirUser=fhir_user, patient=pid), sees)


ANNA = of("anna")
BENT = of("bent")
CLARA = of("clara")
DORTE = of("dorte")
EMIL = of("emil")
FRIDA = of("frida")
GUSTAV = of("gustav")
HANNE = of("hanne")
IDA = of("ida")
JENS = of("jens")

_WHO = [
    clinician(
        "gp",
        "Practitioner/gp-doc",
        ANNA
        | BENT
        | CLARA - {"Observation/obs-clara-19"}
        | DORTE - {"Observation/obs-dorte-r"}
        | EMIL
        | JENS,
    ),
    clinician("ward", "PractitionerRole/ward-role", ANNA),
    clinician("ward2", "Practitioner/ward-doc2", BENT),
    clinician("other", "Practitioner/other-doc", frozenset()),
    clinician(
        "nurse",
        "PractitionerRole/nurse-role",
        ANNA
        | {"Patient/dorte", "CareTeam/ct-dorte", "Observation/obs-dorte"}
        | JENS - {"MedicationStatement/ms-jens"},
    ),
    clinician("psych", "Practitioner/psych-doc", EMIL | FRIDA | GUSTAV | HANNE | IDA),
    clinician("ppr", "PractitionerRole/ppr-role", frozenset({"Patient/emil", "CarePlan/cp-emil"})),
    clinician("rehab", "Practitioner/rehab-doc", frozenset()),
    clinician("sem-doc", "PractitionerRole/sem-role", kinds_of("doc")),
    clinician("sem-boss", "Practitioner/sem-boss", kinds_of("boss")),
    citizen("anna", "Patient/anna", "anna", ANNA),
    citizen("clara", "Patient/clara", "clara", CLARA),
    citizen("gustav", "Patient/gustav", "gustav", GUSTAV),
    citizen("mor-emil", "RelatedPerson/mor-emil", "emil", EMIL),
    citizen("far-emil", "RelatedPerson/far-emil", "emil", frozenset()),
    citizen("mor-gustav", "RelatedPerson/mor-gustav", "gustav", frozenset()),
    citizen(
        "far-gustav",
        "RelatedPerson/far-gustav",
        "gustav",
        frozenset({"Patient/gustav", "CarePlan/cp-gustav"}),
    ),
    citizen("far-hanne", "RelatedPerson/far-hanne", "hanne", frozenset()),
    citizen("mor-ida", "RelatedPerson/mor-ida", "ida", IDA),
]
PRINCIPALS: dict[str, Who] = {w.name: w for w in _WHO}
ADMIN = mint("system/*.cruds")


@dataclass(frozen=True)
class Case:
    """One kind of principal the issue names, asking for one citizen's data it may (partly) not
    see. ``strict``: the principal has no relationship, so nothing at all may differ from asking
    for a citizen that never existed; otherwise (a related clinician narrowed by a block) the
    design lets a warning OperationOutcome say that something is withheld, and only that."""

    kind: str
    who: str
    patient: str
    strict: bool

    @property
    def principal(self) -> Who:
        return PRINCIPALS[self.who]

    @property
    def data(self) -> frozenset[str]:
        return of(self.patient)

    @property
    def visible(self) -> frozenset[str]:
        return self.data & self.principal.sees

    @property
    def hidden(self) -> frozenset[str]:
        return self.data - self.principal.sees


CASES = [
    Case("no relationship", "other", "anna", True),
    Case("blocked: named clinician", "ward2", "anna", False),
    Case("blocked: organization via its sub-unit", "ward", "bent", False),
    Case("blocked: data period", "gp", "clara", False),
    Case("blocked: security label / psychiatry", "nurse", "dorte", False),
    Case("blocked: class for an organization", "nurse", "jens", False),
    Case("outside the permit's period", "ppr", "frida", True),
    Case("non-health without a permit", "ppr", "anna", True),
    Case("non-health beyond the permit's classes", "ppr", "emil", True),
    Case("parent of a 16-year-old", "mor-gustav", "gustav", True),
    Case("parent without custody", "far-emil", "emil", True),
    Case("patient/ token of another citizen", "anna", "bent", True),
]
CASE_IDS = [c.kind for c in CASES]
