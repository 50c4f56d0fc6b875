"""Optimistic locking under contention (http.html#concurrency): concurrent version-aware updates of
one resource never lose an update."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.api.support import CPR, create, patient, version_of

CLIENTS = 16
MARKS = "urn:example:client-mark"


async def _add_mark(
    client: httpx.AsyncClient, url: str, n: int, all_read: asyncio.Barrier
) -> tuple[int, int]:
    """Read, add this client's mark, PUT with If-Match; on 412 read again. Returns the version
    written and the number of attempts. The first PUTs wait until every client has read, so
    they collide whatever order the event loop runs the requests in."""
    attempts = 0
    while True:
        attempts += 1
        assert attempts < 200, "no progress"
        current = await client.get(url)
        assert current.status_code == 200
        resource: dict[str, Any] = current.json()
        resource["identifier"] = [
            *resource.get("identifier", []),
            {"system": MARKS, "value": f"client-{n}"},
        ]
        if attempts == 1:
            await all_read.wait()
        resp = await client.put(url, json=resource, headers={"If-Match": current.headers["etag"]})
        if resp.status_code == 412:
            assert resp.json()["issue"][0]["code"] == "conflict"
            await asyncio.sleep(0)
            continue
        assert resp.status_code == 200, resp.text
        written = version_of(resp)
        assert written == version_of(current) + 1
        assert resp.json()["meta"]["versionId"] == str(written)
        return written, attempts


async def test_concurrent_if_match_updates_lose_nothing(client: httpx.AsyncClient) -> None:
    made = await create(client, patient("Shared"))
    url = f"Patient/{made['id']}"

    all_read = asyncio.Barrier(CLIENTS)
    results = await asyncio.gather(*(_add_mark(client, url, n, all_read) for n in range(CLIENTS)))

    written = sorted(v for v, _ in results)
    assert written == list(range(2, CLIENTS + 2))  # every success is a distinct version
    assert sum(a for _, a in results) > CLIENTS  # they really did collide

    final = await client.get(url)
    assert version_of(final) == CLIENTS + 1
    body = final.json()
    assert body["meta"]["versionId"] == str(CLIENTS + 1)
    marks = [i["value"] for i in body["identifier"] if i["system"] == MARKS]
    assert sorted(marks) == sorted(f"client-{n}" for n in range(CLIENTS))
    assert len(marks) == CLIENTS  # no mark written twice

    history = (await client.get(f"{url}/_history", params={"_count": "100"})).json()
    vids = [int(e["resource"]["meta"]["versionId"]) for e in history["entry"]]
    assert vids == list(range(CLIENTS + 1, 0, -1))
    # each version holds exactly one more mark than the one before
    counts = [
        len([i for i in e["resource"].get("identifier", []) if i["system"] == MARKS])
        for e in history["entry"]
    ]
    assert counts == list(range(CLIENTS, -1, -1))


async def test_concurrent_conditional_creates_make_one_resource(client: httpx.AsyncClient) -> None:
    """The match and the create of a conditional create are one atomic step."""
    criteria = {"If-None-Exist": f"identifier={CPR}|0101010101"}

    async def one(n: int) -> httpx.Response:
        return await client.post("Patient", json=patient(f"C{n}", "0101010101"), headers=criteria)

    responses = await asyncio.gather(*(one(n) for n in range(CLIENTS)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (CLIENTS - 1) + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    found = (await client.get("Patient", params={"identifier": f"{CPR}|0101010101"})).json()
    assert len(found["entry"]) == 1


async def test_concurrent_creates_and_deletes_keep_history_consistent(
    client: httpx.AsyncClient,
) -> None:
    """Interleaved writers on different resources: every write lands, each once."""

    async def lifecycle(n: int) -> str:
        made = await create(client, patient(f"L{n}"))
        url = f"Patient/{made['id']}"
        resp = await client.put(url, json={**made, "active": True}, headers={"If-Match": 'W/"1"'})
        assert resp.status_code == 200
        assert (await client.delete(url, headers={"If-Match": 'W/"2"'})).status_code == 204
        return str(made["id"])

    made = await asyncio.gather(*(lifecycle(n) for n in range(CLIENTS)))
    history = (await client.get("Patient/_history", params={"_count": "1000"})).json()
    per_id: dict[str, list[str]] = {}
    for e in history["entry"]:
        per_id.setdefault(e["fullUrl"].rsplit("/", 1)[1], []).append(e["request"]["method"])
    assert sorted(per_id) == sorted(made)
    assert all(methods == ["DELETE", "PUT", "POST"] for methods in per_id.values())
