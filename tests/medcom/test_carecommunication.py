"""CareCommunication → a Communication in the shared record (issue 13, item 2): new, reply and
forward, each through `POST /fhir/$process-message` over HTTP on every store, landing linked
to the citizen (CPR or replacement CPR), the thread, what a reply answers, the episode of care."""

from __future__ import annotations

from typing import Any

from medcom.codes import MESSAGE_HEADER_ID
from medcom.inbound.message import letter_ids
from tests.medcom.conftest import Medcom, ack_of, altered, example

RECEIVER_A = "7279446d-9cc9-49bf-b2a2-990eb2d9f942"
"""Sundhedsplejen, Aabenraa kommune: the receiver of cc-new-A."""


async def _one(medcom: Medcom, header_id: str) -> dict[str, Any]:
    found = await medcom.search(f"Communication?identifier={MESSAGE_HEADER_ID}|{header_id}")
    assert len(found) == 1, found
    return found[0]


async def test_a_new_message_lands_as_a_communication_about_the_citizen(medcom: Medcom) -> None:
    message = example("cc-new-A.json")
    code, outcome = ack_of(await medcom.send(message))
    assert code == "ok", outcome
    stored = await _one(medcom, "7ed8da8d-fd74-4948-bc92-924842b30adf")
    assert stored["subject"] == {"reference": "Patient/c4909be8-2684-4dc7-87ec-3e91eb8c0ac6"}
    assert stored["status"] == "completed"
    assert {"value": "urn:uuid:7d14612c-5f58-4621-928d-267846f948c7"} in stored["identifier"]
    incoming = next(
        e["resource"] for e in message["entry"] if e["resource"]["resourceType"] == "Communication"
    )
    assert stored["category"] == incoming["category"]
    assert stored["topic"] == incoming["topic"]
    assert [p.get("contentString") for p in stored["payload"]] == [
        p.get("contentString") for p in incoming["payload"]
    ]
    attachment = next(p["contentAttachment"] for p in stored["payload"] if "contentAttachment" in p)
    sent = next(p["contentAttachment"] for p in incoming["payload"] if "contentAttachment" in p)
    assert attachment == sent  # kept whole: title, content type, data
    assert {"reference": f"Organization/{RECEIVER_A}"} in stored["recipient"]
    # the message's people are kept with it: the author of each segment resolves
    contained = {f"#{c['id']}" for c in stored.get("contained", [])}
    for payload in stored["payload"]:
        for ext in payload.get("extension", []):
            if "valueReference" in ext:
                assert ext["valueReference"]["reference"] in contained
    assert "inResponseTo" not in stored


async def test_a_replacement_cpr_finds_its_citizen(medcom: Medcom) -> None:
    code, outcome = ack_of(await medcom.send(example("cc-new-B-technical-ids-decpr.json")))
    assert code == "ok", outcome
    stored = await _one(medcom, "ejklfdsio8klakfd.hjfkdshfjk-hfjkdshfj89432n7f")
    assert stored["subject"] == {"reference": "Patient/fdsgjhfrgeu567485-.fdsf"}


async def test_a_reply_keeps_the_thread_and_answers_the_earlier_communication(
    medcom: Medcom,
) -> None:
    code, _ = ack_of(await medcom.send(example("cc-new-I-xecpr.json")))
    assert code == "ok"
    first = await _one(medcom, "8f537c84-17f9-4fd1-a3d6-3d4008d6c6ec")
    code, outcome = ack_of(await medcom.send(example("cc-reply-H-xecpr.json")))
    assert code == "ok", outcome
    reply = await _one(medcom, "2414b445-665f-41af-9ecd-b97c0b58c081")
    assert reply["subject"] == {"reference": "Patient/b7fed758-bfdd-4c21-bfca-bb0b4b7081a0"}
    assert reply["inResponseTo"] == [{"reference": f"Communication/{first['id']}"}]
    thread = [i for i in first["identifier"] if "system" not in i]
    assert thread and thread[0] in reply["identifier"]  # same thread id


async def test_a_reply_keeps_what_the_answered_message_concerned(medcom: Medcom) -> None:
    """The earlier message was this server's (outbound: a Communication based on a referral,
    recorded with its MessageHeader.id): the reply is filed against the same ServiceRequest."""
    request = {
        "resourceType": "ServiceRequest",
        "id": "referral",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/b7fed758-bfdd-4c21-bfca-bb0b4b7081a0"},
    }
    sent = {
        "resourceType": "Communication",
        "id": "sent-earlier",
        "status": "completed",
        "identifier": [
            {"system": MESSAGE_HEADER_ID, "value": "8f537c84-17f9-4fd1-a3d6-3d4008d6c6ec"}
        ],
        "basedOn": [{"reference": "ServiceRequest/referral"}],
        "subject": {"reference": "Patient/b7fed758-bfdd-4c21-bfca-bb0b4b7081a0"},
    }
    for resource in (request, sent):
        url = f"{resource['resourceType']}/{resource['id']}"
        resp = await medcom.client.put(url, json=resource, headers=medcom.admin)
        assert resp.status_code == 201, resp.text
    code, outcome = ack_of(await medcom.send(example("cc-reply-H-xecpr.json")))
    assert code == "ok", outcome
    reply = await _one(medcom, "2414b445-665f-41af-9ecd-b97c0b58c081")
    assert reply["inResponseTo"] == [{"reference": "Communication/sent-earlier"}]
    assert reply["basedOn"] == [{"reference": "ServiceRequest/referral"}]


