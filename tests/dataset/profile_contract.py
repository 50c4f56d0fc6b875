"""Our own check of the profile contract's rules (briefs: profiles contract), so the data set is
held to them before the real validator runs over it: each function returns the broken rules of
one resource as readable strings, an empty list when it conforms.

`lookup` maps "Type/id" to every resource of the data set, for the rules that look at what a
reference points to (a CareTeam's managing organization must carry a SOR id).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from dataset import identifiers as ids
from dataset.build import PROFILES
from dataset.scenarios.scene import years_before

Json = dict[str, Any]
Lookup = dict[str, Json]

FF = "http://faellesforloeb.dk/fhir/CodeSystem/"
CARETEAM_ROLES = {
    "coordinator",
    "patient-responsible-doctor",
    "general-practitioner",
    "contact-person",
    "relative",
    "member",
}
CAREPLAN_CATEGORIES = {
    "cross-sector-course",
    "child-youth-psychiatry",
    "severe-mental-illness",
    "discharge-follow-up",
    "iv-treatment-at-home",
    "preventive-sick-visit",
}
POLICY_TYPES = {"block": "deny", "treatment-permit": "permit", "disclosure-permit": "permit"}
CHANGE_TYPES = {"new", "changed", "paused", "discontinued", "unchanged"}
MEDICATION_CHANGE = "http://faellesforloeb.dk/fhir/StructureDefinition/ff-medication-change"
ATC = "http://www.whocc.no/atc"
ATC_CODE = re.compile(r"[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}")
KOMBIT_VALUE = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
REGION_CODES = {"DK-81", "DK-82", "DK-83", "DK-84", "DK-85"}
XHTML_DIV = '<div xmlns="http://www.w3.org/1999/xhtml">'
MEMBER_TYPES = {"Practitioner", "PractitionerRole", "RelatedPerson", "Patient", "Organization"}
REQUESTER_TYPES = {"Practitioner", "PractitionerRole", "Organization", "Patient", "RelatedPerson"}


def references(node: Any) -> Iterator[str]:
    """Every ``reference`` string anywhere in a resource."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def _type(ref: Json | None) -> str | None:
    return ref["reference"].split("/")[0] if ref and "reference" in ref else None


def _codes(concept: Json | None, system: str) -> list[str]:
    return [c["code"] for c in (concept or {}).get("coding", []) if c.get("system") == system]


def check(resource: Json, lookup: Lookup) -> list[str]:
    type_ = resource["resourceType"]
    problems = _common(resource)
    rule = RULES.get(type_)
    if rule:
        problems += rule(resource, lookup)
    return [f"{type_}/{resource['id']}: {p}" for p in problems]


def _common(r: Json) -> list[str]:
    out = []
    expected = PROFILES.get(r["resourceType"])
    if expected and r.get("meta", {}).get("profile") != [expected]:
        out.append(f"meta.profile must be [{expected}]")
    text = r.get("text", {})
    if text.get("status") != "generated" or not str(text.get("div", "")).startswith(XHTML_DIV):
        out.append("narrative text (status generated, an XHTML div) is missing")
    return out


def _identifier(i: Json) -> list[str]:
    system, value, use = i.get("system"), i.get("value", ""), i.get("use")
    official = {
        ids.CPR_SYSTEM,
        ids.SOR_SYSTEM,
        ids.GLN_SYSTEM,
        ids.CVR_SYSTEM,
        ids.KOMBIT_ORG_SYSTEM,
    }
    out = (
        [f"{system} identifier must have use official"]
        if system in official and use != "official"
        else []
    )
    valid: dict[str, Callable[[str], bool]] = {
        ids.CPR_SYSTEM: ids.cpr_valid,
        ids.SOR_SYSTEM: ids.sor_valid,
        ids.GLN_SYSTEM: ids.gln_valid,
        ids.CVR_SYSTEM: ids.cvr_valid,
        ids.YDERNUMMER_SYSTEM: ids.ydernummer_valid,
        ids.AUTHORISATION_SYSTEM: ids.authorisation_id_valid,
        ids.MUNICIPALITY_SYSTEM: ids.municipality_valid,
        ids.KOMBIT_ORG_SYSTEM: lambda v: bool(KOMBIT_VALUE.fullmatch(v)),
        ids.REGION_SYSTEM: lambda v: v in REGION_CODES,
    }  # fmt: skip
    if system in valid and not valid[system](value):
        out.append(f"invalid {system} identifier {value!r}")
    return out


