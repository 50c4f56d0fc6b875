"""HospitalNotification (advis om sygehusophold) → the Encounter of the citizen's hospital stay,
created or updated by MedCom's activity code table, and the care team told (a Task).

Only for citizens the receiving organization **serves**: a current care relationship between
the receiving Organization and the citizen, as this server's care relationship index shows it
(`fhir_server/care_relationships.py`: a CareTeam it manages, a general practitioner, a referral
it performs, a Task it owns, …). Anything else is a fatal-error that says no more than that.

The stay is one Encounter per episode-of-care identifier and class (MedCom: a change from
acute ambulant to inpatient, or to another hospital, is a new stay): ``Encounter.identifier``
holds the episode-of-care identifiers it was notified under."""

from __future__ import annotations

from typing import Any

import orjson

from fhir_server.interactions.context import Context
from medcom.acknowledgement import now_instant
from medcom.codes import HOSPITAL_NOTIFICATION, MESSAGE_HEADER_ID, OPERATION_OUTCOME_CODES
from medcom.inbound import HandlerResult, register
from medcom.inbound.checks import token
from medcom.inbound.filing import (
    create,
    not_here,
    organization_reference,
    patient_here,
    receiving_organization,
    search_one,
    update,
)
from medcom.inbound.message import Message, Problem, Rejected, parsed

IN_PROGRESS, ONLEAVE, FINISHED, ERROR = "in-progress", "onleave", "finished", "entered-in-error"

STATUS: dict[str, str] = {
    "admit-emergency": IN_PROGRESS,
    "revise-admit-emergency": IN_PROGRESS,
    "cancel-admit-emergency": ERROR,
    "admit-inpatient": IN_PROGRESS,
    "revise-admit-inpatient": IN_PROGRESS,
    "cancel-admit-inpatient": ERROR,
    "start-leave-inpatient": ONLEAVE,
    "revise-start-leave-inpatient": ONLEAVE,
    "cancel-start-leave-inpatient": IN_PROGRESS,
    "end-leave-inpatient": IN_PROGRESS,
    "revise-end-leave-inpatient": IN_PROGRESS,
    "cancel-end-leave-inpatient": ONLEAVE,
    "discharge-emergency-home": FINISHED,
    "revise-discharge-emergency-home": FINISHED,
    "cancel-discharge-emergency-home": IN_PROGRESS,
    "discharge-inpatient-home": FINISHED,
    "revise-discharge-inpatient-home": FINISHED,
    "cancel-discharge-inpatient-home": IN_PROGRESS,
}
"""MedCom's activity code → the Encounter.status it leaves (the sources' A.3 table); a death
(MORS) keeps the current activity and is told by ``Patient.deceased``: finished."""

_DANISH = {
    IN_PROGRESS: "indlagt/igangværende (in progress)",
    ONLEAVE: "på orlov (on leave)",
    FINISHED: "afsluttet (finished)",
    ERROR: "annulleret (entered in error)",
}
_KEPT = ("status", "class", "period", "extension", "serviceProvider")
_TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"


