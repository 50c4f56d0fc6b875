"""``$medcom-carecommunication`` and ``$medcom-hospitalnotification`` (docs/medcom.md,
"Outbound"): build the MedCom message of a record resource and return it; with ``send=true``
also record it and put it in the outbox (`medcom.outbox`) in one unit of work.

Inputs (a Parameters body, or the query): ``receiver`` (Reference to the receiving
Organization), ``author`` (Reference to the writing PractitionerRole; CareCommunication),
``text`` (the message text; a rendering puts it before the rendered record), ``category``,
``topic``, ``activity`` (a Communication: ``new``, ``reply`` — the default when it answers one
(``inResponseTo``) — or ``forward``; an Encounter: a HospitalNotification activity code, else
derived from the Encounter's change), ``patient`` (``MedicationStatement/$…`` at type level),
``send`` (boolean).

Access: everything rendered is read through the caller's access (what it may not read is
answered as unknown); the operation needs read permission on its type. Sending needs, besides:
a CareCommunication, create on Communication (a rendering records a new Communication) or update
of the clinician's Communication it carries; a HospitalNotification, update on Encounter (who
may not change a stay may not announce its change)."""

from __future__ import annotations

from typing import Any

import orjson

from fhir_server.errors import Invalid, Unprocessable
from fhir_server.interactions.common import every, searcher
from fhir_server.interactions.context import Context, FhirResult
from fhir_server.operations import Operation
from fhir_server.operations.inputs import Inputs
from fhir_server.search.resolve import build_query
from fhir_server.store.base import UnitOfWork
from medcom.codes import CATEGORY_CODES, CC_CATEGORY_DANISH, MESSAGE_HEADER_ID
from medcom.outbound import hospitalnotification, parts, renderings
from medcom.outbound.carecommunication import Draft, Message, build
from medcom.outbox import delivery_status, enqueue

CC_TYPES = frozenset(
    {"CarePlan", "ServiceRequest", "MedicationStatement", "CareTeam", "Communication"}
)
OPERATION_DEFINITIONS = "http://faellesforloeb.dk/fhir/OperationDefinition"
"""This project's canonical base of its own operations (the CapabilityStatement names them)."""
_ACTIVITIES = {"new": "new-message", "reply": "reply-message", "forward": "forward-message"}


def _reference(inputs: Inputs, name: str) -> str | None:
    value = inputs.value(name, "Reference")
    if isinstance(value, dict):
        value = value.get("reference")
    if value is not None and not isinstance(value, str):
        raise Invalid(f"Parameter {name!r} must be a reference", [name])
    return value


def _send(inputs: Inputs) -> bool:
    value = inputs.value("send", "Boolean")
    if value in (None, False, "false"):
        return False
    if value in (True, "true"):
        return True
    raise Invalid("Parameter 'send' must be true or false", ["send"])


def _text(inputs: Inputs) -> str:
    value = inputs.value("text", "String", "Markdown")
    if value is not None and not isinstance(value, str):
        raise Invalid("Parameter 'text' must be a string", ["text"])
    return value or ""


def _subject(resource: dict[str, Any], where: str) -> str:
    pid = parts.reference_id(resource.get("subject") or resource.get("patient"), "Patient")
    if pid is None:
        raise Unprocessable(f"{where} is about no Patient", [f"{where}.subject"])
    return pid


async def care_communication(
    ctx: Context, inputs: Inputs, type_: str | None, id_: str | None
) -> FhirResult:
    assert type_ is not None
    draft = await _draft(ctx, inputs, type_, id_)
    message = await build(ctx, draft, _reference(inputs, "receiver"), _reference(inputs, "author"))
    if _send(inputs):
        await _record_and_queue(ctx, type_, id_, draft, message)
    return FhirResult(200, body=orjson.dumps(message.bundle))


