"""Item 7: an AuditEvent for every access, in IHE BALP shapes, one per patient touched (FUT),
CPR numbers masked, writes' events committed with the write, and AuditEvents written by the
server only. Real HTTP, real tokens, both stores."""

from __future__ import annotations

from typing import Any

import orjson

from tests.auth.conftest import ADMIN, LAB, Server, issue, mint
from tests.consent.conftest import audit_events, new_events, patients, query_of, user_agent

BALP = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
CPR = "urn:oid:1.2.208.176.1.2"
CPR_NUMBER = "0101701234"

DOCTOR = mint("user/*.rs", fhirUser="Practitioner/doc", sub="doc-login")
CITIZEN = mint("patient/*.cruds", fhirUser="Patient/p1")


def _kinds(events: list[dict[str, Any]]) -> list[tuple[str, str, str, list[str]]]:
    return [
        (e["meta"]["profile"][0].removeprefix(BALP), e["action"], e["outcome"], patients(e))
        for e in events
    ]


async def test_a_read_records_one_patient_read_about_its_patient(server: Server) -> None:
    before = await audit_events(server)
    resp = await server.get("Observation/lab1", DOCTOR)
    assert resp.status_code == 200
    events = await new_events(server, before)
    assert _kinds(events) == [("PatientRead", "R", "0", ["Patient/p1"])]
    event = events[0]
    assert event["subtype"][0]["code"] == "read"
    data = [e["what"]["reference"] for e in event["entity"] if e["role"]["code"] == "4"]
    assert data == ["Observation/lab1"]
    user = user_agent(event)
    assert user["who"]["reference"] == "Practitioner/doc"
    assert user["who"]["identifier"]["value"] == "doc-login"
    assert user["role"][0]["coding"][0]["code"] == "region"
    org = user["extension"][0]["valueReference"]
    assert org["reference"] == "Organization/ward"


async def test_the_plain_read_and_vread_are_audited_alike(server: Server) -> None:
    before = await audit_events(server)
    assert (await server.get("Patient/p2", DOCTOR)).status_code == 200
    assert (await server.get("Patient/p2/_history/1", DOCTOR)).status_code == 200
    events = await new_events(server, before)
    assert _kinds(events) == [("PatientRead", "R", "0", ["Patient/p2"])] * 2
    assert [e["subtype"][0]["code"] for e in events] == ["read", "vread"]


async def test_a_search_across_three_patients_records_three_queries(server: Server) -> None:
    admin = mint(ADMIN)
    p3 = {  # listed with the doctor, like p1 and p2: a care relationship
        "resourceType": "Patient",
        "id": "p3",
        "generalPractitioner": [{"reference": "Practitioner/doc"}],
    }
    lab3 = {
        "resourceType": "Observation",
        "id": "lab3",
        "status": "final",
        "category": [LAB],
        "code": {"text": "pulse"},
        "subject": {"reference": "Patient/p3"},
    }
    for body in (p3, lab3):
        resp = await server.send("PUT", f"{body['resourceType']}/{body['id']}", admin, body)
        assert resp.status_code == 201
    before = await audit_events(server)
    resp = await server.get("Observation?category=laboratory", DOCTOR)
    assert resp.status_code == 200
    assert len(resp.json()["entry"]) == 3
    events = await new_events(server, before)
    assert sorted(_kinds(events)) == [
        ("PatientQuery", "E", "0", [f"Patient/{p}"]) for p in ("p1", "p2", "p3")
    ]
    for event in events:
        assert event["subtype"][0]["code"] == "search-type"
        assert query_of(event) == "Observation?category=laboratory"
        assert not [e for e in event["entity"] if e["role"]["code"] == "4"]  # no results


async def test_includes_count_as_touched(server: Server) -> None:
    before = await audit_events(server)
    resp = await server.get("CarePlan?_id=cp3&_include=CarePlan:replaces", DOCTOR)
    assert len(resp.json()["entry"]) == 2
    events = await new_events(server, before)
    assert sorted(p for e in events for p in patients(e)) == ["Patient/p1", "Patient/p2"]


async def test_a_search_touching_no_patient_is_one_query_without_one(server: Server) -> None:
    before = await audit_events(server)
    assert (await server.get("Medication", DOCTOR)).status_code == 200
    events = await new_events(server, before)
    assert _kinds(events) == [("Query", "E", "0", [])]


