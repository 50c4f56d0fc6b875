"""AuditEvents in the shapes of IHE Basic Audit Log Patterns (BALP 1.1, medcom-consent-audit.md
B.5) with FUT's Danish rules (B.4): one AuditEvent per patient touched, the patient as an entity
with role 1, the responsible organization as FUT's extension, CPR numbers masked (`mask`).

- read, vread: PatientRead (Read without a patient), action R, entities patient and data;
- search, history: PatientQuery (Query), action E, entities patient and the query (base64);
- create, update (patch), delete: PatientCreate / PatientUpdate / PatientDelete, action C / U /
  D, entities patient and data;
- an operation: action E, subtype ``operation`` and its ``$name``.

Agents: the user (``v3-ParticipationType#IRCP``, the person as ``who``, the sector as a role,
the organization as FUT's ``ehealth-responsibleOrganization``, purpose of use), the client
application and this server, typed (DICOM 110152/110153) as BALP gives them for the direction
the data goes. Break-the-glass adds DICOM 110127 "Emergency Override Started" to the subtypes and
``v3-ActReason#BTG`` with the stated reason as the purpose of the event.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, fields, replace
from typing import Any

from auth.audit.mask import mask

BALP = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
INTERACTION = "http://hl7.org/fhir/restful-interaction"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
RESTRICTION = "http://ehealth.sundhed.dk/cs/audit-restriction-levels"
"""FUT's audit restriction levels: ``NotCitizen``, ``NotGuardian`` (entries hidden from them)."""
NOT_CITIZEN = "NotCitizen"
NOT_GUARDIAN = "NotGuardian"
RESPONSIBLE_ORGANIZATION = (
    "http://ehealth.sundhed.dk/fhir/StructureDefinition/ehealth-responsibleOrganization"
)
SECTOR = "http://faellesforloeb.dk/fhir/CodeSystem/sector"
"""This project's sectors (`auth.identity`: region, municipality-health, …, citizen)."""
EMERGENCY_OVERRIDE = {"system": DCM, "code": "110127", "display": "Emergency Override Started"}
BTG = {"system": ACT_REASON, "code": "BTG", "display": "break the glass"}
PURPOSES = {"TREATMENT": "TREAT", "EMERGENCY": "BTG", "REQUEST": "PATRQT"}
"""The national purpose of use (OIO IDWS) as v3-ActReason."""

READ, QUERY, CREATE, UPDATE, DELETE, OPERATION = (
    "Read",
    "Query",
    "Create",
    "Update",
    "Delete",
    "Operation",
)
_ACTIONS = {READ: "R", QUERY: "E", CREATE: "C", UPDATE: "U", DELETE: "D", OPERATION: "E"}
SUCCESS, REFUSED = "0", "4"
"""audit-event-outcome: success; minor failure (the access was refused)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who accessed, as the event names them (from the principal; names looked up once)."""

    subject: str
    person: str | None = None
    """``Practitioner/x``, ``PractitionerRole/x``, ``Patient/x`` or ``RelatedPerson/x``."""
    name: str | None = None
    role: str | None = None
    """``PractitionerRole/x`` the person acts in (h/actor's `Principal.role`)."""
    organization: str | None = None
    organization_name: str | None = None
    sector: str | None = None
    client_id: str | None = None
    token_id: str | None = None
    purpose: str | None = None
    """``TREATMENT``, ``EMERGENCY``, ``REQUEST`` (h/actor's `Principal.purpose`)."""
    btg_reason: str | None = None
    """The stated reason of a break-the-glass access (h/actor's `Principal.btg_reason`)."""


@dataclass(frozen=True, slots=True)
class Access:
    """One audited access about one patient (or none)."""

    kind: str
    """`READ`, `QUERY`, `CREATE`, `UPDATE`, `DELETE` or `OPERATION`."""
    subtype: str
    """The interaction (``read``, ``search-type``, ``patch``, …) or an operation's ``$name``."""
    type: str | None
    """The primary resource type (FUT's ``outcomeDesc``)."""
    patient: str | None
    outcome: str = SUCCESS
    data: tuple[str, ...] = ()
    """``Type/id`` of the resources accessed (not for a query: BALP records no results)."""
    query: str | None = None
    """The query string of a search (masked before it is written)."""
    labels: tuple[str, ...] = field(default=())
    """Restriction levels (`NOT_CITIZEN`, `NOT_GUARDIAN`)."""


