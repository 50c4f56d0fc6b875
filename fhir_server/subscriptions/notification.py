"""Notification Bundles as the backport IG shapes them for R4: a ``history`` Bundle whose first
entry is a Parameters resource (profile ``backport-subscription-status-r4``) with the
subscription's status and the events it carries, then the events' focus resources — as a
reference (``id-only``), the resource itself (``full-resource``) or nothing (``empty``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from fhir_server.stored import StoredResource
from fhir_server.subscriptions.spec import IG, Spec

STATUS_PROFILE = f"{IG}/StructureDefinition/backport-subscription-status-r4"


@dataclass(frozen=True, slots=True)
class Event:
    """One numbered event of a subscription, and the version it is about as its owner may see
    it now (None: not any more — the event is told without its focus)."""

    number: int
    ts: int
    """µs since the epoch: when the change was committed."""
    stored: StoredResource | None


def _instant(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat(timespec="milliseconds")


def status_parameters(
    spec: Spec, base: str, kind: str, status: str, since_start: int, events: list[Event]
) -> dict[str, Any]:
    """The Parameters resource (``SubscriptionStatus`` in R4) of a notification or of
    ``$status`` (``kind`` query-status)."""
    params: list[dict[str, Any]] = [
        {"name": "subscription", "valueReference": {"reference": f"{base}/Subscription/{spec.id}"}},
        {"name": "topic", "valueCanonical": spec.topic.url},
        {"name": "status", "valueCode": status},
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": str(since_start)},
    ]
    for event in events:
        parts: list[dict[str, Any]] = [
            {"name": "event-number", "valueString": str(event.number)},
            {"name": "timestamp", "valueInstant": _instant(event.ts)},
        ]
        if event.stored is not None and spec.content != "empty":
            ref = f"{base}/{event.stored.type}/{event.stored.id}"
            parts.append({"name": "focus", "valueReference": {"reference": ref}})
        params.append({"name": "notification-event", "part": parts})
    return {
        "resourceType": "Parameters",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [STATUS_PROFILE]},
        "parameter": params,
    }


def bundle(
    spec: Spec,
    base: str,
    kind: str,
    status: str,
    since_start: int,
    events: list[Event],
    content: str | None = None,
) -> dict[str, Any]:
    """A notification Bundle (``kind``: handshake, heartbeat, event-notification, query-event)."""
    content = content or spec.content
    shown = replace(spec, content=content)
    status_entry = {
        "fullUrl": f"urn:uuid:{uuid.uuid4()}",
        "resource": status_parameters(shown, base, kind, status, since_start, events),
        "request": {"method": "GET", "url": f"Subscription/{spec.id}/$status"},
        "response": {"status": "200"},
    }
    entries = [status_entry]
    if content != "empty":
        for event in events:
            if event.stored is not None:
                entries.append(_focus(event.stored, base, content))
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "history",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "entry": entries,
    }


def _focus(stored: StoredResource, base: str, content: str) -> dict[str, Any]:
    ref = f"{stored.type}/{stored.id}"
    if stored.deleted:
        request, response = {"method": "DELETE", "url": ref}, "204"
    elif stored.version == 1:
        request, response = {"method": "POST", "url": stored.type}, "201"
    else:
        request, response = {"method": "PUT", "url": ref}, "200"
    entry: dict[str, Any] = {
        "fullUrl": f"{base}/{ref}",
        "request": request,
        "response": {"status": response, "etag": f'W/"{stored.version}"'},
    }
    if content == "full-resource" and not stored.deleted and stored.content is not None:
        entry["resource"] = orjson.loads(stored.content)
    return entry
