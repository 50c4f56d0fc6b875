"""Every R4 resource type is served (issue 15 item 7): each is created, read and found by id over
real HTTP on every store; the CapabilityStatement lists all 145 with their search parameters; a
new type's own search parameters find exactly what they should; Binary is read and written as
its content too."""

from __future__ import annotations

import base64

import httpx

from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search.registry import builtin_params
from tests.api.support import assert_outcome, create, minimal, store_referenced

FHIR_JSON = "application/fhir+json"


def test_one_hundred_and_forty_five_types() -> None:
    assert len(SERVED_TYPES) == 145
    assert {"Appointment", "DocumentReference", "Binary", "Questionnaire", "Bundle"} <= SERVED_TYPES
    assert "Parameters" not in SERVED_TYPES  # an operation's input and output, no endpoint
    assert "SubscriptionStatus" not in SERVED_TYPES  # R4B


async def test_every_type_is_created_read_and_searched(client: httpx.AsyncClient) -> None:
    await store_referenced(client)  # what the minimal resources reference
    failures: list[str] = []
    for type_ in sorted(SERVED_TYPES):
        extra = {"name": "Ward"} if type_ == "Organization" else {}  # org-1: a name or identifier
        made = await client.post(type_, json=minimal(type_, **extra))
        if made.status_code != 201:
            failures.append(f"{type_}: create {made.status_code} {made.text[:300]}")
            continue
        body = made.json()
        read = await client.get(f"{type_}/{body['id']}", headers={"Accept": FHIR_JSON})
        if read.status_code != 200 or read.json() != body:
            failures.append(f"{type_}: read {read.status_code}")
        found = await client.get(type_, params={"_id": body["id"]})
        ids = [e["resource"]["id"] for e in found.json().get("entry", [])]
        if found.status_code != 200 or ids != [body["id"]]:
            failures.append(f"{type_}: search {found.status_code} {ids}")
    assert failures == []


async def test_a_new_type_is_validated(client: httpx.AsyncClient) -> None:
    """R4's rules hold for the new types: a missing required element, a code outside a
    required binding."""
    resp = await client.post("Appointment", json={"resourceType": "Appointment", "status": "x"})
    outcome = assert_outcome(resp, 400, "code-invalid")
    expressions = [e for i in outcome["issue"] for e in i.get("expression", [])]
    assert "Appointment.status" in expressions
    assert "Appointment.participant" in expressions
    resp = await client.post("Flag", json={"resourceType": "Flag", "status": "active"})
    outcome = assert_outcome(resp, 400, "required")
    assert {e for i in outcome["issue"] for e in i.get("expression", [])} >= {
        "Flag.code",
        "Flag.subject",
    }


async def test_capability_statement_lists_every_type_with_its_parameters(
    client: httpx.AsyncClient,
) -> None:
    cs = (await client.get("metadata")).json()
    resources = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert sorted(resources) == sorted(SERVED_TYPES)
    assert len(resources) == 145
    appointment = {p["name"] for p in resources["Appointment"]["searchParam"]}
    assert {"date", "patient", "status", "actor", "practitioner", "_id"} <= appointment
    assert appointment == set(builtin_params("Appointment"))
    binary = {p["name"] for p in resources["Binary"]["searchParam"]}
    assert "_text" not in binary and "_id" in binary  # a Resource, not a DomainResource


async def _patient(client: httpx.AsyncClient, family: str) -> str:
    made = await create(client, {"resourceType": "Patient", "name": [{"family": family}]})
    return str(made["id"])


