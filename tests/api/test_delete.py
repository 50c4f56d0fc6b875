"""delete and conditional delete (http.html#delete)."""

from __future__ import annotations

import httpx

from tests.api.conftest import MakeClient
from tests.api.support import BASE, CPR, assert_outcome, create, patient


async def test_delete_is_204_then_read_is_410(client: httpx.AsyncClient) -> None:
    made = await create(client, patient("Gone", "3333333333"))
    rid = made["id"]
    resp = await client.delete(f"Patient/{rid}")
    assert resp.status_code == 204
    assert resp.content == b""
    assert resp.headers["etag"] == 'W/"2"'
    assert "content-type" not in resp.headers
    assert_outcome(await client.get(f"Patient/{rid}"), 410, "deleted", [f"Patient/{rid}"])
    # no longer found by search
    found = (await client.get("Patient", params={"identifier": f"{CPR}|3333333333"})).json()
    assert found["entry"] == []
    assert (await client.get("Patient", params={"_id": rid})).json()["entry"] == []


async def test_history_shows_the_delete(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    rid = made["id"]
    await client.delete(f"Patient/{rid}")
    history = (await client.get(f"Patient/{rid}/_history")).json()
    assert history["type"] == "history"
    first, second = history["entry"]
    assert "resource" not in first
    assert first["fullUrl"] == f"{BASE}/Patient/{rid}"
    assert first["request"] == {"method": "DELETE", "url": f"Patient/{rid}"}
    assert first["response"]["etag"] == 'W/"2"'
    assert first["response"]["status"].startswith("204")
    assert second["request"] == {"method": "POST", "url": "Patient"}
    assert second["resource"] == made


async def test_delete_is_idempotent(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    rid = made["id"]
    assert (await client.delete(f"Patient/{rid}")).status_code == 204
    again = await client.delete(f"Patient/{rid}")
    assert again.status_code == 204
    assert "etag" not in again.headers
    assert (await client.delete("Patient/never-was")).status_code == 204
    history = (await client.get(f"Patient/{rid}/_history")).json()
    assert len(history["entry"]) == 2  # the second delete wrote nothing


async def test_delete_with_if_match(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    rid = made["id"]
    assert_outcome(
        await client.delete(f"Patient/{rid}", headers={"If-Match": 'W/"7"'}),
        412,
        "conflict",
        [f"Patient/{rid}"],
    )
    assert (await client.get(f"Patient/{rid}")).status_code == 200
    resp = await client.delete(f"Patient/{rid}", headers={"If-Match": 'W/"1"'})
    assert resp.status_code == 204
    assert (await client.get(f"Patient/{rid}")).status_code == 410
    assert_outcome(
        await client.delete(f"Patient/{rid}", headers={"If-Match": 'W/"2"'}), 412, "conflict"
    )
    assert_outcome(
        await client.delete(f"Patient/{rid}", headers={"If-Match": "x"}),
        400,
        "invalid",
        ["If-Match"],
    )


async def test_delete_invalid_id_is_400(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.delete("Patient/a_b"), 400, "invalid", ["id"])


async def test_conditional_delete_single_match(client: httpx.AsyncClient) -> None:
    keep = await create(client, patient("Keep", "1111111111"))
    drop = await create(client, patient("Drop", "2222222222"))
    resp = await client.delete("Patient", params={"identifier": f"{CPR}|2222222222"})
    assert resp.status_code == 204
    assert resp.headers["etag"] == 'W/"2"'  # the tombstone of the one resource deleted
    assert (await client.get(f"Patient/{drop['id']}")).status_code == 410
    assert (await client.get(f"Patient/{keep['id']}")).status_code == 200
    # no match: nothing to do, still a success
    resp = await client.delete("Patient", params={"identifier": f"{CPR}|2222222222"})
    assert resp.status_code == 204
    assert "etag" not in resp.headers
    assert len((await client.get(f"Patient/{drop['id']}/_history")).json()["entry"]) == 2


async def test_conditional_delete_multiple_matches_is_412(client: httpx.AsyncClient) -> None:
    a = await create(client, patient("A", "1111111111"))
    b = await create(client, patient("B", "1111111111"))
    assert_outcome(
        await client.delete("Patient", params={"identifier": f"{CPR}|1111111111"}),
        412,
        "multiple-matches",
        [f"Patient?identifier={CPR}|1111111111"],
    )
    for made in (a, b):
        assert (await client.get(f"Patient/{made['id']}")).status_code == 200


async def test_conditional_delete_of_several_when_allowed(make_client: MakeClient) -> None:
    client = await make_client(allow_multiple_delete=True, max_conditional_delete=2)
    made = [await create(client, patient(f"P{i}", "1111111111")) for i in range(3)]
    criteria = {"identifier": f"{CPR}|1111111111"}
    assert_outcome(await client.delete("Patient", params=criteria), 412, "multiple-matches")
    assert (await client.delete(f"Patient/{made[0]['id']}")).status_code == 204
    assert (await client.delete("Patient", params=criteria)).status_code == 204
    for m in made:
        assert (await client.get(f"Patient/{m['id']}")).status_code == 410
    metadata = (await client.get("metadata")).json()
    assert {r["conditionalDelete"] for r in metadata["rest"][0]["resource"]} == {"multiple"}


async def test_conditional_delete_needs_filtering_criteria(client: httpx.AsyncClient) -> None:
    made = await create(client, patient("A", "1111111111"))
    assert_outcome(await client.delete("Patient"), 400, "invalid")
    assert_outcome(
        await client.delete("Patient", params={"shoe-size": "A"}), 400, "invalid", ["shoe-size"]
    )
    assert_outcome(
        await client.delete("Patient", params={"_count": "5"}), 400, "invalid", ["_count"]
    )
    assert (await client.get(f"Patient/{made['id']}")).status_code == 200


async def test_delete_prefer_operation_outcome(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    resp = await client.delete(
        f"Patient/{made['id']}", headers={"Prefer": "return=OperationOutcome"}
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "information"
    assert body["issue"][0]["code"] == "informational"
