"""A HospitalNotification 3.0 message from an Encounter change, for a hospital-side deployment
(docs/medcom.md, "HospitalNotification"): the activity derived from the Encounter's status and
class and its previous version (or given), the Encounter reduced to what MedCom allows (status,
class, patient, episode-of-care identifier, period, leave period, service provider; everything
the profile forbids left out), the patient by real CPR only, the Provenance chain of the stay's
earlier notifications. No ``definition``: HospitalNotification 3.0.2 has none."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from fhir_server.errors import Invalid, Unprocessable
from fhir_server.interactions.context import Context, FhirResult
from fhir_server.operations.inputs import Inputs
from fhir_server.store.base import UnitOfWork
from medcom.codes import (
    ACTIVITY_CODES,
    DESTINATION_USE,
    DESTINATION_USE_EXTENSION,
    EVENT_CODES,
    HN_ENCOUNTER,
    HN_HEADER,
    HN_LEAVE_PERIOD,
    HN_MESSAGE,
    HN_REPORT_OF_ADMISSION,
    HOSPITAL_NOTIFICATION,
    MESSAGING_PROVENANCE,
    SOR_ENDPOINT,
)
from medcom.outbound import parts
from medcom.outbound.carecommunication import _entry, check, sender_id
from medcom.outbound.narrative import narrate
from medcom.outbox import about, enqueue, worker_context
from profiles.danish.identifiers import SOR_SYSTEM

V3_ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_KINDS = {"EMER": "emergency", "IMP": "inpatient"}
_BASE = {
    "admit-emergency",
    "admit-inpatient",
    "start-leave-inpatient",
    "end-leave-inpatient",
    "discharge-emergency-home",
    "discharge-inpatient-home",
}
ACTIVITIES = _BASE | {f"{p}-{a}" for a in _BASE for p in ("revise", "cancel")}
"""The HospitalNotification activity codes (medcom-messaging-activityCodes)."""
_STATUS = {
    "admit": "in-progress",
    "start-leave": "onleave",
    "end-leave": "in-progress",
    "discharge": "finished",
}
"""The Encounter status each activity reports (a cancellation's: the one it restores)."""
_CANCELLED = {
    "admit": "entered-in-error",
    "start-leave": "in-progress",
    "end-leave": "onleave",
    "discharge": "in-progress",
}


def derive(encounter: dict[str, Any], was: str | None) -> str:
    """The activity an Encounter's change reports: its status now, its class, and the status
    the stay's last notification reported (``was``: a leave ends, an unchanged status is a
    correction)."""
    kind = _KINDS.get(str(encounter.get("class", {}).get("code")))
    if kind is None:
        raise Unprocessable(
            "A HospitalNotification reports an emergency (EMER) or inpatient (IMP) stay",
            ["Encounter.class"],
        )
    status = encounter.get("status")
    if status == "in-progress":
        if was == "onleave":
            return "end-leave-inpatient"
        return f"revise-admit-{kind}" if was == "in-progress" else f"admit-{kind}"
    if status == "onleave" and kind == "inpatient":
        return "revise-start-leave-inpatient" if was == "onleave" else "start-leave-inpatient"
    if status == "finished":
        return f"revise-discharge-{kind}-home" if was == "finished" else f"discharge-{kind}-home"
    if status == "entered-in-error":
        return f"cancel-admit-{kind}"
    raise Unprocessable(
        f"An Encounter with status {status!r} ({kind}) is no hospital stay event to notify",
        ["Encounter.status"],
    )


def _event(activity: str) -> str:
    base = activity.removeprefix("revise-").removeprefix("cancel-")
    return base.removesuffix("-home").rsplit("-", 1)[0]


def _leave(encounter: dict[str, Any]) -> dict[str, Any] | None:
    """The latest leave period (``statusHistory`` entries with status onleave)."""
    leaves = [
        h.get("period", {})
        for h in encounter.get("statusHistory", [])
        if h.get("status") == "onleave"
    ]
    leaves = [p for p in leaves if p.get("start")]
    return leaves[-1] if leaves else None


async def _episode(ctx: Context, encounter: dict[str, Any], sor: str) -> dict[str, Any]:
    """The episode-of-care identifier: the EpisodeOfCare's own, else its id (a UUID) in the
    sender's SOR namespace (MedCom's recommended local system); a stay without an
    EpisodeOfCare is identified by the Encounter's id likewise."""
    for ref in encounter.get("episodeOfCare", []):
        eid = parts.reference_id(ref, "EpisodeOfCare")
        if eid is None:
            continue
        episode = await parts.visible(ctx, "EpisodeOfCare", eid, "Encounter.episodeOfCare")
        for ident in episode.get("identifier", []):
            if ident.get("system") and ident.get("value"):
                return {"system": ident["system"], "value": ident["value"]}
        return {"system": SOR_ENDPOINT + sor, "value": eid}
    return {"system": SOR_ENDPOINT + sor, "value": str(encounter["id"])}


async def operation(ctx: Context, inputs: Inputs, type_: str | None, id_: str | None) -> FhirResult:
    assert id_ is not None
    encounter = await parts.visible(ctx, "Encounter", id_, "Encounter")
    activity = inputs.value("activity", "Code")
    if activity is not None and activity not in ACTIVITIES:
        raise Invalid(f"activity {activity!r} is no HospitalNotification activity", ["activity"])
    receiver = inputs.value("receiver", "Reference")
    if isinstance(receiver, dict):
        receiver = receiver.get("reference")
    bundle, header_id, patient_id, receiver_id, key = await build(
        ctx, encounter, activity, receiver
    )
    send = inputs.value("send", "Boolean")
    if send in (True, "true"):
        if key not in ctx.settings.medcom_endpoints:
            raise Unprocessable(
                f"receiver: no MedCom endpoint is configured for its SOR id or EAN/GLN ({key};"
                " FHIR_MEDCOM_ENDPOINTS)",
                ["receiver"],
            )

        async def work(uow: UnitOfWork) -> None:
            await ctx.access.admit_target(await uow.read("Encounter", id_), "u")
            ctx.access.require("Encounter", "u")
            await enqueue(
                ctx, uow, bundle, header_id, patient_id, receiver_id, key, None, f"Encounter/{id_}"
            )

        await ctx.write(work)
    elif send not in (None, False, "false"):
        raise Invalid("Parameter 'send' must be true or false", ["send"])
    return FhirResult(200, body=orjson.dumps(bundle))


async def build(
    ctx: Context, encounter: dict[str, Any], activity: str | None, receiver: Any
) -> tuple[dict[str, Any], str, str, str, str]:
    """(message, MessageHeader.id, patient id, receiver id, its endpoint key). ``activity`` None:
    derived from the change since the stay's last notification sent (`derive`)."""
    sender = sender_id(ctx)
    sender_org = parts.organization(
        await parts.own(ctx, "Organization", sender, "sender"), "sender"
    )
    sender_sor = parts.identifier(sender_org, SOR_SYSTEM) or ""
    receiver_id = parts.reference_id(receiver, "Organization") if receiver else None
    receiver_org = parts.organization(
        await parts.visible(ctx, "Organization", receiver_id, "receiver"), "receiver"
    )
    assert receiver_id is not None
    earlier = await about(
        worker_context(ctx.store, ctx.settings, ctx.services),
        f"Encounter/{encounter['id']}",
        f"Organization/{receiver_id}",
    )
    receiver_sor = parts.identifier(receiver_org, SOR_SYSTEM) or ""
    pid = parts.reference_id(encounter.get("subject"), "Patient")
    patient = parts.patient(
        await parts.visible(ctx, "Patient", pid, "Encounter.subject"),
        "Encounter.subject",
        real_cpr_only=True,
    )
    deceased = bool(patient.get("deceasedBoolean") or patient.get("deceasedDateTime"))
    if activity is None:
        activity = _derived(encounter, earlier, deceased)
    organizations = [sender_org, receiver_org]
    provider_id = parts.reference_id(encounter.get("serviceProvider"), "Organization") or sender
    if provider_id not in (sender, receiver_id):
        organizations.append(
            parts.organization(
                await parts.visible(ctx, "Organization", provider_id, "Encounter.serviceProvider"),
                "Encounter.serviceProvider",
            )
        )
    event = _event(activity)
    cancelled = activity.startswith("cancel-")
    status = _CANCELLED[event] if cancelled else _STATUS[event]
    if deceased and not cancelled:
        status = "finished"  # MORS: the stay ends in death, the activity is the current one
    period = {k: v for k, v in (encounter.get("period") or {}).items() if k in ("start", "end")}
    if not period.get("start"):
        raise Unprocessable("The stay has no start (Encounter.period.start)", ["Encounter.period"])
    hn_encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": encounter["id"],
        "meta": {"profile": [HN_ENCOUNTER]},
        "status": status,
        "class": {"system": V3_ACT, "code": encounter["class"]["code"]},
        "subject": {"reference": f"Patient/{patient['id']}"},
        "episodeOfCare": [{"identifier": await _episode(ctx, encounter, sender_sor)}],
        "period": period,
        "serviceProvider": {"reference": f"Organization/{provider_id}"},
    }
    leave = _leave(encounter)
    if status == "onleave" or (event in ("start-leave", "end-leave") and leave):
        if leave is None:
            raise Unprocessable(
                "A leave needs its period (Encounter.statusHistory with status onleave)",
                ["Encounter.statusHistory"],
            )
        hn_encounter["extension"] = [{"url": HN_LEAVE_PERIOD, "valuePeriod": leave}]
    header_id = str(uuid.uuid4())
    when = parts.now()
    header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "meta": {"profile": [HN_HEADER]},
        "eventCoding": {"system": EVENT_CODES, "code": HOSPITAL_NOTIFICATION},
        "destination": [
            {
                "extension": [
                    {
                        "url": DESTINATION_USE_EXTENSION,
                        "valueCoding": {"system": DESTINATION_USE, "code": "primary"},
                    }
                ],
                "endpoint": SOR_ENDPOINT + receiver_sor,
                "receiver": {"reference": f"Organization/{receiver_id}"},
            }
        ],
        "sender": {"reference": f"Organization/{sender}"},
        "source": {"endpoint": SOR_ENDPOINT + sender_sor},
        "focus": [{"reference": f"Encounter/{encounter['id']}"}],
    }
    if activity in ("admit-inpatient", "admit-emergency"):
        header["extension"] = [{"url": HN_REPORT_OF_ADMISSION, "valueBoolean": True}]
    chain = [
        e["resource"]
        for b in earlier
        for e in b.get("entry", [])
        if e["resource"].get("resourceType") == "Provenance"
    ]
    chain = list({p["id"]: p for p in chain}.values())
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [MESSAGING_PROVENANCE]},
        "target": [{"reference": f"MessageHeader/{header_id}"}],
        "occurredDateTime": when,
        "recorded": when,
        "activity": {"coding": [{"system": ACTIVITY_CODES, "code": activity}]},
        "agent": [{"who": {"reference": f"Organization/{sender}"}}],
    }
    if earlier:
        previous = earlier[-1]["entry"][0]["resource"]["id"]
        if cancelled:  # a cancellation names the message it cancels: the event's own
            previous = _cancelled_header(earlier, event) or previous
        provenance["entity"] = [
            {
                "role": "removal" if cancelled else "revision",
                "what": {"reference": f"MessageHeader/{previous}"},
            }
        ]
    resources = [header, patient, hn_encounter, *organizations, *chain, provenance]
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [HN_MESSAGE]},
        "type": "message",
        "timestamp": when,
        "entry": [_entry(ctx, narrate(r)) for r in resources],
    }
    check(ctx, bundle, HN_MESSAGE)
    key = parts.endpoint_key(ctx, receiver_org)
    return bundle, header_id, str(patient["id"]), receiver_id, key


