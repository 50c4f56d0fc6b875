"""update, update-as-create, version-aware update and conditional update (http.html#update,
#upsert, #concurrency, #cond-update)."""

from __future__ import annotations

import httpx

from tests.api.support import (
    BASE,
    CPR,
    assert_outcome,
    create,
    patient,
    put,
    put_ok,
    version_of,
)


async def test_update_makes_a_new_version(client: httpx.AsyncClient) -> None:
    made = await create(client, patient("Before"))
    resp = await put(client, {**made, "name": [{"family": "After"}], "meta": {"versionId": "99"}})
    assert resp.status_code == 200
    assert resp.headers["etag"] == 'W/"2"'
    assert "location" not in resp.headers
    assert resp.headers["content-location"] == f"{BASE}/Patient/{made['id']}/_history/2"
    body = resp.json()
    assert body["meta"]["versionId"] == "2"  # the client's versionId is ignored
    assert body["meta"]["lastUpdated"] > made["meta"]["lastUpdated"]
    assert body["name"] == [{"family": "After"}]
    assert (await client.get(f"Patient/{made['id']}")).json() == body


async def test_update_as_create_uses_the_client_id(client: httpx.AsyncClient) -> None:
    resp = await put(client, {**patient("New"), "id": "client-1"})
    assert resp.status_code == 201
    assert resp.headers["location"] == f"{BASE}/Patient/client-1/_history/1"
    assert resp.headers["etag"] == 'W/"1"'
    assert resp.json()["id"] == "client-1"
    assert (await client.get("Patient/client-1")).json()["name"] == [{"family": "New"}]


async def test_update_of_a_deleted_resource_brings_it_back_with_201(
    client: httpx.AsyncClient,
) -> None:
    await put_ok(client, {**patient(), "id": "lazarus"})
    assert (await client.delete("Patient/lazarus")).status_code == 204
    resp = await put(client, {**patient("Back"), "id": "lazarus"})
    assert resp.status_code == 201
    assert resp.headers["etag"] == 'W/"3"'
    assert resp.headers["location"] == f"{BASE}/Patient/lazarus/_history/3"


