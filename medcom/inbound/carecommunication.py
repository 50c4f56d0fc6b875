"""CareCommunication (korrespondancemeddelelse) → a Communication in the shared record.

Field by field (docs/medcom.md, "Inbound"): the citizen by CPR or replacement CPR; the thread by
``Communication.identifier`` (kept on a reply, new on a forward) and the Provenance chain (a
reply's ``inResponseTo`` is the Communication its preceding MessageHeader became, and it keeps
what that one concerned: ``basedOn`` — the ServiceRequest/CarePlan — and ``about``); the episode
of care through the stored Encounter with that episode-of-care identifier; the message's people
(author PractitionerRoles, Practitioners, CareTeams) contained, its Organizations linked to the
stored ones by SOR/EAN; payload segments — text and attachments — kept as they came, with their
MedCom extensions (date, segment identifier, author, contact)."""

from __future__ import annotations

from typing import Any

import orjson

from fhir_server.interactions.context import Context
from fhir_server.references import local_reference
from medcom.acknowledgement import now_instant
from medcom.codes import CARE_COMMUNICATION, MESSAGE_HEADER_ID, OPERATION_OUTCOME_CODES
from medcom.inbound import HandlerResult, register
from medcom.inbound.checks import token
from medcom.inbound.filing import (
    create,
    organization_reference,
    patient_here,
    receiving_organization,
    search_one,
)
from medcom.inbound.message import Message, Problem, Rejected, parsed

_COPIED = ("category", "priority", "topic", "text", "payload", "note", "reasonCode")
_SENDER_EXTENSION = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-sender-extension"
_CONTAINED = ("PractitionerRole", "Practitioner", "CareTeam", "Organization")


async def care_communication(ctx: Context, bundle: dict[str, Any]) -> HandlerResult:
    message = parsed(bundle)
    assert message is not None
    focus = (message.header.get("focus") or [None])[0]
    incoming = message.resolve(focus)
    if incoming is None or incoming.get("resourceType") != "Communication":
        raise Rejected(
            [
                Problem(
                    "The MessageHeader's focus is not a Communication of the message",
                    f"Bundle.entry[{message.header_index}].resource.focus",
                    (OPERATION_OUTCOME_CODES, "MSG_RESOURCE_REQUIRED"),
                    "required",
                )
            ]
        )
    patient = message.resolve(incoming.get("subject"))
    assert patient is not None  # the message's references resolve (checks)
    stored_patient = await patient_here(ctx, message, patient)
    receiver = await receiving_organization(ctx, message)

    contained: dict[str, dict[str, Any]] = {}
    communication: dict[str, Any] = {"resourceType": "Communication"}
    communication["identifier"] = [
        *(i for i in incoming.get("identifier") or [] if isinstance(i, dict)),
        {"system": MESSAGE_HEADER_ID, "value": message.header_id},
    ]
    communication["status"] = "completed"
    for key in _COPIED:
        if key in incoming:
            communication[key] = incoming[key]
    communication["subject"] = {"reference": f"Patient/{stored_patient.id}"}
    sent = (message.current_provenance or {}).get("occurredDateTime")
    if isinstance(sent, str):
        communication["sent"] = sent
    communication["received"] = now_instant()  # when it was filed here

    earlier = None
    for header_id in message.preceding(("revision",)):
        earlier = await search_one(
            ctx, "Communication", [("identifier", token(MESSAGE_HEADER_ID, header_id))]
        )
        if earlier is not None:
            break
    if earlier is not None and message.activity == "reply-message":
        before = orjson.loads(earlier.content or b"{}")
        communication["inResponseTo"] = [{"reference": f"Communication/{earlier.id}"}]
        ctx.vouched.add(("Communication", earlier.id))
        for key in ("basedOn", "about", "partOf"):
            if before.get(key):
                communication[key] = before[key]
                for link in before[key]:  # the server's own link, as the earlier one had it
                    target = local_reference(link, ctx.base_url) if isinstance(link, dict) else None
                    if target is not None:
                        ctx.vouched.add(target)

    encounter = message.resolve(incoming.get("encounter"))
    if encounter is not None:
        here = await _encounter_here(ctx, encounter)
        if here is not None:
            communication["encounter"] = {"reference": f"Encounter/{here}"}

    async def ref(reference: Any) -> dict[str, Any] | None:
        return await _reference(ctx, message, reference, contained)

    specific = _extension_reference(incoming, _SENDER_EXTENSION)
    specific_kind = (message.resolve(specific) or {}).get("resourceType")
    specific_ref = await ref(specific)
    if specific_ref is not None:  # kept as MedCom says it: R4's sender cannot be a CareTeam
        communication["extension"] = [{"url": _SENDER_EXTENSION, "valueReference": specific_ref}]
    sender = specific_ref if specific_kind == "PractitionerRole" else None
    sender = sender or await ref(message.header.get("sender"))
    if sender:
        communication["sender"] = sender
    recipients = [await ref(r) for r in incoming.get("recipient") or []]
    communication["recipient"] = [r for r in recipients if r] + [
        {"reference": f"Organization/{receiver}"}
    ]
    communication["payload"] = [await _payload(p, ref) for p in incoming.get("payload") or []]
    if contained:
        communication["contained"] = list(contained.values())
    stored = await create(ctx, "Communication", communication)
    return HandlerResult(written=[f"Communication/{stored.id}"])


