"""search at type level (http.html#search), GET and POST `_search`, with paging (#paging).

The registry serves `_id` and `identifier` today; everything else must be refused, never ignored.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.support import BASE, CPR, assert_outcome, ids, minimal, patient, put_ok

MRN = "http://example.org/mrn"


async def seed(client: httpx.AsyncClient) -> None:
    await put_ok(client, {**patient("A", "1111111111"), "id": "a"})
    await put_ok(client, {**patient("B", "2222222222"), "id": "b"})
    await put_ok(
        client,
        {**patient("C"), "id": "c", "identifier": [{"system": MRN, "value": "1111111111"}]},
    )
    await put_ok(client, {**patient("D"), "id": "d", "identifier": [{"value": "1111111111"}]})
    await put_ok(client, {**patient("E"), "id": "e"})
    await put_ok(
        client, minimal("Observation", id="a", identifier=[{"system": CPR, "value": "1111111111"}])
    )


async def search(client: httpx.AsyncClient, type_: str, params: Any) -> dict[str, Any]:
    resp = await client.get(type_, params=params)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert body["type"] == "searchset"
    assert all(e["search"] == {"mode": "match"} for e in body["entry"])
    return body


async def test_token_forms(client: httpx.AsyncClient) -> None:
    await seed(client)
    cases = [
        ({"identifier": "1111111111"}, ["a", "c", "d"]),  # any system
        ({"identifier": f"{CPR}|1111111111"}, ["a"]),
        ({"identifier": "|1111111111"}, ["d"]),  # no system
        ({"identifier": f"{MRN}|"}, ["c"]),  # any code in the system
        ({"identifier": f"{CPR}|1111111111,{CPR}|2222222222"}, ["a", "b"]),  # OR
        ([("identifier", "1111111111"), ("identifier", f"{MRN}|")], ["c"]),  # AND
        ({"_id": "e,b,zzz"}, ["b", "e"]),
        ([("_id", "a"), ("identifier", "2222222222")], []),
        ({}, ["a", "b", "c", "d", "e"]),
    ]
    for params, expected in cases:
        body = await search(client, "Patient", params)
        assert ids(body) == expected, params
        assert [e["fullUrl"] for e in body["entry"]] == [f"{BASE}/Patient/{i}" for i in expected]
    # another type's resource with the same id and identifier is not a Patient
    obs = await search(client, "Observation", {"identifier": "1111111111"})
    assert ids(obs) == ["a"]


async def test_search_excludes_deleted_and_sees_updates(client: httpx.AsyncClient) -> None:
    await seed(client)
    await client.delete("Patient/a")
    await put_ok(client, {**patient("B"), "id": "b", "identifier": [{"value": "1111111111"}]})
    assert ids(await search(client, "Patient", {"identifier": "1111111111"})) == ["b", "c", "d"]
    assert ids(await search(client, "Patient", {"identifier": "2222222222"})) == []


async def test_paging_with_count(client: httpx.AsyncClient) -> None:
    for n in range(7):
        await put_ok(client, {**patient(f"P{n}"), "id": f"p{n}"})
    url: str | None = f"{BASE}/Patient?_count=3"
    pages = []
    while url:
        body = (await client.get(url)).json()
        pages.append(ids(body))
        links = {link["relation"]: link["url"] for link in body["link"]}
        assert links["self"].startswith(f"{BASE}/Patient?_count=3")
        url = links.get("next")
    assert pages == [["p0", "p1", "p2"], ["p3", "p4", "p5"], ["p6"]]
    assert ids(await search(client, "Patient", {"_count": "0"})) == []


async def test_post_search(client: httpx.AsyncClient) -> None:
    await seed(client)
    resp = await client.post("Patient/_search", data={"identifier": "1111111111"})
    assert resp.status_code == 200
    assert ids(resp.json()) == ["a", "c", "d"]
    # parameters in both places are ANDed
    resp = await client.post(
        "Patient/_search", params={"_id": "a,c"}, data={"identifier": "1111111111"}
    )
    assert ids(resp.json()) == ["a", "c"]
    resp = await client.post("Patient/_search")
    assert ids(resp.json()) == ["a", "b", "c", "d", "e"]
    resp = await client.post("Patient/_search", json={"identifier": "1111111111"})
    assert_outcome(resp, 415, "not-supported")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    resp = await client.post("Patient/_search", content=b"\xff\xfe=1", headers=form)
    assert_outcome(resp, 400, "invalid")
    assert_outcome(
        await client.post("Patient/_search", data={"shoe-size": "A"}), 400, "invalid", ["shoe-size"]
    )


async def test_search_parameter_errors(client: httpx.AsyncClient) -> None:
    for params, where in (
        ({"shoe-size": "A"}, "shoe-size"),
        ({"identifier:exact": "x"}, "identifier:exact"),
        ({"identifier": ""}, "identifier"),
        ({"_count": "many"}, "_count"),
        ({"_sort": "shoe-size"}, "_sort"),
    ):
        assert_outcome(await client.get("Patient", params=params), 400, "invalid", [where])
    # Provenance and AuditEvent define no `identifier` parameter in R4
    assert_outcome(
        await client.get("Provenance", params={"identifier": "x"}), 400, "invalid", ["identifier"]
    )
    assert_outcome(await client.get("Unicorn", params={"_id": "x"}), 404, "not-supported")
