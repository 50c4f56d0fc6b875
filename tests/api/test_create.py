"""create and conditional create (http.html#create, #ccreate)."""

from __future__ import annotations

import uuid
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx

from tests.api.support import (
    BASE,
    CPR,
    FHIR_JSON,
    assert_outcome,
    create,
    expressions,
    minimal,
    patient,
    put_ok,
)


async def test_create_is_201_with_location_etag_and_last_modified(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.post("Patient", json=patient("Hansen", "0101010101"))
    assert resp.status_code == 201
    assert resp.headers["content-type"] == FHIR_JSON
    body = resp.json()
    rid = body["id"]
    uuid.UUID(rid)  # a server-assigned UUID
    assert resp.headers["location"] == f"{BASE}/Patient/{rid}/_history/1"
    assert resp.headers["content-location"] == f"{BASE}/Patient/{rid}/_history/1"
    assert resp.headers["etag"] == 'W/"1"'
    last_modified = resp.headers["last-modified"]
    assert last_modified.endswith(" GMT")
    stamped = datetime.fromisoformat(body["meta"]["lastUpdated"])
    assert parsedate_to_datetime(last_modified) == stamped.replace(microsecond=0)
    assert body["meta"]["versionId"] == "1"
    assert body["name"] == [{"family": "Hansen"}]
    assert body["identifier"] == [{"system": CPR, "value": "0101010101"}]
    assert (await client.get(f"Patient/{rid}")).json() == body


async def test_create_ignores_the_id_and_meta_in_the_body(client: httpx.AsyncClient) -> None:
    sent = patient(
        id="client-chosen", meta={"versionId": "7", "lastUpdated": "2001-01-01T00:00:00Z"}
    )
    body = await create(client, sent)
    assert body["id"] != "client-chosen"
    assert body["meta"]["versionId"] == "1"
    assert not body["meta"]["lastUpdated"].startswith("2001")
    assert_outcome(
        await client.get("Patient/client-chosen"), 404, "not-found", ["Patient/client-chosen"]
    )
    # two creates of the same body are two resources
    again = await create(client, sent)
    assert again["id"] != body["id"]


async def test_create_keeps_profile_tags_of_the_client(client: httpx.AsyncClient) -> None:
    meta = {"profile": ["http://hl7.org/fhir/StructureDefinition/Patient"], "tag": [{"code": "t"}]}
    body = await create(client, patient(meta=meta))
    assert body["meta"]["profile"] == meta["profile"]
    assert body["meta"]["tag"] == meta["tag"]


async def test_conditional_create_none_one_many(client: httpx.AsyncClient) -> None:
    criteria = f"identifier={CPR}|0101010101"
    first = await client.post(
        "Patient", json=patient("A", "0101010101"), headers={"If-None-Exist": criteria}
    )
    assert first.status_code == 201
    rid = first.json()["id"]

    second = await client.post(
        "Patient", json=patient("B", "0101010101"), headers={"If-None-Exist": criteria}
    )
    assert second.status_code == 200
    assert second.json() == first.json()  # the existing resource, untouched
    assert second.headers["etag"] == 'W/"1"'
    history = (await client.get(f"Patient/{rid}/_history")).json()
    assert len(history["entry"]) == 1
    # a search with a full URL form works as well
    third = await client.post(
        "Patient", json=patient("C"), headers={"If-None-Exist": f"Patient?{criteria}"}
    )
    assert third.status_code == 200
    assert third.json()["id"] == rid

    await put_ok(client, {**patient("Twin", "0101010101"), "id": "twin"})
    assert_outcome(
        await client.post("Patient", json=patient("D"), headers={"If-None-Exist": criteria}),
        412,
        "multiple-matches",
        [f"Patient?{criteria}"],
    )
    search = (await client.get("Patient", params={"identifier": f"{CPR}|0101010101"})).json()
    assert sorted(e["resource"]["id"] for e in search["entry"]) == sorted([rid, "twin"])


async def test_conditional_create_by_id(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    resp = await client.post(
        "Patient", json=patient(), headers={"If-None-Exist": f"_id={made['id']}"}
    )
    assert resp.status_code == 200
    assert resp.json()["id"] == made["id"]


async def test_conditional_create_with_unknown_parameter_is_400(client: httpx.AsyncClient) -> None:
    assert_outcome(
        await client.post("Patient", json=patient(), headers={"If-None-Exist": "shoe-size=44"}),
        400,
        "invalid",
        ["shoe-size"],
    )
    assert_outcome(
        await client.post("Patient", json=patient(), headers={"If-None-Exist": "_count=1"}),
        400,
        "invalid",
        ["_count"],
    )
    assert_outcome(
        await client.post("Patient", json=patient(), headers={"If-None-Exist": "identifier="}),
        400,
        "invalid",
        ["identifier"],
    )
    assert (await client.get("Patient")).json().get("entry") == []


async def test_conditional_create_criteria_that_do_not_filter_are_400(
    client: httpx.AsyncClient,
) -> None:
    """`_count` alone would match every Patient and answer 200 with an arbitrary one."""
    await create(client, patient())
    for criteria in ("_count=1", "_cursor=0&_count=2", "_format=json"):
        resp = await client.post("Patient", json=patient(), headers={"If-None-Exist": criteria})
        assert_outcome(resp, 400, "invalid")
    assert len((await client.get("Patient")).json()["entry"]) == 1


async def test_create_body_errors(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.post("Patient", content=b""), 400, "invalid")
    assert_outcome(
        await client.post("Patient", json={"resourceType": "Practitioner"}),
        400,
        "invalid",
        ["Patient.resourceType"],
    )
    assert_outcome(await client.post("Patient", json=[patient()]), 400, "invalid")
    assert_outcome(
        await client.post("Patient", json=patient(birthDate="1st of May")),
        400,
        "value",
        ["Patient.birthDate"],
    )
    assert (await client.get("Patient")).json().get("entry") == []


async def test_element_of_the_wrong_json_type_inside_an_invariant_is_a_400(
    client: httpx.AsyncClient,
) -> None:
    """Found by the fuzzer (tests/fuzz): StructureDefinition.type given as an object reached a
    string function of an invariant (``startsWith``) and answered 500."""
    resource = minimal("StructureDefinition", type={"reference": "Patient/x"})
    resp = await client.post("StructureDefinition", json=resource)
    body = assert_outcome(resp, 400, "structure")
    assert "StructureDefinition.type" in expressions(body)
