"""The new resource types under SMART scopes (issue 15 item 7): a citizen's ``patient/`` token
sees only its patient's AllergyIntolerance, Immunization, DocumentReference and Appointment —
another patient's answer 404 as if they did not exist —, writes only its own, reads shared types
(Questionnaire, Location) outright, and gets no Binary or Bundle, which may hold anyone's data
the compartment cannot place."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server import compartment
from fhir_server.resource_types import SERVED_TYPES, SHARED_TYPES
from fhir_server.search.registry import builtin_params
from tests.auth.conftest import Server, ids, issue, mint

ADMIN = mint("system/*.cruds")
CITIZEN = mint("launch/patient patient/*.rs", patient="p1")
WRITER = mint("launch/patient patient/*.cruds", patient="p1")
ACTIVE = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
            "code": "active",
        }
    ]
}


def allergy(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": ACTIVE,
        "patient": {"reference": f"Patient/{patient}"},
    }


def immunization(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"text": "MFR"},
        "patient": {"reference": f"Patient/{patient}"},
        "occurrenceDateTime": "2024-01-01",
    }


def document(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": f"Patient/{patient}"},
        "content": [{"attachment": {"contentType": "text/plain", "data": "aGVq"}}],
    }


def appointment(*patients: str) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "start": "2025-03-01T10:00:00Z",
        "end": "2025-03-01T10:30:00Z",
        "participant": [
            {"actor": {"reference": f"Patient/{p}"}, "status": "accepted"} for p in patients
        ],
    }


async def _make(server: Server, resource: dict[str, Any], token: str = ADMIN) -> str:
    resp = await server.send("POST", resource["resourceType"], token, resource)
    assert resp.status_code == 201, resp.text
    return f"{resource['resourceType']}/{resp.json()['id']}"


@pytest.mark.parametrize("make", [allergy, immunization, document, appointment])
async def test_a_citizen_reads_its_own_and_not_anothers(server: Server, make: Any) -> None:
    own, other = await _make(server, make("p1")), await _make(server, make("p2"))
    assert (await server.get(own, CITIZEN)).status_code == 200
    resp = await server.get(other, CITIZEN)
    assert resp.status_code == 404  # as if it did not exist
    assert issue(resp)["code"] == "not-found"
    assert (await server.get(f"{other}/_history", CITIZEN)).status_code == 404
    type_ = own.split("/")[0]
    found = await server.get(type_, CITIZEN)
    assert found.status_code == 200
    assert ids(found.json()) == [own]
    assert ids((await server.get(type_, ADMIN)).json()) != [own]  # both are there


async def test_a_citizen_writes_only_its_own(server: Server) -> None:
    await _make(server, allergy("p1"), WRITER)
    resp = await server.send("POST", "AllergyIntolerance", WRITER, allergy("p2"))
    assert resp.status_code == 403
    assert issue(resp)["expression"] == ["AllergyIntolerance.patient"]
    await _make(server, appointment("p1"), WRITER)
    resp = await server.send("POST", "Appointment", WRITER, appointment("p1", "p2"))
    assert resp.status_code == 403  # it would land in p2's chart too


async def test_shared_types_are_read_outright(server: Server) -> None:
    questionnaire = await _make(
        server, {"resourceType": "Questionnaire", "status": "active", "name": "Q"}
    )
    location = await _make(server, {"resourceType": "Location", "name": "Ward 3"})
    for url in (questionnaire, location):
        assert (await server.get(url, CITIZEN)).status_code == 200, url
    resp = await server.send("POST", "Questionnaire", WRITER, {"resourceType": "Questionnaire"})
    assert resp.status_code == 403  # a definition: written by administrators only


async def test_no_binary_or_bundle_for_a_patient_scope(server: Server) -> None:
    binary = await _make(
        server, {"resourceType": "Binary", "contentType": "text/plain", "data": "aGVq"}
    )
    bundle = await _make(server, {"resourceType": "Bundle", "type": "collection"})
    for url in (binary, bundle):
        resp = await server.get(url, CITIZEN)
        assert resp.status_code in (403, 404), url
        assert resp.status_code == 404 or "person's data" in issue(resp)["diagnostics"]
        search = await server.get(url.split("/")[0], CITIZEN)
        assert search.status_code == 403
        assert "outside the Patient compartment" in issue(search)["diagnostics"]
    clinician = mint("user/*.rs", fhirUser="Practitioner/doc")
    assert (await server.get(binary, clinician)).status_code == 200


def test_every_type_in_the_compartment_has_an_owner() -> None:
    """Consent guards what is about a patient: no type in the Patient compartment may count as
    about nobody (an Appointment's patient is its Patient actor) — but a Group or a Schedule,
    which name patients among others and are about none of them."""
    for type_ in sorted(SERVED_TYPES):
        param = compartment.owner_param(type_)
        if not compartment.has_compartment(type_) or type_ in ("Group", "Schedule"):
            assert param is None, type_
            continue
        assert param is not None, type_
        if type_ != "Patient":
            assert builtin_params(type_)[param].type == "reference", type_
    assert compartment.owner_param("Appointment") == "patient"
    assert compartment.owner_param("Coverage") == "patient"
    seen = appointment("p1", "p2")
    assert compartment.owners("Appointment", seen) == {"p1", "p2"}
    assert not SHARED_TYPES & {t for t in SERVED_TYPES if compartment.has_compartment(t)}