async def test_a_write_commits_its_audit_event_with_it(server: Server) -> None:
    before = await audit_events(server)
    body = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": "Patient/p1"},
    }
    resp = await server.send("POST", "Observation", CITIZEN, body)
    assert resp.status_code == 201
    created = f"Observation/{resp.json()['id']}"
    events = await new_events(server, before)
    assert _kinds(events) == [("PatientCreate", "C", "0", ["Patient/p1"])]
    data = [e["what"]["reference"] for e in events[0]["entity"] if e["role"]["code"] == "4"]
    assert data == [created]

    before = await audit_events(server)
    patch = [{"op": "replace", "path": "/status", "value": "amended"}]
    resp = await server.client.patch(
        created,
        content=orjson.dumps(patch),
        headers={
            "Authorization": f"Bearer {CITIZEN}",
            "Content-Type": "application/json-patch+json",
        },
    )
    assert resp.status_code == 200
    assert (await server.send("DELETE", created, CITIZEN)).status_code == 204
    events = await new_events(server, before)
    assert _kinds(events) == [
        ("PatientUpdate", "U", "0", ["Patient/p1"]),
        ("PatientDelete", "D", "0", ["Patient/p1"]),
    ]
    assert events[0]["subtype"][0]["code"] == "patch"


async def test_a_failed_transaction_leaves_no_audit_event(server: Server) -> None:
    before = await audit_events(server)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "weight"},
                    "subject": {"reference": "Patient/p1"},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
            {
                "resource": {**_carePlan("cp1"), "status": "revoked"},
                "request": {"method": "PUT", "url": "CarePlan/cp1", "ifMatch": 'W/"9"'},
            },
        ],
    }
    resp = await server.send("POST", "", mint(ADMIN), bundle)
    assert resp.status_code == 412
    assert not [e for e in await new_events(server, before) if e["outcome"] == "0"]
    found = await server.get("Observation?subject=Patient/p1&code:text=weight", mint(ADMIN))
    assert not found.json().get("entry")

    bundle["entry"].pop()
    before = await audit_events(server)
    assert (await server.send("POST", "", mint(ADMIN), bundle)).status_code == 200
    assert [k[:2] for k in _kinds(await new_events(server, before))] == [("PatientCreate", "C")]


def _carePlan(id_: str) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "id": id_,
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/p1"},
    }


async def test_refused_accesses_are_audited_as_failures(server: Server) -> None:
    before = await audit_events(server)
    other = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": "Patient/p2"},
    }
    assert (await server.send("POST", "Observation", CITIZEN, other)).status_code == 403
    assert (await server.get("Observation/lab2", CITIZEN)).status_code == 404
    narrow = mint("user/Patient.rs", fhirUser="Practitioner/doc")
    assert (await server.get("Observation/lab1", narrow)).status_code == 403
    events = await new_events(server, before)
    assert [(e["action"], e["outcome"], patients(e)) for e in events] == [
        ("C", "4", ["Patient/p2"]),
        ("R", "4", ["Patient/p2"]),
        ("R", "4", []),
    ]


async def test_no_cpr_number_appears_in_any_audit_event(server: Server) -> None:
    admin = mint(ADMIN)
    patient = {
        "resourceType": "Patient",
        "id": "cpr",
        "identifier": [{"system": CPR, "value": CPR_NUMBER}],
        "generalPractitioner": [{"reference": "Practitioner/doc"}],  # the doctor's patient
    }
    assert (await server.send("PUT", "Patient/cpr", admin, patient)).status_code == 201
    for url in (
        f"Patient?identifier={CPR}|{CPR_NUMBER}",
        f"Patient?identifier={CPR_NUMBER}",
        "Patient?identifier=010170-1234",
        f"Observation?subject:Patient.identifier={CPR}|{CPR_NUMBER}",
        "Patient/cpr",
    ):
        assert (await server.get(url, DOCTOR)).status_code == 200, url
    events = await audit_events(server)
    queries = [q for e in events if (q := query_of(e))]
    assert f"Patient?identifier={CPR}|xxxxxxxxxx" in queries
    assert "Patient?identifier=xxxxxxxxxx" in queries
    for text in [orjson.dumps(e).decode() for e in events] + queries:
        assert CPR_NUMBER not in text and "010170-1234" not in text


