"""The durable outbox of MedCom messages (docs/medcom.md, "The outbox"): FHIR resources in
the server's own store, so both stores keep it and one unit of work makes it atomic.

- ``Task/<MessageHeader.id>``: the delivery, code `OUTBOX`#deliver, holding the message as
  built (``input`` "message", a JSON attachment; its envelope id, ``Bundle.id`` on the wire,
  changes with every resend, the MessageHeader.id never). Inside the Task (``for`` the
  citizen, so in the patient compartment) the message is guarded as the citizen's data is; a
  Bundle resource would not be (Bundle has no patient compartment).
- The Task: ``status`` requested
  (queued), in-progress (sent, no Acknowledgement yet), completed (acknowledged) or failed;
  ``businessStatus`` the same as `DELIVERY_STATUS` codes; the receiver and its endpoint key in
  ``input``; what the message is about (``Encounter/x``, ``CarePlan/x``) in ``basedOn``
  (a HospitalNotification finds the one before it so); the delivery state (envelope id,
  attempts, when sent, whether the attempt was transmitted — handed to the transport, whatever
  came of it —, until when a worker holds it, the Acknowledgement code) in ``output``. No
  ``owner`` or ``requester``: a receiving organization gets no care relationship from an
  outbox entry.
- The record's Communication (a clinician's, or the one a rendering made) shows the status:
  extension `DELIVERY_STATUS_EXTENSION` (``queued | sent | acknowledged | failed``) and
  ``status`` (preparation, in-progress, completed, stopped).

The Task and the Communication are written in one unit of work; every change of
state after that is one unit of work on the Task and its Communication, guarded by the Task's
version, so two workers never both take an attempt.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from fhir_server.access import UNRESTRICTED
from fhir_server.config import Settings
from fhir_server.interactions.common import every, searcher
from fhir_server.interactions.context import Context
from fhir_server.search.resolve import build_query
from fhir_server.services import Services
from fhir_server.store.base import Store, UnitOfWork, VersionConflict
from fhir_server.stored import StoredResource
from medcom.codes import ACKNOWLEDGEMENT, GLN_SYSTEMS
from profiles.danish.identifiers import SOR_SYSTEM

OUTBOX = "urn:fhir-server:medcom:outbox"
"""Task.code system of outbox entries."""
DELIVERY_STATUS = "urn:fhir-server:medcom:delivery-status"
"""Code system of the delivery status: queued, sent, acknowledged, failed."""
DELIVERY_STATUS_EXTENSION = "urn:fhir-server:medcom:delivery-status"
"""On the record's Communication: its delivery status (valueCode)."""
_TASK_STATUS = {
    "queued": "requested",
    "sent": "in-progress",
    "acknowledged": "completed",
    "failed": "failed",
}
_COMMUNICATION_STATUS = {
    "queued": "preparation",
    "sent": "in-progress",
    "acknowledged": "completed",
    "failed": "stopped",
}


def worker_context(store: Store, settings: Settings, services: Services) -> Context:
    """The server acting for itself: its outbox is its own bookkeeping, no caller's."""
    return Context(store, settings, UNRESTRICTED, settings.base_url or "", services=services)


