"""Small builders for resources, references, codings and identifiers the data set uses everywhere.

Every resource gets narrative `text` (status generated; MedCom requires narrative) and, for the
profiled types, `meta.profile` with the canonical URL of its profile (docs: profiles contract).
"""

from __future__ import annotations

from html import escape
from typing import Any

from dataset import identifiers as ids

DK_CORE = "http://hl7.dk/fhir/core/StructureDefinition/"
FF = "http://faellesforloeb.dk/fhir/StructureDefinition/"

PROFILES: dict[str, str] = {
    "Patient": DK_CORE + "dk-core-patient",
    "Practitioner": DK_CORE + "dk-core-practitioner",
    "PractitionerRole": DK_CORE + "dk-core-practitioner-role",
    "Organization": DK_CORE + "dk-core-organization",
    "RelatedPerson": DK_CORE + "dk-core-related-person",
    "Condition": DK_CORE + "dk-core-condition",
    "Encounter": DK_CORE + "dk-core-encounter",
    "ServiceRequest": DK_CORE + "dk-core-person-servicerequest",
    "CarePlan": FF + "ff-careplan",
    "CareTeam": FF + "ff-careteam",
    "MedicationStatement": FF + "ff-medicationstatement",
    "Consent": FF + "ff-consent",
}
"""The profile each profiled type claims; the other types (Goal, Task, …) claim none."""

TYPE_ORDER: tuple[str, ...] = (
    "Organization",
    "Practitioner",
    "PractitionerRole",
    "Patient",
    "RelatedPerson",
    "Condition",
    "Goal",
    "CareTeam",
    "CarePlan",
    "ServiceRequest",
    "Task",
    "Encounter",
    "Observation",
    "MedicationStatement",
    "Communication",
    "Consent",
)
"""The data set's types in an order where each only references types before it (and an
Organization only its parent, written first)."""

Json = dict[str, Any]


def narrative(*paragraphs: str) -> Json:
    body = "".join(f"<p>{escape(p, quote=False)}</p>" for p in paragraphs)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def resource(type_: str, id_: str, text: str | tuple[str, ...], **elements: Any) -> Json:
    """A resource with id, meta.profile (if its type is profiled), narrative, then ``elements``
    (``None`` values left out, ``class_`` written as ``class``)."""
    out: Json = {"resourceType": type_, "id": id_}
    profile = PROFILES.get(type_)
    if profile:
        out["meta"] = {"profile": [profile]}
    out["text"] = narrative(*((text,) if isinstance(text, str) else text))
    for key, value in elements.items():
        if value is not None:
            out[key.rstrip("_")] = value
    return out


def label(resource: Json, *security: Json) -> Json:
    """Marks ``resource`` with security labels (``meta.security``), e.g. psychiatry: what a
    consent's ``provision.securityLabel`` blocks by (DOMAIN.md §6)."""
    resource.setdefault("meta", {})["security"] = list(security)
    return resource


def ref(type_: str, id_: str, display: str | None = None) -> Json:
    out: Json = {"reference": f"{type_}/{id_}"}
    if display:
        out["display"] = display
    return out


def ref_of(resource: Json, display: str | None = None) -> Json:
    return ref(resource["resourceType"], resource["id"], display or _display(resource))


def _display(resource: Json) -> str | None:
    name = resource.get("name")
    if isinstance(name, list) and name:
        return str(name[0].get("text"))
    return resource.get("title") or (name if isinstance(name, str) else None)


def coding(system: str, code: str, display: str | None = None) -> Json:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(text: str, *codings: Json) -> Json:
    out: Json = {}
    if codings:
        out["coding"] = list(codings)
    out["text"] = text
    return out


def identifier(system: str, value: str, use: str | None = "official") -> Json:
    out: Json = {"use": use} if use else {}
    out["system"] = system
    out["value"] = value
    return out


def cpr(value: str) -> Json:
    return identifier(ids.CPR_SYSTEM, value)


def sor(value: str) -> Json:
    return identifier(ids.SOR_SYSTEM, value)


def gln(value: str) -> Json:
    return identifier(ids.GLN_SYSTEM, value)


def cvr(value: str) -> Json:
    return identifier(ids.CVR_SYSTEM, value)


def ydernummer(value: str) -> Json:
    return identifier(ids.YDERNUMMER_SYSTEM, value, use=None)


def kombit(value: str) -> Json:
    return identifier(ids.KOMBIT_ORG_SYSTEM, value)


def municipality(code: str) -> Json:
    return identifier(ids.MUNICIPALITY_SYSTEM, code, use=None)


def region(code: str) -> Json:
    return identifier(ids.REGION_SYSTEM, code, use=None)


def authorisation(value: str) -> Json:
    return identifier(ids.AUTHORISATION_SYSTEM, value, use=None)


def period(start: str, end: str | None = None) -> Json:
    return {"start": start, "end": end} if end else {"start": start}
