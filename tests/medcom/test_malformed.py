"""Malformed messages are refused with a fatal-error Acknowledgement naming the element and a
MedCom issue detail, and nothing is stored (issue 13, "What must show"); redelivery of a refused
message gets the identical Acknowledgement. The profile rules are the MedCom message profiles'
(validated by the project's validator); the message-level ones are `medcom.inbound.checks`'."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.medcom.conftest import Medcom, ack_of, altered

Breaking = Callable[[dict[str, Any]], None]
OO = "http://terminology.hl7.org/CodeSystem/operation-outcome"
MEDCOM_ERRORS = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-acknowledgement-error-codes"


def _resource(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)


def header_not_first(bundle: dict[str, Any]) -> None:
    bundle["entry"].append(bundle["entry"].pop(0))


def no_provenance(bundle: dict[str, Any]) -> None:
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Provenance"]


def dangling_reference(bundle: dict[str, Any]) -> None:
    _resource(bundle, "Communication")["subject"] = {"reference": "Patient/not-in-the-bundle"}


def unknown_event(bundle: dict[str, Any]) -> None:
    _resource(bundle, "MessageHeader")["eventCoding"]["code"] = "care-communication"


def cc_destination(bundle: dict[str, Any]) -> None:
    header = _resource(bundle, "MessageHeader")
    cc = {**header["destination"][0]}
    cc["extension"] = [
        {**cc["extension"][0], "valueCoding": {**cc["extension"][0]["valueCoding"], "code": "cc"}}
    ]
    header["destination"].append(cc)


def no_definition(bundle: dict[str, Any]) -> None:
    del _resource(bundle, "MessageHeader")["definition"]


def priority_without_referral(bundle: dict[str, Any]) -> None:
    _resource(bundle, "Communication")["priority"] = "asap"


def replacement_cpr(bundle: dict[str, Any]) -> None:
    _resource(bundle, "Patient")["identifier"] = [
        {"system": "urn:oid:1.2.208.176.1.6.1.1", "value": "0703921VJ5"}
    ]


def forbidden_encounter_element(bundle: dict[str, Any]) -> None:
    _resource(bundle, "Encounter")["priority"] = {"text": "urgent"}


def unknown_receiver(bundle: dict[str, Any]) -> None:
    receiver = _resource(bundle, "MessageHeader")["destination"][0]["receiver"]["reference"]
    organization = next(e["resource"] for e in bundle["entry"] if e.get("fullUrl") == receiver)
    for identifier in organization["identifier"]:
        identifier["value"] = "5790000000005" if "gs1" in identifier["system"] else "99999999999"


def unknown_citizen(bundle: dict[str, Any]) -> None:
    _resource(bundle, "Patient")["identifier"] = [
        {"system": "urn:oid:1.2.208.176.1.2", "value": "0101010101"}
    ]


CASES: list[tuple[str, str, Breaking, str, tuple[str, str]]] = [
    # (example, case, breaking, expression prefix, issue detail)
    ("cc-new-A.json", "header-not-first", header_not_first, "Bundle", (OO, "MSG_BAD_FORMAT")),
    ("cc-new-A.json", "no-provenance", no_provenance, "Bundle", (OO, "MSG_BAD_FORMAT")),
    (
        "cc-new-A.json",
        "dangling",
        dangling_reference,
        "Bundle.entry[2].resource.subject",
        (OO, "MSG_RESOURCE_REQUIRED"),
    ),
    ("cc-new-A.json", "event", unknown_event, "Bundle.entry[0].resource", (OO, "MSG_BAD_FORMAT")),
    (
        "cc-new-A.json",
        "cc",
        cc_destination,
        "Bundle.entry[0].resource",
        (OO, "MSG_BAD_FORMAT"),
    ),
    (
        "cc-new-A.json",
        "definition",
        no_definition,
        "Bundle.entry[0].resource.definition",
        (OO, "MSG_BAD_FORMAT"),
    ),
    (
        "cc-new-A.json",
        "priority",
        priority_without_referral,
        "Bundle.entry[2].resource",
        (OO, "MSG_BAD_FORMAT"),
    ),
    ("hn-stin-G.json", "ecpr", replacement_cpr, "Bundle", (OO, "MSG_BAD_FORMAT")),
    (
        "hn-stin-G.json",
        "encounter",
        forbidden_encounter_element,
        "Bundle.entry[2].resource.priority",
        (OO, "MSG_BAD_FORMAT"),
    ),
    (
        "hn-stin-G.json",
        "receiver",
        unknown_receiver,
        "Bundle.entry[0].resource.destination",
        (MEDCOM_ERRORS, "MSG_Receiver_Identifier_UNKNOWN"),
    ),
    (
        "cc-new-A.json",
        "citizen",
        unknown_citizen,
        "Bundle.entry[1].resource.identifier",
        (OO, "MSG_RESOURCE_REQUIRED"),
    ),
]


@pytest.mark.parametrize(
    ("name", "breaking", "where", "detail"),
    [pytest.param(n, b, w, d, id=case) for n, case, b, w, d in CASES],
)
async def test_refused_with_a_fatal_error_and_nothing_stored(
    medcom: Medcom, name: str, breaking: Breaking, where: str, detail: tuple[str, str]
) -> None:
    message = altered(name)
    breaking(message)
    before = await medcom.counts()
    resp = await medcom.send(message)
    code, outcome = ack_of(resp)
    assert code == "fatal-error", outcome
    issues = outcome["issue"]
    assert all(i["severity"] == "error" for i in issues)
    assert any(
        any(e.startswith(where) for e in i["expression"])
        and {"system": detail[0], "code": detail[1]} in i["details"]["coding"]
        for i in issues
    ), issues
    assert await medcom.counts() == before
    again = await medcom.send(message)
    assert again.content == resp.content  # redelivery: the identical Acknowledgement
    assert await medcom.counts() == before


async def test_an_unserved_citizen_is_refused_and_nothing_told(medcom: Medcom) -> None:
    """A HospitalNotification about a citizen the receiving organization has no care
    relationship with: fatal-error, no Encounter, no Task; the text says no more than that."""
    before = await medcom.counts()
    code, outcome = ack_of(await medcom.send(altered("hn-stin-tek-lov.json")))
    assert code == "fatal-error"
    [issue] = outcome["issue"]
    assert issue["diagnostics"] == "The citizen is not one this receiver serves"
    assert await medcom.counts() == before
    unknown = altered("hn-stin-G.json")
    unknown_citizen(unknown)
    _, other = ack_of(await medcom.send(unknown))
    assert other["issue"] == [issue]  # an unknown citizen: the same answer, revealing neither


async def test_a_body_that_is_no_message_is_a_400(medcom: Medcom) -> None:
    """Nothing an Acknowledgement could name (no MessageHeader with an id): 400."""
    resp = await medcom.send({"resourceType": "Bundle", "type": "message", "entry": []})
    assert resp.status_code == 400
    assert resp.json()["resourceType"] == "OperationOutcome"