async def test_a_forward_starts_a_new_thread(medcom: Medcom) -> None:
    message = example("cc-forward-C.json")
    code, outcome = ack_of(await medcom.send(message))
    assert code == "ok", outcome
    stored = await _one(medcom, "d2b81c34-ec5d-4c5f-9380-1b5aa507544b")
    incoming = next(
        e["resource"] for e in message["entry"] if e["resource"]["resourceType"] == "Communication"
    )
    assert incoming["identifier"][0] in stored["identifier"]
    assert "inResponseTo" not in stored  # a forward answers nothing
    assert len(stored["payload"]) == len(incoming["payload"])  # the forwarded segments too


async def test_the_episode_of_care_links_the_hospital_stay(medcom: Medcom) -> None:
    code, _ = ack_of(await medcom.send(example("hn-stin-G.json")))
    assert code == "ok"
    [stay] = await medcom.search("Encounter")
    message = altered("cc-new-A.json")
    encounter = {
        "resourceType": "Encounter",
        "id": "stay",
        "meta": {
            "profile": ["http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-encounter"]
        },
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>Encounter stay</p></div>',
        },
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": "Patient/c4909be8-2684-4dc7-87ec-3e91eb8c0ac6"},
        "episodeOfCare": [{"identifier": stay["identifier"][0]}],
    }
    message["entry"].append({"fullUrl": "Encounter/stay", "resource": encounter})
    communication = next(
        e["resource"] for e in message["entry"] if e["resource"]["resourceType"] == "Communication"
    )
    communication["encounter"] = {"reference": "Encounter/stay"}
    code, outcome = ack_of(await medcom.send(message))
    assert code == "ok", outcome
    stored = await _one(medcom, "7ed8da8d-fd74-4948-bc92-924842b30adf")
    assert stored["encounter"] == {"reference": f"Encounter/{stay['id']}"}


def test_an_oioxml_predecessor_is_read_in_either_order() -> None:
    """A reply to an OIOXML letter names it ``lokationsnummer#brevid``; MedCom's own example
    writes ``brevid#lokationsnummer``: both are read as the documented order."""
    assert letter_ids("5790000121526#B300720181623") == ["5790000121526#B300720181623"]
    assert letter_ids("B300720181623#5790000121526") == ["5790000121526#B300720181623"]


async def test_a_receiver_named_by_its_gln_under_any_system_is_found(medcom: Medcom) -> None:
    """GLN as ``https://www.gs1.org/gln`` (stored), ``http://www.gs1.org/gln`` or
    ``urn:oid:1.3.88`` (older dk-core) in the message: the same receiver."""
    for n, system in enumerate(("http://www.gs1.org/gln", "urn:oid:1.3.88")):
        message = altered("cc-new-A.json")
        message["id"] = f"gln-{n}"
        header = message["entry"][0]["resource"]
        header["id"] = f"gln-header-{n}"
        message["entry"][0]["fullUrl"] = f"MessageHeader/gln-header-{n}"
        for entry in message["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "Provenance":
                resource["target"] = [{"reference": f"MessageHeader/gln-header-{n}"}]
        ref = header["destination"][0]["receiver"]["reference"]
        receiver = next(e["resource"] for e in message["entry"] if e["fullUrl"].endswith(ref))
        receiver["identifier"] = [
            {"system": system, "value": i["value"]}
            if "gs1" in i["system"]
            else {**i, "value": "999999999999999"}  # a SOR id not known here: the GLN counts
            for i in receiver["identifier"]
        ]
        code, outcome = ack_of(await medcom.send(message))
        assert code == "ok", outcome
        stored = await _one(medcom, f"gln-header-{n}")
        assert {"reference": f"Organization/{RECEIVER_A}"} in stored["recipient"]


async def test_the_message_may_come_as_the_content_parameter(medcom: Medcom) -> None:
    """$process-message's own input: a Parameters resource whose ``content`` is the message."""
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "content", "resource": example("cc-new-K.json")}],
    }
    code, outcome = ack_of(await medcom.send(body))
    assert code == "ok", outcome
    await _one(medcom, "559e4be0-e1f2-4371-969d-29bbbd5ca9d1")
