"""MedCom's published example messages against the MedCom message profiles (issue 13 item 1).

The examples are MedCom's own (tests/support/medcom_examples.py says where; README there): the
current ones validate, the defective and retired ones fail with the rule that catches them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from profiles.validation import ValidationIssue, Validator
from tests.support import medcom_examples

CC = (
    "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-message"
)
HN = "http://medcomfhir.dk/ig/hospitalnotification/StructureDefinition/medcom-hospitalNotification-message"
ACK = "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement"


VALID = {
    "ack-ok-AA.json": ACK,
    "ack-fatal-AE.json": ACK,
    "ack-transient-AR.json": ACK,
    "cc-new-A.json": CC,
    "cc-new-B-technical-ids-decpr.json": CC,
    "cc-new-E-parallel.json": CC,
    "cc-new-I-xecpr.json": CC,
    "cc-new-K.json": CC,
    "cc-forward-C.json": CC,
    "cc-reply-H-xecpr.json": CC,
    "hn-stin-G.json": HN,
    "hn-stor-G.json": HN,
    "hn-slor-G.json": HN,
    "hn-slhj-H.json": HN,
    "hn-mors-K.json": HN,
    "hn-stin-tek-id-lpr3.json": HN,
    "hn-stin-tek-lov.json": HN,
    # these two claim HospitalNotification's old canonical base (…/fhir/…) for the Bundle:
    # checked against the current profile, not by their claim
    "hn-an-stin-P.json": HN,
    "hn-re-stin-P.json": HN,
}
# file -> (issue code, expression, rule or element named in the diagnostics)
INVALID = {
    "cc-invalid-M-category-without-code.json": (
        "required",
        "Bundle.entry[2].resource.category[0].coding[0].code",
        "Communication.category.coding.code",
    ),
    "hn-invalid-tek-fcc.json": ("required", "Bundle.entry[0].resource.event", "event[x]"),
    # retired versions: not CareCommunication 5.0
    "cc-retired-3x-new-no-definition.json": (
        "required",
        "Bundle.entry[0].resource.definition",
        "MessageHeader.definition",
    ),
    "cc-retired-4.0-new-deceased.json": (
        "invariant",
        "Bundle.entry[0].resource",
        "medcom-carecommunication-definition-url",
    ),
    # modify: its Provenances are messaging ones (modified-message is no CareCommunication 5
    # activity)
    "cc-retired-modify.json": ("invariant", "Bundle", "medcom-careCommunication-3"),
    "cc-retired-retract.json": (
        "structure",
        "Bundle.entry[0].resource.focus",
        "MessageHeader.focus",
    ),
}


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator.default()


def _load(name: str) -> dict[str, Any]:
    return json.loads(medcom_examples.path(name).read_text(encoding="utf-8"))


def _errors(validator: Validator, message: dict[str, Any], profile: str) -> list[ValidationIssue]:
    claimed = (message.get("meta") or {}).get("profile") == [profile]
    issues = validator.validate(message, profiles=[profile], claimed=claimed)
    return [i for i in issues if i.severity in ("error", "fatal")]


@pytest.mark.parametrize("name", sorted(VALID))
def test_published_message_validates(validator: Validator, name: str) -> None:
    assert _errors(validator, _load(name), VALID[name]) == []


@pytest.mark.parametrize("name", sorted(INVALID))
def test_defective_or_retired_message_fails(validator: Validator, name: str) -> None:
    code, expression, named = INVALID[name]
    errors = _errors(validator, _load(name), CC if name.startswith("cc") else HN)
    assert any(
        i.code == code and i.expression == expression and named in i.diagnostics for i in errors
    ), [i.to_json() for i in errors]


# --- one defect each, made in a valid published message -------------------------------------


def _entry(message: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(e["resource"] for e in message["entry"] if e["resource"]["resourceType"] == kind)


def _swap_first_two(m: dict[str, Any]) -> None:
    m["entry"][0], m["entry"][1] = m["entry"][1], m["entry"][0]


def _drop_provenances(m: dict[str, Any]) -> None:
    m["entry"] = [e for e in m["entry"] if e["resource"]["resourceType"] != "Provenance"]


def _unknown_patient(m: dict[str, Any]) -> None:
    _entry(m, "Communication")["subject"] = {"reference": "Patient/not-in-the-message"}


def _wrong_event(m: dict[str, Any]) -> None:
    _entry(m, "MessageHeader")["eventCoding"]["code"] = "hospital-notification-message"


def _cc_destination(m: dict[str, Any]) -> None:
    header = _entry(m, "MessageHeader")
    copy = json.loads(json.dumps(header["destination"][0]))
    copy["extension"][0]["valueCoding"]["code"] = "cc"
    header["destination"].append(copy)


def _no_definition(m: dict[str, Any]) -> None:
    del _entry(m, "MessageHeader")["definition"]


def _priority(m: dict[str, Any]) -> None:
    _entry(m, "Communication")["priority"] = "asap"


def _bad_gln(m: dict[str, Any]) -> None:
    for identifier in _entry(m, "Organization")["identifier"]:
        if "gs1" in identifier["system"]:
            identifier["value"] = "5790001382444"


def _replacement_cpr(m: dict[str, Any]) -> None:
    _entry(m, "Patient")["identifier"] = [
        {"system": "urn:oid:1.2.208.176.1.6.1.1", "value": "0101011AB1"}
    ]


def _impossible_cpr(m: dict[str, Any]) -> None:
    _entry(m, "Patient")["identifier"][0]["value"] = "3102479989"  # 31 February


def _location(m: dict[str, Any]) -> None:
    _entry(m, "Encounter")["location"] = [{"location": {"display": "Afsnit 3"}}]


def _onleave_without_period(m: dict[str, Any]) -> None:
    _entry(m, "Encounter")["status"] = "onleave"


# name -> (message, defect, issue code, expression, rule or element in the diagnostics)
DEFECTS = {
    "header-not-first": (
        "cc-new-A.json", _swap_first_two, "invariant", "Bundle", "medcom-messaging-1"
    ),
    "no-provenance": (
        "cc-new-A.json", _drop_provenances, "invariant", "Bundle", "medcom-messaging-2"
    ),
    "unresolved-reference": (
        "cc-new-A.json", _unknown_patient, "invariant", "Bundle", "medcom-messaging-bundled"
    ),
    "wrong-event": (
        "cc-new-A.json", _wrong_event, "value", "Bundle.entry[0].resource.eventCoding",
        "MessageHeader.event[x]",
    ),
    "cc-destination": (
        "cc-new-A.json", _cc_destination, "invariant", "Bundle.entry[0].resource",
        "medcom-messaging-no-cc",
    ),
    "no-definition": (
        "cc-new-A.json", _no_definition, "required", "Bundle.entry[0].resource.definition",
        "MessageHeader.definition",
    ),
    "priority-not-referral": (
        "cc-new-A.json", _priority, "invariant", "Bundle.entry[2].resource",
        "medcom-careCommunication-5",
    ),
    "bad-gln": (
        "hn-stin-G.json", _bad_gln, "invariant", "Bundle.entry[3].resource",
        "medcom-messaging-organization-gln-valid",
    ),
    "impossible-cpr": (
        "cc-new-A.json", _impossible_cpr, "invariant", "Bundle.entry[1].resource.identifier[0]",
        "dk-core-cpr-1",
    ),
    "hn-replacement-cpr": (
        "hn-stin-G.json", _replacement_cpr, "invariant", "Bundle", "medcom-hospitalNotification-4"
    ),
    "hn-forbidden-location": (
        "hn-stin-G.json", _location, "structure", "Bundle.entry[2].resource.location",
        "Encounter.location",
    ),
    "hn-onleave-without-period": (
        "hn-stin-G.json", _onleave_without_period, "invariant", "Bundle.entry[2].resource",
        "medcom-hospitalNotification-6",
    ),
}  # fmt: skip


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_one_defect_is_refused_naming_its_rule(validator: Validator, defect: str) -> None:
    name, change, code, expression, named = DEFECTS[defect]
    message = _load(name)
    change(message)
    errors = _errors(validator, message, CC if name.startswith("cc") else HN)
    assert any(
        i.code == code and i.expression == expression and named in i.diagnostics for i in errors
    ), [i.to_json() for i in errors]


@pytest.mark.parametrize("system", ["http://www.gs1.org/gln", "urn:oid:1.3.88"])
def test_every_gln_system_is_accepted_on_receive(validator: Validator, system: str) -> None:
    message = _load("hn-stin-G.json")
    for entry in message["entry"]:
        for identifier in entry["resource"].get("identifier", []):
            if identifier["system"] == "https://www.gs1.org/gln":
                identifier["system"] = system
    assert _errors(validator, message, HN) == []