async def test_update_id_must_match_the_url(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    assert_outcome(
        await client.put(f"Patient/{made['id']}", json={**made, "id": "other"}),
        400,
        "invalid",
        ["Patient.id"],
    )
    missing = {k: v for k, v in made.items() if k != "id"}
    assert_outcome(
        await client.put(f"Patient/{made['id']}", json=missing), 400, "invalid", ["Patient.id"]
    )
    assert_outcome(
        await client.put("Patient/bad_id", json={**made, "id": "bad_id"}), 400, "invalid", ["id"]
    )
    assert_outcome(await client.put(f"Patient/{made['id']}", content=b""), 400, "invalid")
    assert version_of(await client.get(f"Patient/{made['id']}")) == 1


async def test_update_validates_the_resource(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    outcome = assert_outcome(
        await put(client, {**made, "gender": 1, "name": [{"given": ["a", 2]}]}), 400, "structure"
    )
    assert sorted(e for i in outcome["issue"] for e in i["expression"]) == [
        "Patient.gender",
        "Patient.name[0].given[1]",
    ]
    assert {i["code"] for i in outcome["issue"]} == {"structure"}
    assert_outcome(
        await client.put(f"Patient/{made['id']}", json={**made, "resourceType": "Practitioner"}),
        400,
        "invalid",
        ["Patient.resourceType"],
    )


async def test_if_match_current_version_updates_stale_is_412(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    rid = made["id"]
    ok = await put(client, {**made, "active": True}, headers={"If-Match": 'W/"1"'})
    assert ok.status_code == 200
    assert ok.headers["etag"] == 'W/"2"'

    stale = await put(client, {**made, "active": False}, headers={"If-Match": 'W/"1"'})
    assert_outcome(stale, 412, "conflict", [f"Patient/{rid}"])
    assert (await client.get(f"Patient/{rid}")).json()["active"] is True

    # the strong and bare forms name the same version
    assert (await put(client, made, headers={"If-Match": '"2"'})).status_code == 200
    assert version_of(await client.get(f"Patient/{rid}")) == 3

    assert_outcome(
        await put(client, made, headers={"If-Match": "three"}), 400, "invalid", ["If-Match"]
    )
    absent = await put(client, {**patient(), "id": "absent"}, headers={"If-Match": 'W/"1"'})
    assert_outcome(absent, 412, "conflict", ["Patient/absent"])
    assert_outcome(await client.get("Patient/absent"), 404, "not-found")


async def test_if_none_match_star_refuses_to_overwrite(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    assert_outcome(
        await put(client, made, headers={"If-None-Match": "*"}),
        412,
        "conflict",
        [f"Patient/{made['id']}"],
    )
    fresh = await put(client, {**patient(), "id": "fresh"}, headers={"If-None-Match": "*"})
    assert fresh.status_code == 201


async def test_conditional_update_no_match_creates(client: httpx.AsyncClient) -> None:
    params = {"identifier": f"{CPR}|1111111111"}
    resp = await client.put("Patient", params=params, json=patient("A", "1111111111"))
    assert resp.status_code == 201
    created = resp.json()
    assert resp.headers["location"] == f"{BASE}/Patient/{created['id']}/_history/1"

    # no match, id given: update as create with that id
    params = {"identifier": f"{CPR}|2222222222"}
    resp = await client.put(
        "Patient", params=params, json={**patient("B", "2222222222"), "id": "given"}
    )
    assert resp.status_code == 201
    assert resp.json()["id"] == "given"


async def test_conditional_update_one_match_updates_it(client: httpx.AsyncClient) -> None:
    made = await create(client, patient("A", "1111111111"))
    params = {"identifier": f"{CPR}|1111111111"}
    resp = await client.put("Patient", params=params, json=patient("A2", "1111111111"))
    assert resp.status_code == 200
    assert resp.json()["id"] == made["id"]
    assert resp.headers["etag"] == 'W/"2"'
    # with the matching id in the body
    resp = await client.put(
        "Patient", params=params, json={**patient("A3", "1111111111"), "id": made["id"]}
    )
    assert resp.status_code == 200
    assert version_of(resp) == 3
    # with a different id in the body: 400
    assert_outcome(
        await client.put(
            "Patient", params=params, json={**patient("A4", "1111111111"), "id": "other"}
        ),
        400,
        "invalid",
        ["Patient.id"],
    )
    # version-aware conditional update
    assert_outcome(
        await client.put(
            "Patient",
            params=params,
            json=patient("A5", "1111111111"),
            headers={"If-Match": 'W/"1"'},
        ),
        412,
        "conflict",
    )
    final = (await client.get(f"Patient/{made['id']}")).json()
    assert final["name"] == [{"family": "A3"}]
    assert final["meta"]["versionId"] == "3"


async def test_conditional_update_multiple_matches_is_412(client: httpx.AsyncClient) -> None:
    await create(client, patient("A", "1111111111"))
    await create(client, patient("B", "1111111111"))
    criteria = f"identifier={CPR}|1111111111"
    assert_outcome(
        await client.put(f"Patient?{criteria}", json=patient("C", "1111111111")),
        412,
        "multiple-matches",
        [f"Patient?{criteria}"],
    )
    found = (await client.get("Patient", params={"identifier": f"{CPR}|1111111111"})).json()
    assert sorted(e["resource"]["name"][0]["family"] for e in found["entry"]) == ["A", "B"]


async def test_conditional_update_needs_valid_criteria(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.put("Patient", json=patient()), 400, "invalid")
    assert_outcome(
        await client.put("Patient", params={"shoe-size": "x"}, json=patient()),
        400,
        "invalid",
        ["shoe-size"],
    )
    assert_outcome(
        await client.put("Patient", params={"_count": "1"}, json=patient()),
        400,
        "invalid",
        ["_count"],
    )
    assert (await client.get("Patient")).json()["entry"] == []