async def test_clients_may_not_write_audit_events(server: Server) -> None:
    event = (await audit_events(server))[0]
    body = {k: v for k, v in event.items() if k not in ("id", "meta")}
    target = f"AuditEvent/{event['id']}"
    patch = [{"op": "replace", "path": "/outcome", "value": "8"}]
    for token in (mint(ADMIN), CITIZEN, DOCTOR):
        for method, url, payload in (
            ("POST", "AuditEvent", body),
            ("PUT", target, {**body, "id": event["id"]}),
            ("DELETE", target, None),
            ("DELETE", "AuditEvent?outcome=0", None),
        ):
            resp = await server.send(method, url, token, payload)
            assert resp.status_code == 403, (method, url, resp.text)
            assert "AuditEvent" in issue(resp)["diagnostics"]
        resp = await server.client.patch(
            target,
            content=orjson.dumps(patch),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json-patch+json",
            },
        )
        assert resp.status_code == 403
    for kind in ("transaction", "batch"):
        bundle = {
            "resourceType": "Bundle",
            "type": kind,
            "entry": [{"resource": body, "request": {"method": "POST", "url": "AuditEvent"}}],
        }
        resp = await server.send("POST", "", mint(ADMIN), bundle)
        if kind == "transaction":
            assert resp.status_code == 403
        else:
            entry = resp.json()["entry"][0]["response"]
            assert entry["status"].startswith("403")
    current = await server.get(target, mint(ADMIN))
    assert current.json()["outcome"] == event["outcome"]


async def test_every_audit_event_is_a_valid_r4_audit_event(server: Server) -> None:
    """The events of reads, searches, writes and refusals pass the R4 definition (the same
    check a client's AuditEvent would get)."""
    from fhir_server.config import Settings
    from fhir_server.services import create_services

    check_resource = create_services(Settings()).checks.check_resource

    assert (await server.get("Observation/lab1", DOCTOR)).status_code == 200
    assert (await server.get("Observation?category=laboratory", DOCTOR)).status_code == 200
    assert (await server.get("Observation/lab2", CITIZEN)).status_code == 404
    events = await audit_events(server)
    assert {"C", "R", "E"} <= {e["action"] for e in events}
    assert {"0", "4"} <= {e["outcome"] for e in events}
    for event in events:
        check_resource("AuditEvent", {k: v for k, v in event.items() if k != "meta"})


async def test_each_batch_entry_is_audited_on_its_own(server: Server) -> None:
    before = await audit_events(server)
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": "Observation/lab1"}},
            {"request": {"method": "GET", "url": "Observation?subject=Patient/p2"}},
        ],
    }
    resp = await server.send("POST", "", DOCTOR, bundle)
    assert [e["response"]["status"][:3] for e in resp.json()["entry"]] == ["200", "200"]
    events = await new_events(server, before)
    assert _kinds(events) == [
        ("PatientRead", "R", "0", ["Patient/p1"]),
        ("PatientQuery", "E", "0", ["Patient/p2"]),
    ]
    assert query_of(events[1]) == "Observation?subject=Patient/p2"


async def test_audit_follows_the_setting(make_client: Any) -> None:
    """``FHIR_AUTH=off`` audits nothing and lets clients write AuditEvents unless
    ``FHIR_AUDIT=true``, which records (as the anonymous user) and refuses them."""
    body = {
        "resourceType": "AuditEvent",
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
        "recorded": "2024-01-01T00:00:00Z",
        "agent": [{"requestor": True}],
        "source": {"observer": {"reference": "Device/d"}},
    }
    patient = {"resourceType": "Patient", "id": "a"}
    plain = await make_client()
    assert (await plain.put("Patient/a", json=patient)).status_code == 201
    assert (await plain.get("Patient/a")).status_code == 200
    assert (await plain.post("AuditEvent", json=body)).status_code == 201
    assert (await plain.get("AuditEvent?_total=accurate")).json()["total"] == 1

    audited = await make_client(audit=True)
    assert (await audited.put("Patient/a", json=patient)).status_code == 201
    assert (await audited.get("Patient/a")).status_code == 200
    resp = await audited.post("AuditEvent", json=body)
    assert resp.status_code == 403 and "AuditEvent" in resp.json()["issue"][0]["diagnostics"]
    found = (await audited.get("AuditEvent?patient=a&_count=100")).json()
    assert sorted(e["resource"]["action"] for e in found["entry"]) == ["C", "R"]
