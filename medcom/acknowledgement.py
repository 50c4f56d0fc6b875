"""The MedCom Acknowledgement (kvittering, Acknowledgement 2.0) a received message is answered
with: ``ok``, ``fatal-error`` (the content is wrong — there is no point resending it unchanged;
an OperationOutcome names each element and a MedCom issue detail) or ``transient-error`` (a
technical failure here — wait and resend). Part A.4 of the MedCom sources.

Its ids are derived from the acknowledged MessageHeader.id (UUID v5), so one message is always
answered by one Acknowledgement; the reliable-messaging record (`medcom.reliable`) keeps what was
answered so a redelivery gets it again, identical."""

from __future__ import annotations

import uuid
from copy import deepcopy
from datetime import UTC, datetime
from html import escape
from typing import Any

from medcom.codes import (
    ACKNOWLEDGEMENT,
    ACKNOWLEDGEMENT_HEADER,
    ACKNOWLEDGEMENT_OUTCOME,
    ACTIVITY_CODES,
    DESTINATION_USE,
    DESTINATION_USE_EXTENSION,
    EVENT_CODES,
    MESSAGE_PROFILES,
    MESSAGING_PROVENANCE,
    coding,
)
from medcom.inbound.message import Message, Problem

OK = "ok"
FATAL = "fatal-error"
TRANSIENT = "transient-error"

_NS = uuid.UUID("8a1f3c52-0d57-4c0e-9b1e-3f4f3a6d2b10")
_CODE_TEXT = {
    OK: ("modtaget og behandlet", "accepted and processed"),
    FATAL: ("afvist på grund af indholdet", "rejected because of its content"),
    TRANSIENT: ("midlertidig teknisk fejl, send igen", "temporary technical error, resend"),
}


def ack_id(header_id: str, part: str = "bundle") -> str:
    """The id of ``part`` of the Acknowledgement of MessageHeader ``header_id`` (stable)."""
    return str(uuid.uuid5(_NS, f"{part}:{header_id}"))


def now_instant() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def acknowledgement(
    message: Message, code: str, problems: list[Problem], at: str | None = None
) -> dict[str, Any]:
    """The Acknowledgement Bundle answering ``message`` with ``code``; ``problems`` become its
    OperationOutcome (required unless ``ok``). Sender and receiver swap: this message's
    receiver (this organization) acknowledges to its sender, at its source endpoint."""
    at = at or now_instant()
    mh_id = message.header_id
    header_id = ack_id(mh_id, "header")
    ours = message.receiver
    theirs = message.sender
    destination: dict[str, Any] = {
        "extension": [
            {"url": DESTINATION_USE_EXTENSION, "valueCoding": coding(DESTINATION_USE, "primary")}
        ],
        "endpoint": _source_endpoint(message.header) or "unknown",
    }
    entries: list[dict[str, Any]] = []
    if theirs is not None:
        destination["receiver"] = {"reference": f"Organization/{theirs['id']}"}
    header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "meta": {"profile": [ACKNOWLEDGEMENT_HEADER]},
        "text": _narrative(
            f"Kvittering (Acknowledgement) {header_id}: besked {mh_id} "
            f"{_CODE_TEXT[code][0]} ({_CODE_TEXT[code][1]})"
        ),
        "eventCoding": coding(EVENT_CODES, ACKNOWLEDGEMENT),
        "destination": [destination],
        "source": {"endpoint": _primary_endpoint(message) or "unknown"},
        "response": {"identifier": mh_id, "code": code},
    }
    if ours is not None:
        header["sender"] = {"reference": f"Organization/{ours['id']}"}
    entries.append({"fullUrl": f"MessageHeader/{header_id}", "resource": header})
    if problems or code != OK:
        outcome = _outcome(ack_id(mh_id, "outcome"), code, problems)
        header["response"]["details"] = {"reference": f"OperationOutcome/{outcome['id']}"}
        entries.append({"fullUrl": f"OperationOutcome/{outcome['id']}", "resource": outcome})
    latest = message.current_provenance
    if latest is not None and isinstance(latest.get("id"), str):
        entries.append({"fullUrl": f"Provenance/{latest['id']}", "resource": deepcopy(latest)})
    entries.append(_provenance(mh_id, header_id, ours, at))
    for organization in (ours, theirs):
        if organization is not None and isinstance(organization.get("id"), str):
            url = f"Organization/{organization['id']}"
            if all(e["fullUrl"] != url for e in entries):
                entries.append({"fullUrl": url, "resource": deepcopy(organization)})
    return {
        "resourceType": "Bundle",
        "id": ack_id(mh_id),
        "meta": {"profile": [MESSAGE_PROFILES[ACKNOWLEDGEMENT]]},
        "type": "message",
        "timestamp": at,
        "entry": entries,
    }


def _provenance(acked: str, header_id: str, ours: dict[str, Any] | None, at: str) -> dict[str, Any]:
    pid = ack_id(acked, "provenance")
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": pid,
        "meta": {"profile": [MESSAGING_PROVENANCE]},
        "text": _narrative(f"Provenance {pid}: kvittering (acknowledgement) for {acked}"),
        "target": [{"reference": f"MessageHeader/{header_id}"}],
        "occurredDateTime": at,
        "recorded": at,
        "activity": {"coding": [coding(ACTIVITY_CODES, "acknowledgement")]},
        "agent": [{"who": {"reference": f"Organization/{ours['id']}"}}] if ours else [],
        "entity": [{"role": "revision", "what": {"reference": f"MessageHeader/{acked}"}}],
    }
    if not provenance["agent"]:
        del provenance["agent"]
    return {"fullUrl": f"Provenance/{pid}", "resource": provenance}


def _outcome(oid: str, code: str, problems: list[Problem]) -> dict[str, Any]:
    severity = "error" if code == FATAL else "warning" if code == TRANSIENT else "information"
    issues = [
        {
            "severity": severity,
            "code": p.code,
            "details": {"coding": [coding(*p.detail)], "text": p.text},
            "diagnostics": p.text,
            "expression": [p.expression],
        }
        for p in problems
    ] or [{"severity": severity, "code": "exception" if code == TRANSIENT else "invalid"}]
    lines = "; ".join(escape(p.text) for p in problems) or _CODE_TEXT[code][1]
    return {
        "resourceType": "OperationOutcome",
        "id": oid,
        "meta": {"profile": [ACKNOWLEDGEMENT_OUTCOME]},
        "text": _narrative(f"OperationOutcome {oid}: {lines}", escaped=True),
        "issue": issues,
    }


def _source_endpoint(header: dict[str, Any]) -> str | None:
    endpoint = (header.get("source") or {}).get("endpoint")
    return endpoint if isinstance(endpoint, str) else None


def _primary_endpoint(message: Message) -> str | None:
    destination = message.primary_destination() or {}
    endpoint = destination.get("endpoint")
    return endpoint if isinstance(endpoint, str) else None


def _narrative(text: str, escaped: bool = False) -> dict[str, str]:
    body = text if escaped else escape(text)
    return {
        "status": "generated",
        "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{body}</p></div>',
    }