async def _draft(ctx: Context, inputs: Inputs, type_: str, id_: str | None) -> Draft:
    text = _text(inputs)
    category = inputs.value("category", "Code")
    topic = inputs.value("topic", "String")
    if id_ is None and type_ != "MedicationStatement":
        raise Invalid(f"{type_}/$medcom-carecommunication runs on one {type_}: {type_}/[id]/…")
    source = await parts.visible(ctx, type_, id_, type_) if id_ is not None else None
    if type_ == "MedicationStatement":
        pid = (
            _subject(source, type_)
            if source
            else parts.reference_id(_reference(inputs, "patient"), "Patient")
        )
        if pid is None:
            raise Invalid(
                "MedicationStatement/$medcom-carecommunication needs a patient", ["patient"]
            )
        statements = await _statements(ctx, pid)
        rendered = renderings.medication_list(statements)
        return Draft(
            pid, category or "medicine", _join(text, rendered), topic=topic, about=f"Patient/{pid}"
        )
    assert source is not None
    pid = _subject(source, type_)
    about = f"{type_}/{id_}"
    if type_ == "CarePlan":
        return Draft(
            pid,
            category or "carecoordination",
            _join(text, renderings.care_plan(source)),
            topic=topic,
            about=about,
        )
    if type_ == "ServiceRequest":
        return Draft(
            pid,
            category or "regarding-referral",
            _join(text, renderings.service_request(source)),
            topic=topic,
            priority=renderings.priority(source),
            about=about,
        )
    if type_ == "CareTeam":
        return Draft(
            pid,
            category or "carecoordination",
            _join(text, renderings.care_team(source)),
            topic=topic,
            about=about,
        )
    return await _communication_draft(ctx, inputs, source, text, category, topic)


async def _communication_draft(
    ctx: Context,
    inputs: Inputs,
    source: dict[str, Any],
    text: str,
    category: str | None,
    topic: str | None,
) -> Draft:
    """A clinician's Communication: its text, its MedCom category, and what it answers."""
    own = "\n".join(p["contentString"] for p in source.get("payload", []) if p.get("contentString"))
    attachments = [
        p["contentAttachment"] for p in source.get("payload", []) if p.get("contentAttachment")
    ]
    answered_id = next(
        (parts.reference_id(r, "Communication") for r in source.get("inResponseTo", [])), None
    )
    activity = inputs.value("activity", "Code")
    if activity is None:
        activity = "reply" if answered_id else "new"
    if activity not in _ACTIVITIES:
        raise Invalid("activity must be new, reply or forward", ["activity"])
    answered = None
    if activity != "new":
        if answered_id is None:
            raise Unprocessable(
                f"A {activity} needs the Communication it follows in inResponseTo",
                ["Communication.inResponseTo"],
            )
        answered = await parts.visible(
            ctx, "Communication", answered_id, "Communication.inResponseTo"
        )
    pid = _subject(source, "Communication")
    category = category or _category(source) or (_category(answered) if answered else None)
    if category is None:
        raise Unprocessable(
            "The Communication has no CareCommunication category; give one", ["category"]
        )
    topic = topic or (source.get("topic") or {}).get("text")
    priority = source.get("priority") if category == "regarding-referral" else None
    if priority is not None:
        priority = "asap" if priority in ("urgent", "asap", "stat") else "routine"
    return Draft(
        pid,
        category,
        _join(text, own),
        activity=_ACTIVITIES[activity],
        topic=topic,
        priority=priority,
        communication_id=str(source["id"]),
        answered=answered,
        attachments=attachments,
    )


def _category(communication: dict[str, Any]) -> str | None:
    """The MedCom category a Communication of the record has, if any."""
    for c in communication.get("category", []):
        for coding in c.get("coding", []):
            if coding.get("system") == CATEGORY_CODES and coding.get("code") in CC_CATEGORY_DANISH:
                return str(coding["code"])
    return None


def _join(*texts: str) -> str:
    return "\n\n".join(t for t in texts if t and t.strip())


async def _statements(ctx: Context, patient_id: str) -> list[dict[str, Any]]:
    """The patient's MedicationStatements the caller may read (active first, as stored)."""
    await parts.visible(ctx, "Patient", patient_id, "patient")
    query = await build_query(
        searcher(ctx),
        "MedicationStatement",
        [("subject", f"Patient/{patient_id}")],
        params=ctx.params,
        default_count=1000,
        max_count=1000,
    )
    await ctx.access.narrow(query, "rs", quiet=True)
    found = await ctx.access.admit_all(await every(ctx, query), "r")
    return [orjson.loads(s.content or b"{}") for s in found if not s.deleted]


