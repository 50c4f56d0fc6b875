"""A CareCommunication 5.0 message built from the shared record (docs/medcom.md, "Outbound"):
the Communication (thread id, category, priority, topic, every message segment), the patient,
the sending and receiving organizations (SOR + EAN/GLN), the author's PractitionerRole,
Practitioner and phone, the Provenance chain and the versioned ``definition`` canonical, each
resource with its Danish/English narrative; checked against the message profile before it is
returned or sent."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from fhir_server.errors import FhirError, Issue, NotSupported, Unprocessable
from fhir_server.interactions.context import Context
from fhir_server.write_checks import profile_issues
from medcom import outbox
from medcom.acknowledgement import ack_id
from medcom.codes import (
    ACTIVITY_CODES,
    CARE_COMMUNICATION,
    CATEGORY_CODES,
    CC_CATEGORY_DANISH,
    CC_COMMUNICATION,
    CC_DEFINITION,
    CC_HEADER,
    CC_MESSAGE,
    CC_PROVENANCE,
    CONTACT_EXTENSION,
    CORE_ORGANIZATION,
    CORE_PRACTITIONER,
    CORE_PRACTITIONER_ROLE,
    DATETIME_EXTENSION,
    DESTINATION_USE,
    DESTINATION_USE_EXTENSION,
    EVENT_CODES,
    IDENTIFIER_EXTENSION,
    MESSAGE_HEADER_ID,
    PRACTITIONER_EXTENSION,
    SOR_ENDPOINT,
)
from medcom.outbound import parts
from medcom.outbound.narrative import narrate
from profiles.danish.identifiers import SOR_SYSTEM


@dataclass
class Draft:
    """What the message is to say, as the operation read it from the record."""

    patient_id: str
    category: str
    text: str
    activity: str = "new-message"
    priority: str | None = None
    topic: str | None = None
    communication_id: str | None = None
    """The record Communication the message carries (a clinician's), else a new one."""
    answered: dict[str, Any] | None = None
    """The Communication a reply answers or a forward passes on."""
    attachments: list[dict[str, Any]] = field(default_factory=list)
    about: str | None = None
    """``Type/id`` of the record resource the message renders."""


@dataclass
class Message:
    bundle: dict[str, Any]
    header_id: str
    communication_id: str
    thread: str
    patient_id: str
    receiver_id: str
    receiver_key: str
    """The key of the receiver's endpoint (`Settings.medcom_endpoints`): its SOR id or
    EAN/GLN (`parts.endpoint_key`)."""
    sender_id: str
    kind: str = "carecommunication"


def sender_id(ctx: Context) -> str:
    sender = ctx.settings.medcom_sender
    if not sender:
        raise NotSupported(
            "This server sends no MedCom messages: no sending organization is configured "
            "(FHIR_MEDCOM_SENDER)"
        )
    return sender


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _entry(ctx: Context, resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "fullUrl": f"{ctx.base_url}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
    }


async def previous_message(ctx: Context, communication: dict[str, Any]) -> dict[str, Any] | None:
    """The MedCom message that carried ``communication`` (its MessageHeader.id, identifier
    system `MESSAGE_HEADER_ID`) and the resources of it this server holds: all of it when this
    server sent it (its outbox entry, `medcom.outbox`); when it received it, the
    message's latest Provenance (kept in the Acknowledgement it answered with, inbound's
    `medcom.reliable`) and, through that Provenance's preceding message, the thread's earlier
    Provenances this server sent."""
    header = next(
        (
            i.get("value")
            for i in communication.get("identifier", [])
            if i.get("system") == MESSAGE_HEADER_ID
        ),
        None,
    )
    if not header:
        return None
    entries = await _sent(ctx, str(header))
    if entries is None:
        entries = await _received(ctx, str(header))
    return {"header": header, "entries": entries}


async def _sent(ctx: Context, header: str) -> list[dict[str, Any]] | None:
    """The resources of message ``header`` if this server sent it (its outbox entry)."""
    delivery = await outbox.read(ctx, header)
    if delivery is None:
        return None
    return [e["resource"] for e in delivery.message().get("entry", [])]


async def _received(ctx: Context, header: str) -> list[dict[str, Any]]:
    stored = await ctx.read("Bundle", ack_id(header))
    if stored is None or stored.deleted or stored.content is None:
        return []
    ack = orjson.loads(stored.content)
    latest = [
        e["resource"]
        for e in ack.get("entry", [])
        if e.get("resource", {}).get("resourceType") == "Provenance"
        and e["resource"].get("target", [{}])[0].get("reference") == f"MessageHeader/{header}"
    ]
    out: list[dict[str, Any]] = []
    for provenance in latest:
        for entity in provenance.get("entity", []):
            before = parts.reference_id(entity.get("what"), "MessageHeader")
            if entity.get("role") == "revision" and before:
                earlier = await _sent(ctx, before) or []
                out += [r for r in earlier if r.get("resourceType") == "Provenance"]
    return out + latest


def _segment(
    text: str, when: str, segment: str, sender: str, role_id: str, phone: str
) -> dict[str, Any]:
    return {
        "extension": [
            {"url": DATETIME_EXTENSION, "valueDateTime": when},
            {
                "url": IDENTIFIER_EXTENSION,
                "valueIdentifier": {
                    "value": segment,
                    "assigner": {"reference": f"Organization/{sender}"},
                },
            },
            {
                "url": PRACTITIONER_EXTENSION,
                "valueReference": {"reference": f"PractitionerRole/{role_id}"},
            },
            {"url": CONTACT_EXTENSION, "valueContactPoint": {"system": "phone", "value": phone}},
        ],
        "contentString": text,
    }


def _earlier_segments(answered: dict[str, Any], reply: bool) -> list[dict[str, Any]]:
    """The segments of the message answered (a reply carries every earlier text, and of an
    attachment only its identifier; a forward carries the attachments' content)."""
    out = []
    for p in answered.get("payload", []):
        p = orjson.loads(orjson.dumps(p))
        if reply and "contentAttachment" in p:
            att = p["contentAttachment"]
            p["contentAttachment"] = {k: v for k, v in att.items() if k not in ("data", "url")}
        out.append(p)
    return out


async def build(ctx: Context, draft: Draft, receiver: str | None, author: str | None) -> Message:
    """The CareCommunication message of ``draft`` to Organization ``receiver`` written by
    PractitionerRole ``author``; 422 naming the element when the record cannot make a valid
    one."""
    if draft.category not in CC_CATEGORY_DANISH:
        raise Unprocessable(
            f"category {draft.category!r} is no CareCommunication category", ["category"]
        )
    if draft.category == "other" and not draft.topic:
        raise Unprocessable(
            "category 'other' needs a topic (medcom-careCommunication-6)", ["topic"]
        )
    if not draft.text.strip():
        raise Unprocessable("A CareCommunication needs message text", ["text"])
    sender = sender_id(ctx)
    sender_org = parts.organization(
        await parts.own(ctx, "Organization", sender, "sender"), "sender"
    )
    receiver_id = parts.reference_id(receiver, "Organization") if receiver else None
    receiver_org = parts.organization(
        await parts.visible(ctx, "Organization", receiver_id, "receiver"), "receiver"
    )
    patient = parts.patient(
        await parts.visible(ctx, "Patient", draft.patient_id, "subject"), "subject"
    )
    role_id = parts.reference_id(author, "PractitionerRole") if author else None
    role = await parts.visible(ctx, "PractitionerRole", role_id, "author")
    practitioner_id = parts.reference_id(role.get("practitioner"), "Practitioner")
    person = await parts.visible(ctx, "Practitioner", practitioner_id, "author")
    phone = parts.phone(role, person)
    if phone is None:
        raise Unprocessable(
            "author: the PractitionerRole (or its Practitioner) has no phone number, which a "
            "CareCommunication gives with every message text",
            ["author"],
        )
    assert role_id is not None and practitioner_id is not None and receiver_id is not None
    when = parts.now()
    header_id = str(uuid.uuid4())
    communication_id = draft.communication_id or str(uuid.uuid4())
    segment = urn()
    previous = None
    thread = urn()
    payload: list[dict[str, Any]] = []
    if draft.answered is not None:
        previous = await previous_message(ctx, draft.answered)
        if draft.activity == "reply-message":
            thread = next(
                (
                    i["value"]
                    for i in draft.answered.get("identifier", [])
                    if str(i.get("value", "")).startswith("urn:uuid:")
                    and i.get("system") in (None, "urn:ietf:rfc:3986")
                ),
                thread,
            )
        payload = _earlier_segments(draft.answered, draft.activity == "reply-message")
    payload.append(_segment(draft.text, when, segment, sender, role_id, phone))
    for att in draft.attachments:
        payload.append(
            {
                "extension": [
                    {"url": DATETIME_EXTENSION, "valueDateTime": when},
                    {
                        "url": IDENTIFIER_EXTENSION,
                        "valueIdentifier": {
                            "value": urn(),
                            "assigner": {"reference": f"Organization/{sender}"},
                        },
                    },
                ],
                "contentAttachment": att,
            }
        )
    new_segments = [
        e["valueIdentifier"]["value"]
        for p in payload[len(payload) - 1 - len(draft.attachments) :]
        for e in p["extension"]
        if e["url"] == IDENTIFIER_EXTENSION
    ]
    communication: dict[str, Any] = {
        "resourceType": "Communication",
        "id": communication_id,
        "meta": {"profile": [CC_COMMUNICATION]},
        "identifier": [{"value": thread}],
        "status": "unknown",
        "category": [{"coding": [{"system": CATEGORY_CODES, "code": draft.category}]}],
        "subject": {"reference": f"Patient/{patient['id']}"},
        "payload": payload,
    }
    if draft.priority is not None:
        if draft.category != "regarding-referral":
            raise Unprocessable(
                "priority is given only with category 'regarding-referral' "
                "(medcom-careCommunication-5)",
                ["priority"],
            )
        communication["priority"] = draft.priority
    if draft.topic:
        communication["topic"] = {"text": draft.topic}
    header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "meta": {"profile": [CC_HEADER]},
        "eventCoding": {"system": EVENT_CODES, "code": CARE_COMMUNICATION},
        "destination": [
            {
                "extension": [
                    {
                        "url": DESTINATION_USE_EXTENSION,
                        "valueCoding": {"system": DESTINATION_USE, "code": "primary"},
                    }
                ],
                "endpoint": SOR_ENDPOINT + _sor(receiver_org),
                "receiver": {"reference": f"Organization/{receiver_id}"},
            }
        ],
        "sender": {"reference": f"Organization/{sender}"},
        "source": {"endpoint": SOR_ENDPOINT + _sor(sender_org)},
        "focus": [{"reference": f"Communication/{communication_id}"}],
        "definition": CC_DEFINITION,
    }
    entity: list[dict[str, Any]] = []
    if previous is not None:
        entity.append(
            {"role": "revision", "what": {"reference": f"MessageHeader/{previous['header']}"}}
        )
    entity += [{"role": "source", "what": {"identifier": {"value": s}}} for s in new_segments]
    provenance = {
        "resourceType": "Provenance",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [CC_PROVENANCE]},
        "target": [{"reference": f"MessageHeader/{header_id}"}],
        "occurredDateTime": when,
        "recorded": when,
        "activity": {"coding": [{"system": ACTIVITY_CODES, "code": draft.activity}]},
        "agent": [{"who": {"reference": f"Organization/{sender}"}}],
        "entity": entity,
    }
    resources = [
        header,
        communication,
        patient,
        sender_org,
        receiver_org,
        parts.practitioner_role(role, practitioner_id, sender, "author"),
        parts.practitioner(person, "author"),
    ]
    resources += _carried_over(previous, resources)
    if draft.answered is not None:
        resources += await _lifted(ctx, draft.answered, payload, resources)
    resources.append(provenance)
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [CC_MESSAGE]},
        "type": "message",
        "timestamp": when,
        "entry": [_entry(ctx, narrate(r)) for r in resources],
    }
    check(ctx, bundle, CC_MESSAGE)
    return Message(
        bundle,
        header_id,
        communication_id,
        thread,
        str(patient["id"]),
        receiver_id,
        parts.endpoint_key(ctx, receiver_org),
        sender,
    )


