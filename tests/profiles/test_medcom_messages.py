"""MedCom's published example messages against the MedCom message profiles (issue 13 item 1).

The examples are MedCom's own (/work/shared/medcom-examples or tests/data; README there): the
current ones validate, the defective and retired ones fail with the rule that catches them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from profiles.validation import ValidationIssue, Validator

EXAMPLES = Path(os.environ.get("MEDCOM_EXAMPLES", "/work/shared/medcom-examples"))
CC = (
    "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-message"
)
HN = "http://medcomfhir.dk/ig/hospitalnotification/StructureDefinition/medcom-hospitalNotification-message"
ACK = "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement"

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="MedCom examples not present")

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
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


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
