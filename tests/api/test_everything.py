"""``Patient/[id]/$everything`` and ``Encounter/[id]/$everything`` over HTTP on both stores: the
compartment plus what it refers to (exact ids), ``_type``, ``_since``, ``start``/``end``, paging
across pages without repeats, POST with Parameters, 404 for an absent or deleted instance, a
clear 400 per bad parameter, and the CapabilityStatement's declaration. Access (consent, tokens,
audit): tests/consent/test_everything.py."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.support import BASE, assert_outcome


def _ref(target: str) -> dict[str, str]:
    return {"reference": target}


RECORD: list[dict[str, Any]] = [
    {"resourceType": "Organization", "id": "org1", "name": "Hospital"},
    {"resourceType": "Organization", "id": "org2", "name": "Unrelated"},
    {"resourceType": "Practitioner", "id": "doc1"},
    {"resourceType": "Practitioner", "id": "doc2"},
    {"resourceType": "Medication", "id": "med1"},
    {
        "resourceType": "Patient",
        "id": "p1",
        "generalPractitioner": [_ref("Practitioner/doc1")],
        "managingOrganization": _ref("Organization/org1"),
    },
    {"resourceType": "Patient", "id": "p2"},
    {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"code": "IMP"},
        "subject": _ref("Patient/p1"),
        "serviceProvider": _ref("Organization/org1"),
        "participant": [{"individual": _ref("Practitioner/doc1")}],
        "period": {"start": "2020-05-01", "end": "2020-05-03"},
    },
    {
        "resourceType": "Encounter",
        "id": "e2",
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": _ref("Patient/p1"),
        "period": {"start": "2023-05-01", "end": "2023-05-01"},
    },
    {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"text": "pulse"},
        "subject": _ref("Patient/p1"),
        "encounter": _ref("Encounter/e1"),
        "performer": [_ref("Practitioner/doc1")],
        "effectiveDateTime": "2020-05-02",
    },
    {
        "resourceType": "Observation",
        "id": "o2",
        "status": "final",
        "code": {"text": "pulse"},
        "subject": _ref("Patient/p1"),
        "encounter": _ref("Encounter/e2"),
        "effectiveDateTime": "2023-05-01",
    },
    {
        "resourceType": "Observation",
        "id": "o3",
        "status": "final",
        "code": {"text": "pulse"},
        "subject": _ref("Patient/p2"),
        "performer": [_ref("Practitioner/doc2")],
    },
    {
        "resourceType": "MedicationStatement",
        "id": "ms1",
        "status": "active",
        "medicationReference": _ref("Medication/med1"),
        "subject": _ref("Patient/p1"),
        "context": _ref("Encounter/e1"),
    },
    {
        "resourceType": "CarePlan",
        "id": "cp1",
        "status": "active",
        "intent": "plan",
        "subject": _ref("Patient/p1"),
        "encounter": _ref("Encounter/e1"),
        "period": {"start": "2020-05-02"},
    },
    {"resourceType": "Condition", "id": "c1", "subject": _ref("Patient/p1")},
]

P1 = [  # in (type, id) order, as the pages come
    "CarePlan/cp1",
    "Condition/c1",
    "Encounter/e1",
    "Encounter/e2",
    "Medication/med1",
    "MedicationStatement/ms1",
    "Observation/o1",
    "Observation/o2",
    "Organization/org1",
    "Patient/p1",
    "Practitioner/doc1",
]
E1 = [
    "CarePlan/cp1",
    "Encounter/e1",
    "Observation/o1",
    "Organization/org1",
    "Patient/p1",
    "Practitioner/doc1",
]


async def _seed(client: httpx.AsyncClient) -> None:
    entries = [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
        for r in RECORD
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    resp = await client.post("", json=bundle)
    assert resp.status_code == 200, resp.text


def _ids(body: dict[str, Any]) -> list[str]:
    return [
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in body.get("entry", [])
        if e["resource"]["resourceType"] != "OperationOutcome"
    ]


async def _get(client: httpx.AsyncClient, url: str, **params: Any) -> dict[str, Any]:
    resp = await client.get(url, params=params) if params else await client.get(url)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "searchset"
    return body


async def _pages(client: httpx.AsyncClient, url: str, **params: Any) -> list[list[str]]:
    out: list[list[str]] = []
    body = await _get(client, url, **params)
    while True:
        out.append(_ids(body))
        links = {link["relation"]: link["url"] for link in body["link"]}
        if "next" not in links:
            return out
        assert links["next"].startswith(f"{BASE}/{url}?"), links
        body = await _get(client, links["next"].removeprefix(BASE + "/"))
        assert len(out) < 20


async def test_patient_everything_is_the_compartment_and_what_it_refers_to(
    client: httpx.AsyncClient,
) -> None:
    await _seed(client)
    body = await _get(client, "Patient/p1/$everything")
    assert _ids(body) == P1  # not p2's Observation, nor doc2 or org2 that only others name
    assert body["total"] == len(P1)
    assert {e["search"]["mode"] for e in body["entry"]} == {"match"}
    assert body["entry"][0]["fullUrl"] == f"{BASE}/CarePlan/cp1"
    self_link = next(ln["url"] for ln in body["link"] if ln["relation"] == "self")
    assert self_link == f"{BASE}/Patient/p1/$everything"
    other = await _get(client, "Patient/p2/$everything")
    assert _ids(other) == ["Observation/o3", "Patient/p2", "Practitioner/doc2"]


async def test_encounter_everything(client: httpx.AsyncClient) -> None:
    await _seed(client)
    assert _ids(await _get(client, "Encounter/e1/$everything")) == E1
    assert _ids(await _get(client, "Encounter/e2/$everything")) == [
        "Encounter/e2",
        "Observation/o2",
        "Patient/p1",
    ]


async def test_paging_across_types_repeats_and_skips_nothing(client: httpx.AsyncClient) -> None:
    await _seed(client)
    pages = await _pages(client, "Patient/p1/$everything", _count=3)
    assert pages == [P1[0:3], P1[3:6], P1[6:9], P1[9:11]]
    pages = await _pages(client, "Patient/p1/$everything", _count=4, _type="Observation,Encounter")
    assert pages == [["Encounter/e1", "Encounter/e2", "Observation/o1", "Observation/o2"]]
    pages = await _pages(client, "Encounter/e1/$everything", _count=5)
    assert pages == [E1[:5], E1[5:]]
    first = await _get(client, "Patient/p1/$everything", _count=3)
    links = {link["relation"]: link["url"] for link in first["link"]}
    second = await _get(client, links["next"].removeprefix(BASE + "/"))
    links = {link["relation"]: link["url"] for link in second["link"]}
    back = await _get(client, links["previous"].removeprefix(BASE + "/"))
    assert _ids(back) == P1[0:3]
    last = await _get(client, links["last"].removeprefix(BASE + "/"))
    assert _ids(last) == P1[8:11]


async def test_next_link_keeps_the_parameters_and_is_bound_to_the_instance(
    client: httpx.AsyncClient,
) -> None:
    await _seed(client)
    body = await _get(client, "Patient/p1/$everything", _count=2, _type="Observation,Patient")
    assert _ids(body) == ["Observation/o1", "Observation/o2"] and "total" not in body
    links = {link["relation"]: link["url"] for link in body["link"]}
    assert "_type=Observation%2CPatient" in links["next"] and "_count=2" in links["next"]
    second = await _get(client, links["next"].removeprefix(BASE + "/"))
    assert _ids(second) == ["Patient/p1"]
    elsewhere = links["next"].removeprefix(BASE + "/").replace("Patient/p1/", "Patient/p2/")
    assert_outcome(await client.get(elsewhere), 400, "invalid", ["_cursor"])


async def test_type_filter(client: httpx.AsyncClient) -> None:
    await _seed(client)
    found = _ids(await _get(client, "Patient/p1/$everything", _type="Observation,Practitioner"))
    assert found == ["Observation/o1", "Observation/o2", "Practitioner/doc1"]
    repeated = await client.get(
        "Patient/p1/$everything", params=[("_type", "Medication"), ("_type", "Condition")]
    )
    assert _ids(repeated.json()) == ["Condition/c1", "Medication/med1"]
    # a served type that is never part of a record: nothing, not an error
    assert _ids(await _get(client, "Patient/p1/$everything", _type="ValueSet")) == []


async def test_the_audit_trail_only_when_asked_for(client: httpx.AsyncClient) -> None:
    await _seed(client)
    trail = {  # who read p1's record: not the record, and its reader is no part of it
        "resourceType": "AuditEvent",
        "id": "a1",
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
        "recorded": "2024-01-01T00:00:00Z",
        "agent": [{"requestor": True, "who": _ref("Practitioner/doc2")}],
        "source": {"observer": _ref("Organization/org2")},
        "entity": [{"what": _ref("Patient/p1")}],
    }
    assert (await client.put("AuditEvent/a1", json=trail)).status_code == 201
    assert _ids(await _get(client, "Patient/p1/$everything")) == P1
    found = _ids(await _get(client, "Patient/p1/$everything", _type="AuditEvent,Practitioner"))
    assert found == ["AuditEvent/a1", "Practitioner/doc1"]


async def test_since(client: httpx.AsyncClient) -> None:
    await _seed(client)
    changed = dict(RECORD[10], status="amended")  # Observation/o2
    resp = await client.put("Observation/o2", json=changed)
    assert resp.status_code == 200, resp.text
    since = resp.json()["meta"]["lastUpdated"]
    found = _ids(await _get(client, "Patient/p1/$everything", _since=since))
    assert found == ["Observation/o2"]
    # a practitioner the record names, changed since, is news too
    resp = await client.put("Practitioner/doc1", json={**RECORD[2], "active": True})
    assert resp.status_code == 200, resp.text
    found = _ids(await _get(client, "Patient/p1/$everything", _since=since))
    assert found == ["Observation/o2", "Practitioner/doc1"]
    found = _ids(await _get(client, "Encounter/e1/$everything", _since=since))
    assert found == ["Practitioner/doc1"]


async def test_start_and_end_are_care_dates(client: httpx.AsyncClient) -> None:
    await _seed(client)
    found = _ids(await _get(client, "Patient/p1/$everything", start="2022-01-01"))
    assert found == [  # the 2020 stay and its Observation are out; undated types stay in,
        "CarePlan/cp1",  # and the plan begun in 2020 has not ended
        "Condition/c1",
        "Encounter/e2",
        "Medication/med1",
        "MedicationStatement/ms1",
        "Observation/o2",
        "Organization/org1",
        "Patient/p1",
        "Practitioner/doc1",
    ]
    found = _ids(await _get(client, "Patient/p1/$everything", end="2021", _type="Observation"))
    assert found == ["Observation/o1"]


async def test_post_with_parameters(client: httpx.AsyncClient) -> None:
    await _seed(client)
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "_type", "valueCode": "Observation,Encounter"},
            {"name": "_count", "valueInteger": 3},
        ],
    }
    resp = await client.post("Patient/p1/$everything", json=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert _ids(body) == ["Encounter/e1", "Encounter/e2", "Observation/o1"]
    links = {link["relation"]: link["url"] for link in body["link"]}
    second = await _get(client, links["next"].removeprefix(BASE + "/"))
    assert _ids(second) == ["Observation/o2"]


async def test_count_zero_counts(client: httpx.AsyncClient) -> None:
    await _seed(client)
    body = await _get(client, "Patient/p1/$everything", _count=0)
    assert body["total"] == len(P1) and _ids(body) == []


async def test_absent_and_deleted_instances_are_unknown(client: httpx.AsyncClient) -> None:
    await _seed(client)
    absent = assert_outcome(await client.get("Patient/nope/$everything"), 404, "not-found")
    assert absent["issue"][0]["expression"] == ["Patient/nope"]
    assert (await client.delete("Observation/o3")).status_code in (200, 204)
    assert (await client.delete("Patient/p2")).status_code in (200, 204)
    gone = assert_outcome(await client.get("Patient/p2/$everything"), 404, "not-found")
    assert gone["issue"][0]["diagnostics"] == "Patient/p2 is not known"
    assert_outcome(await client.get("Encounter/nope/$everything"), 404, "not-found")


async def test_bad_parameters_are_named(client: httpx.AsyncClient) -> None:
    await _seed(client)
    for params, name in (
        ({"_count": "x"}, "_count"),
        ({"_since": "yesterday"}, "_since"),
        ({"start": "2020-13"}, "start"),
        ({"_type": "Nope"}, "_type"),
        ({"foo": "bar"}, "foo"),
        ({"_sort": "_id"}, "_sort"),
    ):
        resp = await client.get("Patient/p1/$everything", params=params)
        assert_outcome(resp, 400, "invalid", [name])
    twice = await client.get("Patient/p1/$everything", params=[("_count", "1"), ("_count", "2")])
    assert_outcome(twice, 400, "invalid", ["_count"])
    # an Encounter's record has no care-date range (R4 Encounter-everything)
    resp = await client.get("Encounter/e1/$everything", params={"start": "2020"})
    assert_outcome(resp, 400, "invalid", ["start"])
    resp = await client.post("Patient/p1/$everything", json={"resourceType": "Patient"})
    assert_outcome(resp, 400, "invalid")
    # other types have no $everything
    resp = await client.get("Observation/o1/$everything")
    assert_outcome(resp, 400, "not-supported")


async def test_capability_statement_declares_both(client: httpx.AsyncClient) -> None:
    statement = (await client.get("metadata")).json()
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    hl7 = "http://hl7.org/fhir/OperationDefinition"
    for type_ in ("Patient", "Encounter"):
        ops = [o for o in resources[type_]["operation"] if o["name"] == "everything"]
        assert ops == [{"name": "everything", "definition": f"{hl7}/{type_}-everything"}]
    assert all(o["name"] != "everything" for o in resources["Observation"].get("operation", []))
