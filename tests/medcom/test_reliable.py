"""Reliable messaging and the Acknowledgement (issue 13, item 2): redelivery gets the identical
Acknowledgement and stores nothing again; a duplicate in a new envelope is a duplicate; a
reused envelope id is a fatal-error; a technical failure is a transient-error that is not
remembered; the Acknowledgement's content (MedCom Acknowledgement 2.0); an Acknowledgement is
never acknowledged."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from medcom import inbound
from medcom.codes import ACKNOWLEDGEMENT, CARE_COMMUNICATION, MESSAGE_HEADER_ID
from medcom.inbound.message import Problem, Rejected
from tests.medcom.conftest import Medcom, ack_of, altered, example

HEADER_A = "7ed8da8d-fd74-4948-bc92-924842b30adf"


async def _communications(medcom: Medcom, header_id: str = HEADER_A) -> list[dict[str, Any]]:
    return await medcom.search(f"Communication?identifier={MESSAGE_HEADER_ID}|{header_id}")


async def test_redelivery_gets_the_identical_acknowledgement_and_stores_nothing(
    medcom: Medcom,
) -> None:
    first = await medcom.send(example("cc-new-A.json"))
    assert ack_of(first)[0] == "ok"
    counts = await medcom.counts()
    again = await medcom.send(example("cc-new-A.json"))
    assert again.content == first.content
    assert await medcom.counts() == counts
    assert len(await _communications(medcom)) == 1


async def test_a_duplicate_in_a_new_envelope_is_never_shown_twice(
    medcom: Medcom, caplog: pytest.LogCaptureFixture
) -> None:
    first = await medcom.send(example("cc-new-A.json"))
    resend = altered("cc-new-A.json")
    resend["id"] = str(uuid.uuid4())  # the sender's resend: a new envelope, the same letter
    caplog.set_level("INFO", logger="medcom")
    again = await medcom.send(resend)
    assert again.content == first.content
    assert len(await _communications(medcom)) == 1
    assert any("duplicate MedCom message" in r.getMessage() for r in caplog.records)
    assert all("2509479989" not in r.getMessage() for r in caplog.records)  # no CPR logged
    third = await medcom.send(resend)  # that envelope, too, is known now
    assert third.content == first.content


async def test_a_reused_envelope_id_is_a_fatal_error(medcom: Medcom) -> None:
    assert ack_of(await medcom.send(example("cc-new-A.json")))[0] == "ok"
    other = altered("cc-new-E-parallel.json")
    other["id"] = example("cc-new-A.json")["id"]
    counts = await medcom.counts()
    code, outcome = ack_of(await medcom.send(other))
    assert code == "fatal-error"
    [issue] = outcome["issue"]
    assert issue["expression"] == ["Bundle.id"]
    assert issue["details"]["coding"][0]["code"] == "MSG_DUPLICATE_ID"
    assert await medcom.counts() == counts


async def test_a_technical_failure_is_a_transient_error_and_not_remembered(
    medcom: Medcom, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(ctx: Any, bundle: dict[str, Any]) -> inbound.HandlerResult:
        raise OSError("disk full")

    monkeypatch.setitem(inbound._HANDLERS, CARE_COMMUNICATION, broken)
    counts = await medcom.counts()
    code, outcome = ack_of(await medcom.send(example("cc-new-A.json")))
    assert code == "transient-error"
    assert outcome["issue"][0]["code"] == "transient"
    assert "disk full" not in str(outcome)  # technical details stay here
    assert await medcom.counts() == counts
    monkeypatch.undo()
    code, _ = ack_of(await medcom.send(example("cc-new-A.json")))  # the resend is processed
    assert code == "ok"
    assert len(await _communications(medcom)) == 1


@pytest.mark.parametrize("verdict", ["ok", "fatal-error"])
async def test_the_acknowledgement_answers_the_message(medcom: Medcom, verdict: str) -> None:
    """MedCom Acknowledgement 2.0: sender and receiver swapped, response.identifier the acked
    MessageHeader.id, the message's latest Provenance copied and a new one for the
    acknowledgement revising the acked MessageHeader; an OperationOutcome unless ok."""
    message = altered("hn-stin-G.json")
    if verdict == "fatal-error":
        del message["entry"][0]["resource"]["focus"]
    resp = await medcom.send(message)
    ack = resp.json()
    assert resp.headers["content-type"].startswith("application/fhir+json")
    assert ack["meta"]["profile"] == [
        "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement"
    ]
    header = ack["entry"][0]["resource"]
    original = message["entry"][0]["resource"]
    assert header["response"]["identifier"] == original["id"]
    assert header["response"]["code"] == verdict
    assert header["sender"] == original["destination"][0]["receiver"]
    assert header["destination"][0]["receiver"] == original["sender"]
    assert header["destination"][0]["endpoint"] == original["source"]["endpoint"]
    provenances = [
        e["resource"] for e in ack["entry"] if e["resource"]["resourceType"] == "Provenance"
    ]
    sent = next(
        e["resource"] for e in message["entry"] if e["resource"]["resourceType"] == "Provenance"
    )
    assert provenances[0] == sent
    assert provenances[1]["activity"]["coding"][0]["code"] == "acknowledgement"
    assert provenances[1]["entity"] == [
        {"role": "revision", "what": {"reference": f"MessageHeader/{original['id']}"}}
    ]
    assert provenances[1]["target"] == [{"reference": f"MessageHeader/{header['id']}"}]
    outcomes = [e for e in ack["entry"] if e["resource"]["resourceType"] == "OperationOutcome"]
    assert bool(outcomes) == (verdict != "ok")
    references = {e["fullUrl"] for e in ack["entry"]}
    assert {"Organization/" + header["sender"]["reference"].split("/")[1]} <= references


async def test_the_acknowledgement_is_valid_against_its_profile(medcom: Medcom) -> None:
    from profiles.validation import Validator

    for message in (example("cc-new-A.json"), altered("cc-new-E-parallel.json")):
        if message["id"].startswith("R-Tek-E"):
            del message["entry"][0]["resource"]["definition"]  # a fatal-error one
        ack = (await medcom.send(message)).json()
        issues = Validator.default().validate(
            ack,
            profiles=[
                "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/"
                "medcom-messaging-acknowledgement"
            ],
        )
        assert [i for i in issues if i.severity in ("error", "fatal")] == []


async def test_an_acknowledgement_is_never_acknowledged(medcom: Medcom) -> None:
    """Whatever handles it (outbound's delivery status, once registered), the answer to an
    Acknowledgement is an OperationOutcome, never another Acknowledgement; without a handler
    the server says it does not process them (400 not-supported)."""
    for name in ("ack-ok-AA.json", "ack-fatal-AE.json", "ack-transient-AR.json"):
        resp = await medcom.send(example(name))
        body = resp.json()
        assert body["resourceType"] == "OperationOutcome", body
        if inbound.handler_for(ACKNOWLEDGEMENT) is None:
            assert resp.status_code == 400
            assert body["issue"][0]["code"] == "not-supported"


async def test_concurrent_deliveries_are_filed_once(medcom: Medcom) -> None:
    """The sender's resend racing the first delivery (both before either is answered): one
    Communication, and both get the same Acknowledgement."""
    resend = altered("cc-new-A.json")
    resend["id"] = str(uuid.uuid4())
    answers = await asyncio.gather(
        medcom.send(example("cc-new-A.json")), medcom.send(resend), medcom.send(resend)
    )
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1, [ack_of(a) for a in answers]
    assert ack_of(answers[0])[0] == "ok"
    assert len(await _communications(medcom)) == 1


async def test_an_acknowledgement_handled_is_answered_with_an_outcome_only(
    medcom: Medcom, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a handler registered (outbound's delivery status): 200 and an OperationOutcome
    when it took the Acknowledgement, 422 naming the element when it refused it — never an
    Acknowledgement of the Acknowledgement."""
    seen: list[str] = []

    async def taken(ctx: Any, bundle: dict[str, Any]) -> inbound.HandlerResult:
        seen.append(bundle["entry"][0]["resource"]["response"]["identifier"])
        return inbound.HandlerResult()

    monkeypatch.setitem(inbound._HANDLERS, ACKNOWLEDGEMENT, taken)
    resp = await medcom.send(example("ack-ok-AA.json"))
    assert resp.status_code == 200
    assert resp.json()["resourceType"] == "OperationOutcome"
    assert seen == ["42cb9200-f421-4d08-8391-7d51a2503cb4"]

    async def refused(ctx: Any, bundle: dict[str, Any]) -> inbound.HandlerResult:
        raise Rejected([Problem("Answers no message sent here", "Bundle.entry[0].resource")])

    monkeypatch.setitem(inbound._HANDLERS, ACKNOWLEDGEMENT, refused)
    resp = await medcom.send(example("ack-ok-AA.json"))
    assert resp.status_code == 422
    assert resp.json()["issue"][0]["expression"] == ["Bundle.entry[0].resource"]