def _person(r: Json) -> list[str]:
    out = [p for i in r.get("identifier", []) for p in _identifier(i)]
    cprs = [i["value"] for i in r.get("identifier", []) if i.get("system") == ids.CPR_SYSTEM]
    for cpr in cprs:
        born = ids.cpr_birth_date(cpr)
        if born and r.get("birthDate") != born.isoformat():
            out.append("birthDate differs from the CPR number's birth date")
        if r.get("gender") != ("female" if ids.cpr_female(cpr) else "male"):
            out.append("gender differs from the CPR number's last digit")
    official = [n for n in r.get("name", []) if n.get("use") == "official"]
    if len(official) > 1 or any(not n.get("family") for n in official):
        out.append("at most one official name, with a family name")
    return out


def _patient(r: Json, lookup: Lookup) -> list[str]:
    out = _person(r)
    if not r.get("identifier"):
        out.append("identifier 1..* (dk-core-patient)")
    for address in r.get("address", []):
        for ext in address.get("extension", []):
            for coding in ext.get("valueCodeableConcept", {}).get("coding", []):
                if coding["system"] == ids.MUNICIPALITY_SYSTEM and not ids.municipality_valid(
                    coding["code"]
                ):
                    out.append(f"unknown municipality code {coding['code']}")
    return out


def _related_person(r: Json, lookup: Lookup) -> list[str]:
    return _person(r) + ([] if _type(r.get("patient")) == "Patient" else ["patient 1..1"])


def _organization(r: Json, lookup: Lookup) -> list[str]:
    out = [p for i in r.get("identifier", []) for p in _identifier(i)]
    mandatory = {ids.SOR_SYSTEM, ids.KOMBIT_ORG_SYSTEM, ids.CVR_SYSTEM}
    if not any(i.get("system") in mandatory for i in r.get("identifier", [])):
        out.append("needs a SOR, KOMBIT or CVR identifier (dk-core-organization)")
    return out


def _practitioner(r: Json, lookup: Lookup) -> list[str]:
    return [
        p
        for q in r.get("qualification", [])
        for i in q.get("identifier", [])
        for p in _identifier(i)
    ]


def _careteam(r: Json, lookup: Lookup) -> list[str]:
    out = []
    if not r.get("name"):
        out.append("name 1..1")
    managing = r.get("managingOrganization", [])
    if len(managing) != 1 or _type(managing[0]) != "Organization":
        out.append("managingOrganization 1..1 Organization")
    elif not any(
        i.get("system") == ids.SOR_SYSTEM
        for i in lookup[managing[0]["reference"]].get("identifier", [])
    ):
        out.append("the managing organization carries no SOR id")
    if _type(r.get("subject")) != "Patient" or not r.get("status"):
        out.append("subject Patient and status 1..1")
    if not r.get("participant"):
        out.append("participant 1..*")
    every_role = [
        c
        for p in r.get("participant", [])
        for role in p.get("role", [])
        for c in _codes(role, FF + "ff-careteam-role")
    ]
    for one in ("coordinator", "patient-responsible-doctor"):
        if every_role.count(one) != 1:
            out.append(f"exactly one {one} (ff-careteam warning), has {every_role.count(one)}")
    for n, p in enumerate(r.get("participant", [])):
        roles = [c for role in p.get("role", []) for c in _codes(role, FF + "ff-careteam-role")]
        if not roles or not set(roles) <= CARETEAM_ROLES:
            out.append(f"participant[{n}].role needs ff-careteam-role codes, has {roles}")
        if _type(p.get("member")) not in MEMBER_TYPES:
            out.append(f"participant[{n}].member 1..1 of {sorted(MEMBER_TYPES)}")
    return out


def _careplan(r: Json, lookup: Lookup) -> list[str]:
    out = []
    if _type(r.get("subject")) != "Patient" or not r.get("status") or not r.get("intent"):
        out.append("subject Patient, status and intent 1..1")
    categories = [
        c for cat in r.get("category", []) for c in _codes(cat, FF + "ff-careplan-category")
    ]
    if not categories or not set(categories) <= CAREPLAN_CATEGORIES:
        out.append(f"category needs ff-careplan-category codes, has {categories}")
    if not r.get("careTeam") or any(_type(t) != "CareTeam" for t in r["careTeam"]):
        out.append("careTeam 1..* CareTeam")
    if not r.get("title"):
        out.append("title 1..1")
    for n, a in enumerate(r.get("activity", [])):
        detail = a.get("detail") or {}
        if "reference" in a or not detail.get("status") or not detail.get("performer"):
            out.append(f"activity[{n}] needs detail with status and performer 1..*")
    for g in r.get("goal", []):
        if _type(g) != "Goal":
            out.append("goal must reference Goal")
    return out