async def hospital_notification(ctx: Context, bundle: dict[str, Any]) -> HandlerResult:
    message = parsed(bundle)
    assert message is not None
    focus = (message.header.get("focus") or [None])[0]
    incoming = message.resolve(focus)
    where = f"Bundle.entry[{message.header_index}].resource.focus"
    if incoming is None or incoming.get("resourceType") != "Encounter":
        raise _rejected("The MessageHeader's focus is not an Encounter of the message", where)
    at = f"Bundle.entry[{message.index_of(incoming)}].resource"
    patient = message.resolve(incoming.get("subject"))
    assert patient is not None
    stored_patient = await patient_here(ctx, message, patient)
    receiver = await receiving_organization(ctx, message)
    if not await ctx.is_related(stored_patient.id, [f"Organization/{receiver}"], now_instant()):
        raise not_here(message, patient)
    activity = message.activity or ""
    deceased = patient.get("deceasedBoolean") is True or "deceasedDateTime" in patient
    status = FINISHED if deceased else STATUS.get(activity)
    if status is None:
        raise _rejected(
            "The current Provenance's activity is no HospitalNotification activity",
            f"Bundle.entry[{message.index_of(message.current_provenance or {})}].resource.activity"
            if message.current_provenance
            else "Bundle",
        )
    if not deceased and incoming.get("status") != status and not _cancels_death(message):
        raise _rejected(
            f"Encounter.status must be {status} for activity {activity}", f"{at}.status"
        )
    if _cancels_death(message):
        status = str(incoming.get("status"))

    episodes = [
        e["identifier"]
        for e in incoming.get("episodeOfCare") or []
        if isinstance(e, dict) and isinstance(e.get("identifier"), dict)
    ]
    class_code = (incoming.get("class") or {}).get("code", "")
    current = None
    for identifier in episodes:
        pairs = [
            ("identifier", token(identifier.get("system"), identifier.get("value"))),
            ("class", str(class_code)),
            ("subject", f"Patient/{stored_patient.id}"),
        ]
        current = await search_one(ctx, "Encounter", pairs)
        if current is not None:
            break

    encounter: dict[str, Any] = (
        orjson.loads(current.content or b"{}")
        if current is not None
        else {"resourceType": "Encounter"}
    )
    encounter.pop("meta", None)
    for key in _KEPT:
        if key in incoming:
            encounter[key] = incoming[key]
        elif key in ("extension",):
            encounter.pop(key, None)
    encounter["status"] = status
    encounter["identifier"] = _merged(encounter.get("identifier") or [], episodes)
    encounter["episodeOfCare"] = [{"identifier": i} for i in encounter["identifier"]]
    encounter["subject"] = {"reference": f"Patient/{stored_patient.id}"}
    provider = await organization_reference(
        ctx, message, message.resolve(incoming.get("serviceProvider"))
    )
    if provider:
        encounter["serviceProvider"] = {"reference": provider}
    else:
        encounter.pop("serviceProvider", None)  # the hospital is not in this directory
    encounter["text"] = {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>Sygehusophold (hospital stay): '
        f"{_DANISH[status]}; advis {activity or 'død (deceased)'}</p></div>",
    }
    if current is None:
        stored = await create(ctx, "Encounter", encounter)
    else:
        stored = await update(ctx, current, encounter)
    written = [f"Encounter/{stored.id}"]
    if deceased or _cancels_death(message):
        person = orjson.loads(stored_patient.content or b"{}")
        if deceased:
            person.pop("deceasedDateTime", None)
            person["deceasedBoolean"] = True
        else:
            person.pop("deceasedDateTime", None)
            person["deceasedBoolean"] = False
        person.pop("meta", None)
        await update(ctx, stored_patient, person)
        written.append(f"Patient/{stored_patient.id}")
    task = await _tell_care_team(
        ctx, message, stored_patient.id, stored.id, receiver, status, activity
    )
    written.append(f"Task/{task}")
    return HandlerResult(written=written)


async def _tell_care_team(
    ctx: Context,
    message: Message,
    patient: str,
    encounter: str,
    receiver: str,
    status: str,
    activity: str,
) -> str:
    """A Task for the managing organization of the citizen's active CareTeam (the receiving
    organization when there is none): "look at this stay"."""
    team = await search_one(
        ctx, "CareTeam", [("subject", f"Patient/{patient}"), ("status", "active")]
    )
    owner = f"Organization/{receiver}"
    if team is not None:
        managing = (orjson.loads(team.content or b"{}").get("managingOrganization") or [{}])[0]
        owner = managing.get("reference") or owner
    task = {
        "resourceType": "Task",
        "identifier": [{"system": MESSAGE_HEADER_ID, "value": message.header_id}],
        "status": "requested",
        "intent": "order",
        "code": {
            "coding": [{"system": _TASK_CODE, "code": "fulfill"}],
            "text": "Advis om sygehusophold",
        },
        "description": f"Advis om sygehusophold (hospital notification): {activity or 'død'} — "
        f"{_DANISH[status]}",
        "focus": {"reference": f"Encounter/{encounter}"},
        "for": {"reference": f"Patient/{patient}"},
        "authoredOn": now_instant(),
        "owner": {"reference": owner},
    }
    stored = await create(ctx, "Task", task)
    return stored.id


def _cancels_death(message: Message) -> bool:
    """AN_MORS: the Patient alive again and the current Provenance removes an earlier message."""
    patient = next(iter(message.of_type("Patient")), {})
    return patient.get("deceasedBoolean") is False and bool(message.preceding(("removal",)))


def _merged(existing: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = list(existing)
    for identifier in new:
        key = (identifier.get("system"), identifier.get("value"))
        if all((i.get("system"), i.get("value")) != key for i in out):
            out.append({k: identifier[k] for k in ("system", "value") if k in identifier})
    return out


def _rejected(text: str, where: str) -> Rejected:
    return Rejected(
        [Problem(text, where, (OPERATION_OUTCOME_CODES, "MSG_BAD_FORMAT"), "business-rule")]
    )


register(HOSPITAL_NOTIFICATION, hospital_notification)