async def _record_and_queue(
    ctx: Context, type_: str, id_: str | None, draft: Draft, message: Message
) -> None:
    """The record's Communication (the clinician's, updated; or a new one for a rendering),
    the message and its outbox entry, in one unit of work."""
    _endpoint(ctx, message)
    payload = message.bundle["entry"][1]["resource"]["payload"]
    new_segments = payload[len(payload) - 1 - len(draft.attachments) :]

    async def work(uow: UnitOfWork) -> None:
        if type_ == "Communication":
            assert id_ is not None
            current = await ctx.access.admit_target(await uow.read(type_, id_), "u")
            if current is None or current.deleted:
                raise Unprocessable(f"Communication/{id_} is not known", ["Communication"])
            record = orjson.loads(current.content or b"{}")
            action = "u"
        else:
            ctx.access.require("Communication", "c")
            record = {
                "resourceType": "Communication",
                "subject": {"reference": f"Patient/{message.patient_id}"},
                "about": [{"reference": draft.about}],
            }
            action = "c"
        record = _as_sent(record, draft, message, new_segments)
        ctx.services.checks.check_resource("Communication", record)
        record = ctx.access.prepare("Communication", record)
        stored, _ = await uow.write(
            "Communication",
            message.communication_id,
            record,
            method="PUT" if action == "u" else "POST",
            must_not_exist=action == "c",
        )
        await ctx.access.check_written(stored, action)
        await enqueue(
            ctx,
            uow,
            message.bundle,
            message.header_id,
            message.patient_id,
            message.receiver_id,
            message.receiver_key,
            message.communication_id,
            draft.about,
        )

    await ctx.write(work)


def _endpoint(ctx: Context, message: Message) -> None:
    if message.receiver_key not in ctx.settings.medcom_endpoints:
        raise Unprocessable(
            f"receiver: no MedCom endpoint is configured for its SOR id or EAN/GLN "
            f"({message.receiver_key}; FHIR_MEDCOM_ENDPOINTS)",
            ["receiver"],
        )


def _as_sent(
    record: dict[str, Any], draft: Draft, message: Message, segments: list[dict[str, Any]]
) -> dict[str, Any]:
    """The record's Communication as sent: thread id, category, the message's segments, who
    from and to, when, and the MessageHeader.id that carries it; delivery status queued."""
    out = {k: v for k, v in record.items() if k not in ("meta", "id", "text")}
    idents = [
        i
        for i in out.get("identifier", [])
        if i.get("value") != message.thread and i.get("system") != MESSAGE_HEADER_ID
    ]
    out["identifier"] = [
        {"system": "urn:ietf:rfc:3986", "value": message.thread},
        *idents,
        {"system": MESSAGE_HEADER_ID, "value": message.header_id},
    ]
    out["category"] = [
        {
            "coding": [
                {
                    "system": CATEGORY_CODES,
                    "code": draft.category,
                    "display": CC_CATEGORY_DANISH[draft.category],
                }
            ]
        }
    ]
    if draft.priority:
        out["priority"] = draft.priority
    if draft.topic:
        out["topic"] = {"text": draft.topic}
    out["payload"] = segments
    out["sender"] = {"reference": f"Organization/{message.sender_id}"}
    out["recipient"] = [{"reference": f"Organization/{message.receiver_id}"}]
    out["sent"] = message.bundle["timestamp"]
    return delivery_status(out, "queued")


CARE_COMMUNICATION = Operation(
    "medcom-carecommunication",
    frozenset({"instance", "type"}),
    CC_TYPES,
    care_communication,
    affects_state=True,
    definition=f"{OPERATION_DEFINITIONS}/medcom-carecommunication",
    scope_letters="r",
)
"""Type level only for MedicationStatement (a patient's list: ``patient``)."""

HOSPITAL_NOTIFICATION = Operation(
    "medcom-hospitalnotification",
    frozenset({"instance"}),
    frozenset({"Encounter"}),
    hospitalnotification.operation,
    affects_state=True,
    definition=f"{OPERATION_DEFINITIONS}/medcom-hospitalnotification",
    scope_letters="r",
)
