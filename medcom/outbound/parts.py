"""The resources of an outbound message, read from the shared record through the caller's
access (what the caller may not read is answered as unknown, never rendered) and reduced to
what the MedCom profiles carry: identifiers in the systems MedCom sends, nothing else of the
record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from fhir_server.errors import Unprocessable
from fhir_server.interactions.context import Context
from medcom.codes import (
    CORE_ORGANIZATION,
    CORE_PATIENT,
    CORE_PRACTITIONER,
    CORE_PRACTITIONER_ROLE,
    GLN_SENT,
    GLN_SYSTEMS,
    MESSAGING_ORGANIZATION,
    PATIENT_SYSTEMS,
)
from profiles.danish.identifiers import CPR_SYSTEM, SOR_SYSTEM


def now() -> str:
    """An instant with its timezone, as every MedCom timestamp must have."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def reference_id(ref: Any, type_: str) -> str | None:
    """The id a ``{"reference": "Type/id"}`` (or its absolute form) names, if of ``type_``."""
    value = ref.get("reference") if isinstance(ref, dict) else ref
    if not isinstance(value, str):
        return None
    parts = value.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == type_ and parts[-1]:
        return parts[-1]
    return None


async def visible(ctx: Context, type_: str, id_: str | None, where: str) -> dict[str, Any]:
    """The current version of ``type_/id_`` if the caller may read it; otherwise — absent,
    deleted or hidden alike — 422 naming ``where``, so nothing reveals what exists."""
    stored = await ctx.read(type_, id_) if id_ else None
    admitted = await ctx.access.admit(stored, "r") if stored is not None else None
    if admitted is None or admitted.deleted or admitted.content is None:
        raise Unprocessable(f"{where}: {type_}/{id_} is not known", [where])
    doc: dict[str, Any] = orjson.loads(admitted.content)
    return doc


async def own(ctx: Context, type_: str, id_: str, where: str) -> dict[str, Any]:
    """A resource the server itself is configured with (the sending organization)."""
    stored = await ctx.read(type_, id_)
    if stored is None or stored.deleted or stored.content is None:
        raise Unprocessable(f"{where}: {type_}/{id_} is not known", [where])
    doc: dict[str, Any] = orjson.loads(stored.content)
    return doc


def identifier(resource: dict[str, Any], systems: tuple[str, ...] | str) -> str | None:
    wanted = (systems,) if isinstance(systems, str) else systems
    for ident in resource.get("identifier", []):
        if ident.get("system") in wanted and ident.get("value"):
            return str(ident["value"])
    return None


def organization(org: dict[str, Any], where: str) -> dict[str, Any]:
    """A MedComMessagingOrganization: SOR id and EAN/GLN (sent as the target IG's dk-core pin
    requires, whichever of the accepted systems the record holds it in), and the name."""
    sor = identifier(org, SOR_SYSTEM)
    gln = identifier(org, GLN_SYSTEMS)
    if sor is None or gln is None:
        missing = " and ".join(
            n for n, v in (("a SOR id", sor), ("an EAN/GLN location number", gln)) if v is None
        )
        raise Unprocessable(
            f"{where}: Organization/{org.get('id')} has no {missing}; MedCom messages name "
            "sender and receiver by both",
            [where],
        )
    out: dict[str, Any] = {
        "resourceType": "Organization",
        "id": org["id"],
        "meta": {"profile": [MESSAGING_ORGANIZATION]},
        "identifier": [
            {"system": GLN_SENT, "value": gln},
            {"system": SOR_SYSTEM, "value": sor},
        ],
    }
    if org.get("name"):
        out["name"] = org["name"]
    return out


def core_organization(org: dict[str, Any], where: str) -> dict[str, Any]:
    out = organization(org, where)
    out["meta"] = {"profile": [CORE_ORGANIZATION]}
    return out