@dataclass(frozen=True, slots=True)
class ConsentDecision:
    """A consent decision about one patient's data in one request (BALP AuthZ-Consent): a
    break-the-glass overriding a block or a missing care relationship, a citizen's consent
    withholding (part of) what a related clinician asked for, or a non-health party admitted
    by the citizen's disclosure-permit."""

    patient: str
    outcome: str
    """`SUCCESS` (permitted, perhaps narrowed) or `REFUSED` (denied)."""
    reason: str
    """What decided, in words (``outcomeDesc``)."""
    consents: tuple[str, ...] = ()
    """``Consent/<id>`` of the consents that decided."""
    override: bool = False
    """A break-the-glass decided (DICOM 110127 is added)."""


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _entity(type_code: str, role_code: str, labels: list[dict[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": _coding(ENTITY_TYPE, type_code),
        "role": _coding(OBJECT_ROLE, role_code),
    }
    if labels:
        out["securityLabel"] = labels
    return out


def _purposes(actor: Actor) -> list[dict[str, Any]]:
    if actor.btg_reason:
        return [{"coding": [BTG], "text": actor.btg_reason}]
    code = PURPOSES.get(actor.purpose or "")
    return [{"coding": [_coding(ACT_REASON, code)]}] if code else []


def _agents(actor: Actor, kind: str, base_url: str) -> list[dict[str, Any]]:
    # BALP: data leaves the server on a read (the client is its destination), enters it on a
    # write, and a query travels to the server
    client_role, server_role = ("110152", "110153") if kind == READ else ("110153", "110152")
    if kind == AUTHZ:  # BALP AuthZconsent: the client as an application, the server decides
        client_role = "110150"
    agents: list[dict[str, Any]] = []
    if actor.person is not None or actor.client_id is None:
        who: dict[str, Any] = {"identifier": {"value": actor.subject}}
        if actor.person and not actor.person.startswith("Patient/"):
            who["reference"] = actor.person
        if actor.name:
            who["display"] = actor.name
        user: dict[str, Any] = {
            "type": {"coding": [_coding(PARTICIPATION, "IRCP", "information recipient")]},
            "who": who,
            "requestor": True,
        }
        if actor.person and "reference" not in who:
            # a citizen as a reference would put the event in their own compartment: their Min
            # log would then show what they tried and were refused, about others' data —
            # revealing that it exists. Named by altId instead; the log shows events about them.
            user["altId"] = actor.person
        if actor.name:
            user["name"] = actor.name
        roles: list[dict[str, Any]] = []
        if actor.sector:
            roles.append({"coding": [_coding(SECTOR, actor.sector)]})
        if actor.role:
            roles.append({"text": actor.role})
        if roles:
            user["role"] = roles
        if actor.organization:
            org: dict[str, Any] = {"reference": actor.organization}
            if actor.organization_name:
                org["display"] = actor.organization_name
            user["extension"] = [{"url": RESPONSIBLE_ORGANIZATION, "valueReference": org}]
        if actor.token_id:
            user["policy"] = [f"urn:ietf:params:oauth:jti:{actor.token_id}"]
        purposes = _purposes(actor)
        if purposes:
            user["purposeOfUse"] = purposes
        agents.append(user)
    client: dict[str, Any] = {
        "type": {"coding": [_coding(DCM, client_role)]},
        "who": {"identifier": {"value": actor.client_id or "unknown"}},
        "requestor": not agents,
    }
    agents.append(client)
    server_type = _coding(DCM, server_role) if kind != AUTHZ else AUTHSERVER
    agents.append(
        {
            "type": {"coding": [server_type]},
            "who": {"display": "fhir-server"},
            "requestor": False,
            "network": {"address": base_url, "type": "5"},
        }
    )
    return agents


def _masked(value: Any) -> Any:
    """``value`` (an `Actor` or `Access`) with each text that came from the request or the
    data masked (`mask`): everything else in an event is this module's own."""
    changes: dict[str, Any] = {}
    for f in fields(value):
        found = getattr(value, f.name)
        if isinstance(found, str):
            changes[f.name] = mask(found)
        elif isinstance(found, tuple):
            changes[f.name] = tuple(mask(v) for v in found)
    return replace(value, **changes)


_MASKED_ACTORS: dict[Actor, Actor] = {}
"""An actor is the same in all the events of one caller: masked once."""


def _masked_actor(actor: Actor) -> Actor:
    found = _MASKED_ACTORS.get(actor)
    if found is None:
        if len(_MASKED_ACTORS) >= 4096:
            _MASKED_ACTORS.clear()
        found = _MASKED_ACTORS[actor] = _masked(actor)
    return found


def audit_event(actor: Actor, access: Access, base_url: str, recorded: str) -> dict[str, Any]:
    """The AuditEvent of one access about one patient (or none), CPR numbers masked."""
    actor, access = _masked_actor(actor), _masked(access)
    base_url = mask(base_url)
    kind = access.kind
    labels = [_coding(RESTRICTION, label) for label in access.labels]
    profile = ("Patient" if access.patient else "") + kind
    subtype: list[dict[str, Any]] = []
    if kind == OPERATION:
        subtype.append(_coding(INTERACTION, "operation"))
        subtype.append({"code": access.subtype})
    else:
        subtype.append(_coding(INTERACTION, access.subtype))
    if actor.btg_reason:
        subtype.append(EMERGENCY_OVERRIDE)
    event: dict[str, Any] = {"resourceType": "AuditEvent", "meta": {}}
    if kind != OPERATION:
        event["meta"]["profile"] = [BALP + profile]
    if labels:
        event["meta"]["security"] = labels  # so searches can leave them out (`min_log`)
    if not event["meta"]:
        del event["meta"]
    event |= {
        "type": _coding(AUDIT_EVENT_TYPE, "rest", "RESTful Operation"),
        "subtype": subtype,
        "action": _ACTIONS[kind],
        "recorded": recorded,
        "outcome": access.outcome,
    }
    if access.type:
        event["outcomeDesc"] = access.type
    if actor.btg_reason:
        event["purposeOfEvent"] = [{"coding": [BTG], "text": actor.btg_reason}]
    event["agent"] = _agents(actor, kind, base_url)
    event["source"] = {
        "site": base_url,
        "observer": {"display": "fhir-server"},
        "type": [_coding(SOURCE_TYPE, "4", "Application Server")],
    }
    entities = []
    if access.patient:
        entity = _entity("1", "1", labels)
        entity["what"] = {"reference": f"Patient/{access.patient}"}
        entities.append(entity)
    if kind == QUERY:
        text = f"{access.type or ''}?{access.query or ''}"
        entity = _entity("2", "24", labels)
        entity["query"] = base64.b64encode(text.encode()).decode("ascii")
        entity["description"] = text
        entities.append(entity)
    for ref in access.data:
        entity = _entity("2", "4", labels)
        entity["what"] = {"reference": ref}
        entities.append(entity)
    if entities:
        event["entity"] = entities
    return event


AUTHZ = "AuthZ"
SECURITY_ALERT = {"system": DCM, "code": "110113", "display": "Security Alert"}
AUTHZ_CONSENT = {
    "system": "https://profiles.ihe.net/ITI/BALP/CodeSystem/AuthZsubType",
    "code": "AuthZ-Consent",
    "display": "Authorization Decision using Roles and Consent",
}
AUTHSERVER = {
    "system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
    "code": "authserver",
    "display": "authorization server",
}
CONSENT_TYPE = {"system": "http://hl7.org/fhir/resource-types", "code": "Consent"}


def authz_event(
    actor: Actor, decision: ConsentDecision, base_url: str, recorded: str
) -> dict[str, Any]:
    """The BALP AuthZ-Consent event of one consent decision about one patient: the patient and
    the Consents that decided as entities, the reason as ``outcomeDesc``; a break-the-glass
    also as DICOM 110127 and ``purposeOfEvent``. In the patient's compartment, so their Min log
    shows it."""
    actor = _masked_actor(actor)
    subtype: list[dict[str, Any]] = [AUTHZ_CONSENT]
    if decision.override:
        subtype.append(EMERGENCY_OVERRIDE)
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "meta": {"profile": [BALP + "AuthZconsent"]},
        "type": SECURITY_ALERT,
        "subtype": subtype,
        "action": "E",
        "recorded": recorded,
        "outcome": decision.outcome,
        "outcomeDesc": decision.reason,
    }
    if decision.override and actor.btg_reason:
        event["purposeOfEvent"] = [{"coding": [BTG], "text": actor.btg_reason}]
    event["agent"] = _agents(actor, AUTHZ, mask(base_url))
    event["source"] = {
        "site": mask(base_url),
        "observer": {"display": "fhir-server"},
        "type": [_coding(SOURCE_TYPE, "4", "Application Server")],
    }
    patient = _entity("1", "1", [])
    patient["what"] = {"reference": f"Patient/{mask(decision.patient)}"}
    entities = [patient]
    for ref in decision.consents:
        entities.append({"type": CONSENT_TYPE, "what": {"reference": mask(ref)}})
    event["entity"] = entities
    return event