def _sor(org: dict[str, Any]) -> str:
    return parts.identifier(org, SOR_SYSTEM) or ""


def _carried_over(
    previous: dict[str, Any] | None, present: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """From the message answered: its Provenances (the thread's history) and the
    organizations, roles and practitioners its segments name, unless already present."""
    if previous is None:
        return []
    have = {(r["resourceType"], r["id"]) for r in present}
    out = []
    for r in previous["entries"]:
        key = (r.get("resourceType"), r.get("id"))
        kinds = ("Provenance", "Organization", "PractitionerRole", "Practitioner")
        if key[0] in kinds and key not in have:
            have.add(key)
            out.append(r)
    return out


async def _lifted(
    ctx: Context,
    answered: dict[str, Any],
    payload: list[dict[str, Any]],
    present: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """What the earlier segments name and the Bundle lacks: a received Communication keeps its
    message's authors contained (``#id``, inbound) and names organizations as stored here, so
    those become entries again (their references rewritten to ``Type/id``), each organization
    with its SOR and EAN; an assigner nowhere to be found is the answered message's sender."""
    have = {f"{r['resourceType']}/{r['id']}": r for r in present}
    contained = {str(c.get("id")): c for c in answered.get("contained", []) if c.get("id")}
    out: list[dict[str, Any]] = []
    fallback = (answered.get("sender") or {}).get("reference")

    async def organization(ref: str | None) -> str | None:
        oid = parts.reference_id(ref, "Organization") if ref else None
        if oid is None:
            return None
        key = f"Organization/{oid}"
        if key not in have:
            try:
                org = await parts.visible(ctx, "Organization", oid, "Communication.inResponseTo")
                have[key] = parts.core_organization(org, "Communication.inResponseTo")
            except FhirError:
                return None
            out.append(have[key])
        return key

    async def lift(ref: str) -> str | None:
        if not ref.startswith("#"):
            return ref if ref in have else await organization(ref)
        source = contained.get(ref[1:])
        if source is None:
            return None
        key = f"{source['resourceType']}/{source['id']}"
        if key in have:
            return key
        copy = {k: v for k, v in source.items() if k not in ("meta", "text")}
        profile = {"PractitionerRole": CORE_PRACTITIONER_ROLE, "Practitioner": CORE_PRACTITIONER}
        copy["meta"] = {"profile": [profile.get(copy["resourceType"], CORE_ORGANIZATION)]}
        have[key] = copy
        out.append(copy)
        if copy["resourceType"] != "PractitionerRole":
            return key  # only a role names its practitioner and organization
        for name in ("practitioner", "organization"):
            inner = (copy.get(name) or {}).get("reference")
            lifted = await lift(inner) if inner else None
            if lifted is not None:
                copy[name] = {"reference": lifted}
            elif name == "organization" and fallback and await organization(fallback):
                copy[name] = {"reference": await organization(fallback)}
            else:
                copy.pop(name, None)
        return key

    for segment in payload[:-1]:
        for ext in segment.get("extension", []):
            value = ext.get("valueReference")
            if isinstance(value, dict) and isinstance(value.get("reference"), str):
                lifted = await lift(value["reference"])
                if lifted is not None:
                    value["reference"] = lifted
            ident = ext.get("valueIdentifier")
            if isinstance(ident, dict) and isinstance(ident.get("assigner"), dict):
                ref = ident["assigner"].get("reference")
                found = (ref if ref in have else None) or await organization(ref)
                found = found or await organization(fallback)
                if found is not None:
                    ident["assigner"] = {"reference": found}
    return out


def check(ctx: Context, bundle: dict[str, Any], profile: str) -> None:
    """422 with the validator's issues unless the message is valid against ``profile``: no
    message leaves that the receiver would refuse for its form."""
    issues = profile_issues(bundle, [profile], ctx.services.checks)
    errors = [i for i in issues if i.severity in ("error", "fatal")]
    if errors:
        raise Unprocessable(
            f"The message built is not valid against {profile}; the record lacks what it needs",
            issues=[Issue(i.code, i.diagnostics, i.expression, i.severity) for i in errors],
        )