def patient(p: dict[str, Any], where: str, real_cpr_only: bool = False) -> dict[str, Any]:
    """A MedComCorePatient: the CPR number (or a replacement CPR number, unless
    ``real_cpr_only``: a HospitalNotification takes a real CPR only), the official name and the
    contact details the record holds."""
    systems = (CPR_SYSTEM,) if real_cpr_only else PATIENT_SYSTEMS
    idents = [
        {k: v for k, v in i.items() if k in ("use", "system", "value")}
        for i in p.get("identifier", [])
        if i.get("system") in systems and i.get("value")
    ]
    for ident in idents:
        if ident["system"] == CPR_SYSTEM:
            ident["use"] = "official"
    names = [n for n in p.get("name", []) if n.get("family")]
    if not idents or not names:
        what = "a CPR number" if real_cpr_only else "a CPR or replacement CPR number"
        raise Unprocessable(
            f"{where}: Patient/{p.get('id')} needs {what} and a family name to be sent",
            [where],
        )
    official = next((n for n in names if n.get("use") == "official"), names[0])
    out: dict[str, Any] = {
        "resourceType": "Patient",
        "id": p["id"],
        "meta": {"profile": [CORE_PATIENT]},
        "identifier": idents,
        "name": [{**{k: v for k, v in official.items() if k != "period"}, "use": "official"}],
    }
    for key in ("telecom", "gender", "birthDate", "address", "deceasedBoolean"):
        if key in p:
            out[key] = p[key]
    if "deceasedDateTime" in p:
        out["deceasedDateTime"] = p["deceasedDateTime"]
    return out


def practitioner(p: dict[str, Any], where: str) -> dict[str, Any]:
    names = [
        {k: v for k, v in n.items() if k in ("use", "family", "given", "text")}
        for n in p.get("name", [])
        if n.get("family") or n.get("given")
    ]
    if not names:
        raise Unprocessable(f"{where}: Practitioner/{p.get('id')} has no name", [where])
    return {
        "resourceType": "Practitioner",
        "id": p["id"],
        "meta": {"profile": [CORE_PRACTITIONER]},
        "name": names[:1],
    }


def practitioner_role(
    role: dict[str, Any], practitioner_id: str, organization_id: str, where: str
) -> dict[str, Any]:
    """A MedComCorePractitionerRole: its code (a coded role, or else text: -7), practitioner
    and the sending organization it writes for."""
    codes = role.get("code", [])
    code = next((c for c in codes if any(x.get("code") for x in c.get("coding", []))), None)
    if code is not None:
        code = {"coding": [x for x in code["coding"] if x.get("code")][:1]}
    else:
        text = next((c["text"] for c in codes if c.get("text")), None)
        if text is None:
            raise Unprocessable(
                f"{where}: PractitionerRole/{role.get('id')} has no role (code or text)", [where]
            )
        code = {"text": text}
    return {
        "resourceType": "PractitionerRole",
        "id": role["id"],
        "meta": {"profile": [CORE_PRACTITIONER_ROLE]},
        "practitioner": {"reference": f"Practitioner/{practitioner_id}"},
        "organization": {"reference": f"Organization/{organization_id}"},
        "code": [code],
    }


def endpoint_key(ctx: Context, org: dict[str, Any]) -> str:
    """Which key of `Settings.medcom_endpoints` names ``org``'s endpoint: its SOR id, else its
    EAN/GLN; its SOR id when neither is configured."""
    sor = identifier(org, SOR_SYSTEM) or ""
    gln = identifier(org, GLN_SYSTEMS)
    if sor not in ctx.settings.medcom_endpoints and gln in ctx.settings.medcom_endpoints:
        return str(gln)
    return sor


def phone(*resources: dict[str, Any]) -> str | None:
    """The first phone number of the resources, in MedCom's form (``[+]?[-0-9]``…)."""
    for r in resources:
        for t in r.get("telecom", []):
            value = str(t.get("value", "")).replace(" ", "")
            if t.get("system") == "phone" and value:
                return value
    return None
