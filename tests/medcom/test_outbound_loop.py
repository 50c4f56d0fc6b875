"""Outbound to inbound: a second instance of this server receives what the first sends (its
``$process-message``), answers with an Acknowledgement, and the first records it; an
Acknowledgement posted later to the sender's ``$process-message`` (a VANS gateway's) sets the
status too. In process (ASGI); tests/system/test_medcom_outbox.py does it between processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson

from medcom.delivery import DeliveryWorker
from tests.api.support import app_of
from tests.medcom.record import ASK, RECEIVER_SOR, SENDER_SOR, SETTINGS, load, parameters
from tests.medcom.record import resources as of
from tests.medcom.test_outbox import Clock, state

RECEIVER_URL = "http://testserver/fhir/$process-message"


async def test_the_receiving_server_files_the_message_and_acknowledges_it(
    make_client: Any,
) -> None:
    sender = await make_client(**{**SETTINGS, "medcom_endpoints": {RECEIVER_SOR: RECEIVER_URL}})
    receiver = await make_client()
    await load(sender)
    await load(receiver)
    response = await sender.post(
        "CarePlan/plan/$medcom-carecommunication", json=parameters(**ASK, send=True)
    )
    assert response.status_code == 200, response.text
    message = response.json()
    app = app_of(sender)
    transport = httpx.ASGITransport(app=app_of(receiver))
    worker = DeliveryWorker(app.store, app.settings, app.services, Clock(), transport)
    await worker.run_once()
    assert await state(sender, message) == ("completed", "acknowledged", "completed")
    header = message["entry"][0]["resource"]["id"]
    filed = (await receiver.get("Communication", params={"identifier": header})).json()
    (comm,) = [e["resource"] for e in filed["entry"]]
    assert "Forebyggende sygebesøg" in comm["payload"][-1]["contentString"]


async def test_an_acknowledgement_arriving_at_process_message_sets_the_status(
    make_client: Any, tmp_path: Path
) -> None:
    drop = tmp_path / "vans"
    sender = await make_client(**{**SETTINGS, "medcom_endpoints": {RECEIVER_SOR: f"file://{drop}"}})
    receiver = await make_client()
    await load(sender)
    await load(receiver)
    response = await sender.post(
        "CarePlan/plan/$medcom-carecommunication", json=parameters(**ASK, send=True)
    )
    message = response.json()
    app = app_of(sender)
    await DeliveryWorker(app.store, app.settings, app.services, Clock()).run_once()
    (dropped,) = drop.iterdir()
    # the gateway hands the message to the receiver, whose Acknowledgement comes back
    answer = await receiver.post(
        "$process-message",
        content=dropped.read_bytes(),
        headers={"Content-Type": "application/fhir+json"},
    )
    assert answer.status_code == 200, answer.text
    ack = answer.json()
    assert ack["entry"][0]["resource"]["response"]["code"] == "ok", orjson.dumps(ack)
    assert await state(sender, message) == ("in-progress", "sent", "in-progress")
    back = await sender.post("$process-message", json=ack)
    assert back.status_code == 200, back.text
    assert back.json()["resourceType"] == "OperationOutcome"  # never acknowledged
    assert await state(sender, message) == ("completed", "acknowledged", "completed")
    again = await sender.post("$process-message", json=ack)
    assert again.status_code == 200
    assert await state(sender, message) == ("completed", "acknowledged", "completed")


async def test_a_reply_goes_back_in_the_same_thread(make_client: Any) -> None:
    """S1's shape between two instances: the hospital writes, the municipality's nurse answers
    the Communication its server filed, the hospital files the answer in the same thread."""
    hospital = await make_client(**{**SETTINGS, "medcom_endpoints": {RECEIVER_SOR: RECEIVER_URL}})
    municipality = await make_client(
        medcom_sender="homecare",
        medcom_endpoints={SENDER_SOR: RECEIVER_URL},
        medcom_poll_seconds=3600,
    )
    await load(hospital)
    await load(municipality)
    role = {
        "resourceType": "PractitionerRole",
        "id": "home-nurse",
        "practitioner": {"reference": "Practitioner/nurse"},
        "organization": {"reference": "Organization/homecare"},
        "code": [{"text": "Hjemmesygeplejerske"}],
        "telecom": [{"system": "phone", "value": "+4587654321"}],
    }
    assert (await municipality.put("PractitionerRole/home-nurse", json=role)).status_code == 201
    sent = await hospital.post(
        "Communication/note/$medcom-carecommunication", json=parameters(**ASK, send=True)
    )
    assert sent.status_code == 200, sent.text
    first = sent.json()
    await _deliver(hospital, municipality)
    header = first["entry"][0]["resource"]["id"]
    filed = (await municipality.get("Communication", params={"identifier": header})).json()
    (received,) = [e["resource"] for e in filed["entry"]]
    answer = {
        "resourceType": "Communication",
        "id": "answer",
        "status": "completed",
        "subject": received["subject"],
        "inResponseTo": [{"reference": f"Communication/{received['id']}"}],
        "payload": [{"contentString": "Tak. Vi kigger forbi i eftermiddag."}],
    }
    assert (await municipality.put("Communication/answer", json=answer)).status_code == 201
    reply = await municipality.post(
        "Communication/answer/$medcom-carecommunication",
        json=parameters(
            receiver="Organization/ward", author="PractitionerRole/home-nurse", send=True
        ),
    )
    assert reply.status_code == 200, reply.text
    message = reply.json()
    (comm,) = of(message, "Communication")
    thread = of(first, "Communication")[0]["identifier"][0]["value"]
    assert comm["identifier"][0]["value"] == thread
    assert [p["contentString"] for p in comm["payload"]] == [
        "Bruno er faldet i hjemmet.\nVi ser til ham i morgen.",
        "Tak. Vi kigger forbi i eftermiddag.",
    ]
    provenances = of(message, "Provenance")  # the thread: the hospital's, then the reply's
    assert [p["activity"]["coding"][0]["code"] for p in provenances] == [
        "new-message",
        "reply-message",
    ]
    assert provenances[0]["target"] == [{"reference": f"MessageHeader/{header}"}]
    await _deliver(municipality, hospital)
    assert await state(municipality, message) == ("completed", "acknowledged", "completed")
    assert await state(hospital, first) == ("completed", "acknowledged", "completed")
    reply_header = message["entry"][0]["resource"]["id"]
    back = (await hospital.get("Communication", params={"identifier": reply_header})).json()
    (answered,) = [e["resource"] for e in back["entry"]]
    assert answered["inResponseTo"] == [{"reference": "Communication/note"}]
    assert thread in [i.get("value") for i in answered["identifier"]]


async def _deliver(sender: Any, receiver: Any) -> None:
    app = app_of(sender)
    transport = httpx.ASGITransport(app=app_of(receiver))
    await DeliveryWorker(app.store, app.settings, app.services, Clock(), transport).run_once()


async def test_a_hospital_notification_reaches_the_municipality(make_client: Any) -> None:
    """S4's shape: the hospital's admission notification is filed by the municipality that
    serves the citizen (its care team) and acknowledged."""
    hospital = await make_client(**{**SETTINGS, "medcom_endpoints": {RECEIVER_SOR: RECEIVER_URL}})
    municipality = await make_client()
    await load(hospital)
    await load(municipality)
    team = {
        "resourceType": "CareTeam",
        "id": "home-team",
        "status": "active",
        "name": "Hjemmeplejen",
        "subject": {"reference": "Patient/bruno"},
        "managingOrganization": [{"reference": "Organization/homecare"}],
        "participant": [{"member": {"reference": "Organization/homecare"}}],
    }
    assert (await municipality.put("CareTeam/home-team", json=team)).status_code == 201
    response = await hospital.post(
        "Encounter/stay/$medcom-hospitalnotification",
        json=parameters(receiver="Organization/homecare", send=True),
    )
    assert response.status_code == 200, response.text
    message = response.json()
    await _deliver(hospital, municipality)
    header = message["entry"][0]["resource"]["id"]
    task = (await hospital.get(f"Task/{header}")).json()
    assert task["status"] == "completed", task
    encounters = (await municipality.get("Encounter", params={"status": "in-progress"})).json()
    stays = [e["resource"] for e in encounters["entry"] if e["resource"]["id"] != "stay"]
    assert [s["class"]["code"] for s in stays] == ["IMP"]