async def _encounter_here(ctx: Context, encounter: dict[str, Any]) -> str | None:
    for episode in encounter.get("episodeOfCare") or []:
        identifier = (episode or {}).get("identifier") or {}
        if identifier.get("system") and identifier.get("value"):
            pair = token(identifier["system"], identifier["value"])
            found = await search_one(ctx, "Encounter", [("identifier", pair)])
            if found is not None:
                return found.id
    return None


def _extension_reference(resource: dict[str, Any], url: str) -> Any:
    for ext in resource.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == url:
            return ext.get("valueReference")
    return None


async def _reference(
    ctx: Context, message: Message, reference: Any, contained: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    """A reference of the message as it is stored here: a stored Organization (by SOR/EAN),
    else the message's resource contained (``#id``) with its own references rewritten."""
    target = message.resolve(reference)
    if target is None or target.get("resourceType") not in _CONTAINED:
        return None
    if target["resourceType"] == "Organization":
        found = await organization_reference(ctx, message, target)
        if found:
            return {"reference": found}
    key = f"{target['resourceType']}/{target.get('id')}"
    local = str(target.get("id"))
    if key not in contained:
        copy = {k: v for k, v in target.items() if k not in ("meta", "text")}
        contained[key] = copy
        for field_name in ("practitioner", "organization", "managingOrganization"):
            value = copy.get(field_name)
            refs = value if isinstance(value, list) else [value] if value else []
            rewritten = [await _reference(ctx, message, r, contained) for r in refs]
            kept = [r for r in rewritten if r]
            if isinstance(value, list):
                copy[field_name] = kept
            elif kept:
                copy[field_name] = kept[0]
            else:
                copy.pop(field_name, None)
        if "participant" in copy:
            copy.pop("participant")  # members named elsewhere in the message only
    return {"reference": f"#{local}"}


async def _payload(payload: dict[str, Any], ref: Any) -> dict[str, Any]:
    """A payload segment as it came, its author reference pointing at the contained author."""
    out = dict(payload)
    extensions = []
    for ext in payload.get("extension") or []:
        if isinstance(ext, dict) and "valueReference" in ext:
            local = await ref(ext["valueReference"])
            if local is None:
                continue
            ext = {**ext, "valueReference": local}
        elif isinstance(ext, dict) and isinstance(ext.get("valueIdentifier"), dict):
            ext = {**ext, "valueIdentifier": await _identifier(ext["valueIdentifier"], ref)}
        extensions.append(ext)
    if extensions:
        out["extension"] = extensions
    return out


async def _identifier(identifier: dict[str, Any], ref: Any) -> dict[str, Any]:
    """A segment identifier whose ``assigner`` names the message's Organization: the assigner
    as stored here (by SOR/EAN, or contained), or none — a reference into the message would
    name no resource on this server."""
    if "assigner" not in identifier:
        return identifier
    out = dict(identifier)
    assigner = out.pop("assigner")
    if isinstance(assigner, dict) and "reference" not in assigner:
        out["assigner"] = assigner  # display or identifier only: kept as it came
    elif (local := await ref(assigner)) is not None:
        out["assigner"] = local
    return out


register(CARE_COMMUNICATION, care_communication)