def instant(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def seconds(value: str | None) -> float:
    return datetime.fromisoformat(value).timestamp() if value else 0.0


@dataclass
class Delivery:
    """One outbox entry as the worker reads it."""

    task: dict[str, Any]
    version: int

    @property
    def id(self) -> str:
        return str(self.task["id"])

    def _in(self, name: str) -> Any:
        for p in self.task.get("input", []):
            if p["type"]["text"] == name:
                return next(v for k, v in p.items() if k.startswith("value"))
        return None

    def out(self, name: str) -> Any:
        for p in self.task.get("output", []):
            if p["type"]["text"] == name:
                return next(v for k, v in p.items() if k.startswith("value"))
        return None

    def message(self) -> dict[str, Any]:
        """The message as built (``input`` "message")."""
        bundle: dict[str, Any] = orjson.loads(base64.b64decode(self._in("message")["data"]))
        return bundle

    @property
    def status(self) -> str:
        return str(self.task["businessStatus"]["coding"][0]["code"])

    @property
    def key(self) -> str:
        return str(self._in("endpoint"))

    @property
    def receiver(self) -> str:
        return str(self._in("receiver")["reference"])

    @property
    def communication(self) -> str | None:
        ref = self._in("communication")
        return str(ref["reference"]).split("/")[-1] if ref else None

    @property
    def envelope(self) -> str | None:
        return self.out("envelope")

    @property
    def attempts(self) -> int:
        return int(self.out("attempts") or 0)

    @property
    def sent(self) -> float:
        return seconds(self.out("sent"))

    @property
    def transmitted(self) -> bool:
        return bool(self.out("transmitted"))

    @property
    def claimed_until(self) -> float:
        return seconds(self.out("claimed-until"))


def _state(**values: Any) -> list[dict[str, Any]]:
    kinds = {
        "envelope": "valueString",
        "attempts": "valueUnsignedInt",
        "sent": "valueInstant",
        "transmitted": "valueBoolean",
        "claimed-until": "valueInstant",
        "acknowledgement": "valueCode",
    }
    return [
        {"type": {"text": name}, kinds[name]: value}
        for name, value in values.items()
        if value is not None
    ]


def _coding(status: str) -> dict[str, Any]:
    return {"coding": [{"system": DELIVERY_STATUS, "code": status}], "text": status}


async def enqueue(
    ctx: Context,
    uow: UnitOfWork,
    bundle: dict[str, Any],
    header_id: str,
    patient_id: str,
    receiver_id: str,
    key: str,
    communication_id: str | None,
    based_on: str | None = None,
) -> None:
    """Put a built message in the outbox, in the caller's unit of work (the one that records
    its Communication): both are kept, or neither."""
    inputs = [
        {
            "type": {"text": "message"},
            "valueAttachment": {
                "contentType": "application/fhir+json",
                "data": base64.b64encode(orjson.dumps(bundle)).decode("ascii"),
            },
        },
        {
            "type": {"text": "receiver"},
            "valueReference": {"reference": f"Organization/{receiver_id}"},
        },
        {"type": {"text": "endpoint"}, "valueString": key},
    ]
    if communication_id is not None:
        inputs.append(
            {
                "type": {"text": "communication"},
                "valueReference": {"reference": f"Communication/{communication_id}"},
            }
        )
    task = {
        "resourceType": "Task",
        "identifier": [{"system": OUTBOX, "value": header_id}],
        "status": "requested",
        "businessStatus": _coding("queued"),
        "intent": "order",
        "code": {"coding": [{"system": OUTBOX, "code": "deliver"}]},
        "for": {"reference": f"Patient/{patient_id}"},
        "authoredOn": bundle["timestamp"],
        "restriction": {"repetitions": 1 + ctx.settings.medcom_max_resends},
        "input": inputs,
        "output": _state(envelope=bundle["id"], attempts=0),
    }
    if based_on is not None:
        task["basedOn"] = [{"reference": based_on}]
    if communication_id is not None:
        task["focus"] = {"reference": f"Communication/{communication_id}"}
    await uow.write("Task", header_id, task, method="PUT", must_not_exist=True)


def delivery_status(communication: dict[str, Any], status: str) -> dict[str, Any]:
    """``communication`` showing delivery status ``status``."""
    ext = [
        e for e in communication.get("extension", []) if e.get("url") != DELIVERY_STATUS_EXTENSION
    ]
    ext.append({"url": DELIVERY_STATUS_EXTENSION, "valueCode": status})
    return {**communication, "extension": ext, "status": _COMMUNICATION_STATUS[status]}


async def open_deliveries(ctx: Context) -> list[Delivery]:
    """Every entry not yet acknowledged or failed, in the order they were queued (a stay's
    discharge notice never overtakes its admission within one pass)."""
    query = await build_query(
        searcher(ctx),
        "Task",
        [("code", f"{OUTBOX}|deliver"), ("status", "requested,in-progress")],
        params=ctx.params,
        default_count=1000,
        max_count=1000,
    )
    found = [_delivery(s) for s in await every(ctx, query)]
    return sorted(found, key=lambda d: str(d.task.get("authoredOn", "")))


async def depth(store: Store, settings: Settings, services: Services) -> int:
    """How many entries wait (not yet acknowledged or failed): the server's metrics. A count,
    not `open_deliveries`' reading of each."""
    ctx = worker_context(store, settings, services)
    query = await build_query(
        searcher(ctx),
        "Task",
        [("code", f"{OUTBOX}|deliver"), ("status", "requested,in-progress")],
        params=ctx.params,
        default_count=1,
        max_count=1,
    )
    return await store.count(query)


def _delivery(stored: StoredResource) -> Delivery:
    return Delivery(orjson.loads(stored.content or b"{}"), stored.version)


async def about(ctx: Context, reference: str, receiver: str) -> list[dict[str, Any]]:
    """The messages of the outbox entries based on ``reference`` sent to ``receiver``
    (``Organization/id``), oldest first: each receiver's notifications about a stay are their
    own sequence (an admission to the GP is an admission, whatever the municipality got)."""
    query = await build_query(
        searcher(ctx),
        "Task",
        [("code", f"{OUTBOX}|deliver"), ("based-on", reference)],
        params=ctx.params,
        default_count=1000,
        max_count=1000,
    )
    tasks = sorted(
        (orjson.loads(s.content or b"{}") for s in await every(ctx, query)),
        key=lambda t: str(t.get("authoredOn", "")),
    )
    deliveries = (Delivery(task, 0) for task in tasks)
    return [d.message() for d in deliveries if d.receiver == receiver]


async def read(ctx: Context, header_id: str) -> Delivery | None:
    stored = await ctx.read("Task", header_id)
    if stored is None or stored.deleted:
        return None
    delivery = _delivery(stored)
    if not any(i.get("system") == OUTBOX for i in delivery.task.get("identifier", [])):
        return None
    return delivery


def message(delivery: Delivery) -> dict[str, Any]:
    """The message of an outbox entry, as built."""
    return delivery.message()


async def change(ctx: Context, delivery: Delivery, status: str, **state: Any) -> Delivery | None:
    """Move ``delivery`` to ``status`` with delivery state ``state`` (what is not given is
    kept), and show the status on its Communication, in one unit of work; None if another
    worker changed it first (it then owns this step)."""

    async def work(uow: UnitOfWork) -> Delivery | None:
        current = await uow.read("Task", delivery.id)
        if current is None or current.version != delivery.version:
            return None
        kept = {
            name: delivery.out(name)
            for name in (
                "envelope",
                "attempts",
                "sent",
                "transmitted",
                "claimed-until",
                "acknowledgement",
            )
        }
        kept.update(state)
        task = {
            **delivery.task,
            "status": _TASK_STATUS[status],
            "businessStatus": _coding(status),
            "lastModified": instant(datetime.now(UTC).timestamp()),
            "output": _state(**kept),
        }
        try:
            written, _ = await uow.write(
                "Task", delivery.id, task, method="PUT", if_match=delivery.version
            )
        except VersionConflict:
            return None
        if delivery.communication and status != delivery.status:
            record = await uow.read("Communication", delivery.communication)
            if record is not None and not record.deleted and record.content is not None:
                doc = delivery_status(orjson.loads(record.content), status)
                await uow.write("Communication", delivery.communication, doc, method="PUT")
        return _delivery(written)

    return await ctx.write(work)


def new_envelope() -> str:
    return str(uuid.uuid4())


def _organization_ids(bundle: dict[str, Any], reference: str) -> set[str]:
    for entry in bundle.get("entry", []):
        r = entry.get("resource", {})
        if f"{r.get('resourceType')}/{r.get('id')}" == reference:
            return {
                str(i.get("value"))
                for i in r.get("identifier", [])
                if i.get("system") in (SOR_SYSTEM, *GLN_SYSTEMS)
            }
    return set()


async def acknowledge(ctx: Context, ack: dict[str, Any]) -> bool:
    """Record an Acknowledgement of a message in the outbox: ``ok`` → acknowledged,
    ``fatal-error`` → failed (resending it unchanged is pointless), ``transient-error`` → still
    sent (resent after the silence). Only the organization the message went to can acknowledge
    it (its sender's SOR or EAN/GLN must be the receiver's). False when it acknowledges nothing
    this server sent (or not from the receiver)."""
    entries = ack.get("entry") or [{}]
    header = entries[0].get("resource", {})
    if header.get("resourceType") != "MessageHeader":
        return False
    if header.get("eventCoding", {}).get("code") != ACKNOWLEDGEMENT:
        return False
    response = header.get("response", {})
    acked, code = response.get("identifier"), response.get("code")
    if not isinstance(acked, str) or code not in ("ok", "transient-error", "fatal-error"):
        return False
    for _ in range(5):
        d = await read(ctx, acked)
        if d is None:
            return False
        if d.key not in _organization_ids(ack, str(header.get("sender", {}).get("reference"))):
            return False
        if d.status in ("acknowledged", "failed"):
            return True  # a repeated Acknowledgement changes nothing
        status = {"ok": "acknowledged", "fatal-error": "failed"}.get(code, "sent")
        if await change(ctx, d, status, acknowledgement=code) is not None:
            return True
    return False