def _medication_statement(r: Json, lookup: Lookup) -> list[str]:
    out = []
    atc = _codes(r.get("medicationCodeableConcept"), ATC)
    if len(atc) != 1 or not ATC_CODE.fullmatch(atc[0]):
        out.append(f"medicationCodeableConcept needs exactly one ATC code, has {atc}")
    if _type(r.get("subject")) != "Patient" or not r.get("informationSource"):
        out.append("subject Patient and informationSource 1..1")
    if not r.get("dosage") or any(not d.get("text") for d in r["dosage"]):
        out.append("dosage 1..* each with text")
    if not any(k.startswith("effective") for k in r):
        out.append("effective[x] 1..1")
    changes = [e for e in r.get("extension", []) if e["url"] == MEDICATION_CHANGE]
    for e in changes:
        types = [x.get("valueCode") for x in e.get("extension", []) if x["url"] == "type"]
        if len(types) != 1 or types[0] not in CHANGE_TYPES:
            out.append(f"ff-medication-change needs one type of {sorted(CHANGE_TYPES)}")
    return out


def _service_request(r: Json, lookup: Lookup) -> list[str]:
    out = []
    if r.get("priority") not in ("routine", "asap"):
        out.append(f"priority must be routine or asap, is {r.get('priority')!r}")
    if _type(r.get("subject")) != "Patient":
        out.append("subject Patient")
    if _type(r.get("requester")) not in REQUESTER_TYPES:
        out.append("requester of the dk-core types")
    return out


def _consent(r: Json, lookup: Lookup) -> list[str]:
    out = []
    scope = _codes(r.get("scope"), "http://terminology.hl7.org/CodeSystem/consentscope")
    if scope != ["patient-privacy"]:
        out.append("scope patient-privacy")
    if _type(r.get("patient")) != "Patient" or not r.get("dateTime"):
        out.append("patient and dateTime 1..1")
    provision = r.get("provision") or {}
    policy = _codes(r.get("policyRule"), FF + "ff-consent-policy")
    if len(policy) != 1 or POLICY_TYPES.get(policy[0]) != provision.get("type"):
        out.append(f"policyRule (ff-consent-policy) {policy} must match provision.type")
    elif policy == ["disclosure-permit"] and not _within_a_year(provision.get("period", {})):
        out.append("a disclosure permit lasts at most a year (period start and end)")
    if provision.get("type") == "deny" and not provision.get("period", {}).get("start"):
        out.append("a deny provision needs period.start")
    for actor in provision.get("actor", []):
        target = lookup[actor["reference"]["reference"]]
        if target["resourceType"] == "Practitioner" and not _practitioner_authorised(target):
            out.append("a Practitioner actor needs an authorisation id")
    return out


def _within_a_year(period: Json) -> bool:
    if not (period.get("start") and period.get("end")):
        return False
    start, end = date.fromisoformat(period["start"][:10]), date.fromisoformat(period["end"][:10])
    return start <= end <= years_before(start, -1)


def _practitioner_authorised(r: Json) -> bool:
    return any(
        i.get("system") == ids.AUTHORISATION_SYSTEM
        for q in r.get("qualification", [])
        for i in q.get("identifier", [])
    )


def _subject_patient(r: Json, lookup: Lookup) -> list[str]:
    return [] if _type(r.get("subject")) == "Patient" else ["subject Patient"]


RULES: dict[str, Callable[[Json, Lookup], list[str]]] = {
    "Patient": _patient,
    "RelatedPerson": _related_person,
    "Organization": _organization,
    "Practitioner": _practitioner,
    "CareTeam": _careteam,
    "CarePlan": _careplan,
    "MedicationStatement": _medication_statement,
    "ServiceRequest": _service_request,
    "Consent": _consent,
    "Condition": _subject_patient,
    "Encounter": _subject_patient,
}


def check_all(resources: list[Json]) -> list[str]:
    """Every broken rule and unresolved reference in a whole data set."""
    lookup = {f"{r['resourceType']}/{r['id']}": r for r in resources}
    problems: list[str] = []
    if len(lookup) != len(resources):
        problems.append("duplicate Type/id")
    for r in resources:
        problems += [
            f"{r['resourceType']}/{r['id']}: unresolved reference {ref}"
            for ref in references(r)
            if ref not in lookup
        ]
        problems += check(r, lookup)
    return problems