def _derived(encounter: dict[str, Any], earlier: list[dict[str, Any]], deceased: bool) -> str:
    """`derive` against the stay's last notification; a death (the Patient deceased, the stay
    finished) reports the current activity again (MORS): the last one notified, else the
    admission."""
    last = [r for e in earlier[-1:] for r in _of(e, "Encounter")]
    if deceased and encounter.get("status") == "finished":
        codes = [
            str(p["activity"]["coding"][0]["code"])
            for e in earlier[-1:]
            for p in _of(e, "Provenance")
            if p.get("target", [{}])[0].get("reference")
            == f"MessageHeader/{e['entry'][0]['resource']['id']}"
        ]
        if codes and not codes[-1].startswith("cancel-"):
            return codes[-1]
        kind = _KINDS.get(str(encounter.get("class", {}).get("code")), "inpatient")
        return f"admit-{kind}"
    return derive(encounter, last[0].get("status") if last else None)


def _of(bundle: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == type_]


def _cancelled_header(earlier: list[dict[str, Any]], event: str) -> str | None:
    """The latest earlier message whose own Provenance reports ``event`` (not cancelled)."""
    for bundle in reversed(earlier):
        header = bundle["entry"][0]["resource"]["id"]
        for e in bundle["entry"]:
            r = e["resource"]
            if r.get("resourceType") != "Provenance":
                continue
            if r.get("target", [{}])[0].get("reference") != f"MessageHeader/{header}":
                continue
            code = r["activity"]["coding"][0]["code"]
            if _event(code) == event and not code.startswith("cancel-"):
                return str(header)
    return None