async def test_search_by_new_types_parameters(client: httpx.AsyncClient) -> None:
    p1, p2 = await _patient(client, "A"), await _patient(client, "B")
    doctor = await create(client, {"resourceType": "Practitioner", "name": [{"family": "D"}]})

    def appointment(patient: str, status: str, start: str) -> dict[str, object]:
        return {
            "resourceType": "Appointment",
            "status": status,
            "start": start,
            "end": start.replace("T10", "T11"),
            "participant": [
                {"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"},
                {"actor": {"reference": f"Practitioner/{doctor['id']}"}, "status": "accepted"},
            ],
        }

    a1 = await create(client, appointment(p1, "booked", "2025-03-01T10:00:00Z"))
    a2 = await create(client, appointment(p2, "booked", "2025-04-01T10:00:00Z"))
    a3 = await create(client, appointment(p1, "cancelled", "2025-05-01T10:00:00Z"))

    async def ids(type_: str, **params: str) -> list[str]:
        resp = await client.get(type_, params=params)
        assert resp.status_code == 200, resp.text
        return sorted(e["resource"]["id"] for e in resp.json().get("entry", []))

    assert await ids("Appointment", patient=f"Patient/{p1}") == sorted([a1["id"], a3["id"]])
    assert await ids("Appointment", patient=p1, status="booked") == [a1["id"]]
    assert await ids("Appointment", date="ge2025-03-15") == sorted([a2["id"], a3["id"]])
    assert await ids("Appointment", practitioner=doctor["id"]) == sorted(
        [a1["id"], a2["id"], a3["id"]]
    )
    assert await ids(f"Patient/{p1}/Appointment") == sorted([a1["id"], a3["id"]])

    allergy = await create(
        client,
        {
            "resourceType": "AllergyIntolerance",
            "patient": {"reference": f"Patient/{p2}"},
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/"
                        "allergyintolerance-clinical",
                        "code": "active",
                    }
                ]
            },
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91936005"}]},
        },
    )
    assert await ids("AllergyIntolerance", patient=p2, code="91936005") == [allergy["id"]]
    assert await ids("AllergyIntolerance", patient=p1) == []
    assert await ids("AllergyIntolerance", **{"clinical-status": "active"}) == [allergy["id"]]

    questionnaire = await create(
        client,
        {
            "resourceType": "Questionnaire",
            "status": "active",
            "url": "http://example.org/Questionnaire/wellbeing",
            "name": "Wellbeing",
        },
    )
    assert await ids("Questionnaire", url="http://example.org/Questionnaire/wellbeing") == [
        questionnaire["id"]
    ]
    assert await ids("Questionnaire", name="wellbe") == [questionnaire["id"]]


async def test_binary_is_read_and_written_as_its_content(client: httpx.AsyncClient) -> None:
    pdf = b"%PDF-1.4 a letter"
    made = await client.post("Binary", content=pdf, headers={"Content-Type": "application/pdf"})
    assert made.status_code == 201, made.text
    binary = made.json()
    assert binary["contentType"] == "application/pdf"
    assert base64.b64decode(binary["data"]) == pdf
    url = f"Binary/{binary['id']}"

    raw = await client.get(url, headers={"Accept": "application/pdf"})
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "application/pdf"
    assert raw.content == pdf
    assert raw.headers["etag"] == 'W/"1"'
    assert "sandbox" in raw.headers["content-security-policy"]
    other = await client.get(url, headers={"Accept": "image/png"})  # the content is what it is
    assert other.headers["content-type"] == "application/pdf"
    assert (
        await client.get(f"{url}/_history/1", headers={"Accept": "application/pdf"})
    ).content == (pdf)

    for accept in (FHIR_JSON, "*/*", None):
        resp = await client.get(url, headers={"Accept": accept} if accept else {})
        assert resp.status_code == 200
        assert resp.json()["resourceType"] == "Binary", accept
    assert (await client.get(url, params={"_format": "json"})).json()["id"] == binary["id"]

    updated = await client.put(url, content=b"plain", headers={"Content-Type": "text/plain"})
    assert updated.status_code == 200, updated.text
    raw = await client.get(url, headers={"Accept": "text/plain"})
    assert (raw.content, raw.headers["content-type"]) == (b"plain", "text/plain")

    missing = await client.get("Binary/nope", headers={"Accept": "application/pdf"})
    assert_outcome(missing, 404, "not-found")
    assert missing.headers["content-type"].startswith(FHIR_JSON)


async def test_a_stored_document_bundle_is_a_resource_and_post_base_still_a_transaction(
    client: httpx.AsyncClient,
) -> None:
    collection = await create(client, minimal("Bundle"))
    assert collection["type"] == "collection"
    assert (await client.get(f"Bundle/{collection['id']}")).json() == collection
    resp = await client.get("Bundle", params={"type": "collection"})
    assert [e["resource"]["id"] for e in resp.json()["entry"]] == [collection["id"]]
    transaction = await client.post(
        "", json={"resourceType": "Bundle", "type": "transaction", "entry": []}
    )
    assert transaction.status_code == 200
    assert transaction.json()["type"] == "transaction-response"
