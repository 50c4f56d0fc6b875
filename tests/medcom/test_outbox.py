"""The outbox and its delivery worker (medcom/outbox.py, medcom/delivery.py), driven with a
controlled clock and a receiver behind an httpx transport: delivery, the Acknowledgement, resend
with a new Bundle.id (same MessageHeader.id) after the silence, at most twice, then failed; the
status on the Communication; a worker dying mid-attempt; the VANS file drop. Both stores."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.write_checks import validation_issues
from medcom.codes import CC_MESSAGE, MESSAGE_HEADER_ID
from medcom.delivery import DeliveryWorker
from medcom.outbox import DELIVERY_STATUS_EXTENSION, acknowledge, worker_context
from tests.api.support import app_of
from tests.medcom.record import ASK, RECEIVER_SOR, SETTINGS, SOR, load, parameters

RESEND = 1800.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Receiver:
    """The receiving server: records each message; answers with ``answer`` (an Ack code, or
    None for no Acknowledgement, "raise" for a transport failure)."""

    def __init__(self, answer: str | None = "ok") -> None:
        self.answer = answer
        self.received: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.answer == "raise":
            raise httpx.ConnectError("refused")
        if self.answer == "crash":
            raise RuntimeError("the worker dies here")
        message = json.loads(request.content)
        self.received.append(message)
        if self.answer is None:
            return httpx.Response(503)
        return httpx.Response(200, json=ack(message["entry"][0]["resource"]["id"], self.answer))


def ack(
    header_id: str, code: str, sor: str = RECEIVER_SOR, gln: str = "5790001353308"
) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "message",
        "entry": [
            {
                "resource": {
                    "resourceType": "MessageHeader",
                    "id": "ack-header",
                    "eventCoding": {"code": "acknowledgement-message"},
                    "sender": {"reference": "Organization/r"},
                    "response": {"identifier": header_id, "code": code},
                }
            },
            {
                "resource": {
                    "resourceType": "Organization",
                    "id": "r",
                    "identifier": [
                        {"system": SOR, "value": sor},
                        {"system": "https://www.gs1.org/gln", "value": gln},
                    ],
                }
            },
        ],
    }


@pytest.fixture
async def client(make_client: Any) -> Any:
    c = await make_client(**SETTINGS)
    await load(c)
    return c


async def send(client: Any, path: str = "CarePlan/plan") -> dict[str, Any]:
    response = await client.post(
        f"{path}/$medcom-carecommunication", json=parameters(**ASK, send=True)
    )
    assert response.status_code == 200, response.text
    return response.json()


def worker(client: Any, receiver: Receiver, clock: Clock, **settings: Any) -> DeliveryWorker:
    app = app_of(client)
    s = app.settings.model_copy(update=settings) if settings else app.settings
    return DeliveryWorker(app.store, s, app.services, clock, httpx.MockTransport(receiver))


async def state(client: Any, message: dict[str, Any]) -> tuple[str, str, str]:
    """(Task.status, the Communication's delivery status, its Communication.status)."""
    header = message["entry"][0]["resource"]["id"]
    task = (await client.get(f"Task/{header}")).json()
    comm_id = message["entry"][1]["resource"]["id"]
    comm = (await client.get(f"Communication/{comm_id}")).json()
    (ext,) = [e for e in comm["extension"] if e["url"] == DELIVERY_STATUS_EXTENSION]
    return task["status"], ext["valueCode"], comm["status"]


async def test_sending_records_the_communication_and_queues_the_message(client: Any) -> None:
    message = await send(client)
    header = message["entry"][0]["resource"]["id"]
    assert await state(client, message) == ("requested", "queued", "preparation")
    comm = (await client.get(f"Communication/{message['entry'][1]['resource']['id']}")).json()
    assert {"system": MESSAGE_HEADER_ID, "value": header} in comm["identifier"]
    assert comm["about"] == [{"reference": "CarePlan/plan"}]
    task = (await client.get(f"Task/{header}")).json()
    (kept,) = [i for i in task["input"] if i["type"]["text"] == "message"]
    assert kept["valueAttachment"]["contentType"] == "application/fhir+json"
    assert json.loads(base64.b64decode(kept["valueAttachment"]["data"])) == message
    assert task["for"] == {"reference": "Patient/bruno"}  # guarded as the citizen's data


async def test_delivered_and_acknowledged(client: Any) -> None:
    message = await send(client)
    receiver, clock = Receiver("ok"), Clock()
    await worker(client, receiver, clock).run_once()
    (got,) = receiver.received
    assert got["id"] == message["id"]  # the first attempt goes in the envelope built
    assert got["meta"] == {"profile": [CC_MESSAGE]}
    assert got["entry"][0]["resource"]["id"] == message["entry"][0]["resource"]["id"]
    assert [i for _, i in validation_issues(got, [CC_MESSAGE]) if i.severity == "error"] == []
    assert await state(client, message) == ("completed", "acknowledged", "completed")
    clock.now += 10 * RESEND
    await worker(client, receiver, clock).run_once()
    assert len(receiver.received) == 1


async def test_silence_resends_with_a_new_bundle_id_twice_then_fails(client: Any) -> None:
    message = await send(client)
    header = message["entry"][0]["resource"]["id"]
    receiver, clock = Receiver(None), Clock()
    w = worker(client, receiver, clock)
    await w.run_once()
    assert await state(client, message) == ("in-progress", "sent", "in-progress")
    clock.now += RESEND - 1
    await w.run_once()
    assert len(receiver.received) == 1  # not before the silence is over
    for _ in range(2):
        clock.now += RESEND
        await w.run_once()
    assert len(receiver.received) == 3
    envelopes = [m["id"] for m in receiver.received]
    assert len(set(envelopes)) == 3
    assert {m["entry"][0]["resource"]["id"] for m in receiver.received} == {header}
    clock.now += RESEND
    await w.run_once()
    assert len(receiver.received) == 3
    assert await state(client, message) == ("failed", "failed", "stopped")
    clock.now += RESEND
    await w.run_once()
    assert len(receiver.received) == 3


async def test_an_unreachable_receiver_counts_as_silence(client: Any) -> None:
    message = await send(client)
    receiver, clock = Receiver("raise"), Clock()
    w = worker(client, receiver, clock)
    await w.run_once()
    assert await state(client, message) == ("in-progress", "sent", "in-progress")
    receiver.answer = "ok"
    clock.now += RESEND
    await w.run_once()
    (got,) = receiver.received
    assert got["id"] != message["id"]
    assert await state(client, message) == ("completed", "acknowledged", "completed")


async def test_a_fatal_error_fails_at_once_a_transient_one_waits(client: Any) -> None:
    fatal = await send(client)
    receiver, clock = Receiver("fatal-error"), Clock()
    await worker(client, receiver, clock).run_once()
    assert await state(client, fatal) == ("failed", "failed", "stopped")
    transient = await send(client, "CareTeam/team")
    receiver.answer = "transient-error"
    await worker(client, receiver, clock).run_once()
    assert await state(client, transient) == ("in-progress", "sent", "in-progress")
    receiver.answer = "ok"
    clock.now += RESEND
    await worker(client, receiver, clock).run_once()
    assert await state(client, transient) == ("completed", "acknowledged", "completed")
    assert len(receiver.received) == 3


async def test_a_worker_dying_mid_attempt_leaves_the_same_envelope_to_the_next(
    client: Any,
) -> None:
    message = await send(client)
    receiver, clock = Receiver("crash"), Clock()
    await worker(client, receiver, clock).run_once()  # claimed, never transmitted
    receiver.answer = "ok"
    await worker(client, receiver, clock).run_once()
    assert receiver.received == []  # its claim still holds
    clock.now += 31
    await worker(client, receiver, clock).run_once()
    (got,) = receiver.received
    assert got["id"] == message["id"]  # a redelivery, not a resend
    assert await state(client, message) == ("completed", "acknowledged", "completed")


async def test_the_vans_file_drop_and_an_acknowledgement_arriving_later(
    client: Any, tmp_path: Path
) -> None:
    message = await send(client)
    header = message["entry"][0]["resource"]["id"]
    drop = tmp_path / "vans-out"
    w = worker(client, Receiver(), Clock(), medcom_endpoints={RECEIVER_SOR: f"file://{drop}"})
    await w.run_once()
    (written,) = drop.iterdir()
    assert written.name == f"{message['id']}.json"
    assert json.loads(written.read_bytes())["entry"][0]["resource"]["id"] == header
    assert await state(client, message) == ("in-progress", "sent", "in-progress")
    app = app_of(client)
    ctx = worker_context(app.store, app.settings, app.services)
    assert not await acknowledge(
        ctx, ack(header, "ok", sor="999999999999", gln="5790000209354")
    )  # not the receiver
    assert not await acknowledge(ctx, ack("not-ours", "ok"))
    assert await state(client, message) == ("in-progress", "sent", "in-progress")
    assert await acknowledge(ctx, ack(header, "ok"))
    assert await state(client, message) == ("completed", "acknowledged", "completed")


async def test_a_receiver_without_an_endpoint_is_refused_and_nothing_is_stored(
    make_client: Any,
) -> None:
    client = await make_client(**{**SETTINGS, "medcom_endpoints": {}})
    await load(client)
    response = await client.post(
        "CarePlan/plan/$medcom-carecommunication", json=parameters(**ASK, send=True)
    )
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["receiver"]
    assert (await client.get("Task")).json().get("entry", []) == []
    comms = (await client.get("Communication")).json()
    assert [e["resource"]["id"] for e in comms.get("entry", [])] == ["note"]


async def test_the_record_and_the_outbox_entry_are_one_unit_of_work(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox entry fails after the Communication and the message were written: neither
    is kept."""
    from fhir_server.errors import Unavailable
    from medcom import outbox
    from medcom.outbound import operations

    async def failing(ctx: Any, uow: Any, bundle: dict[str, Any], *args: Any) -> None:
        await outbox.enqueue(ctx, uow, bundle, *args)
        raise Unavailable("the store went away", retry_after=1)

    monkeypatch.setattr(operations, "enqueue", failing)
    response = await client.post(
        "CarePlan/plan/$medcom-carecommunication", json=parameters(**ASK, send=True)
    )
    assert response.status_code == 503
    assert (await client.get("Task")).json().get("entry", []) == []
    comms = (await client.get("Communication")).json()
    assert [e["resource"]["id"] for e in comms.get("entry", [])] == ["note"]
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_an_endpoint_may_be_keyed_by_the_receivers_ean(make_client: Any) -> None:
    url = "http://receiver.test/fhir/$process-message"
    client = await make_client(**{**SETTINGS, "medcom_endpoints": {"5790001353308": url}})
    await load(client)
    message = await send(client)
    receiver = Receiver("ok")
    await worker(client, receiver, Clock()).run_once()
    assert len(receiver.received) == 1
    assert await state(client, message) == ("completed", "acknowledged", "completed")
