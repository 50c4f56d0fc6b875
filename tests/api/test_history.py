"""history for an instance, a type and the system (http.html#history), with paging (#paging)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from fhir_server.stored import instant, now_us
from tests.api.support import BASE, assert_outcome, create, minimal, patient, put_ok


def versions(bundle: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(reference, versionId, method) of each entry, in bundle order."""
    out = []
    for e in bundle["entry"]:
        ref = e["fullUrl"].removeprefix(f"{BASE}/")
        vid = e["response"]["etag"].removeprefix('W/"').removesuffix('"')
        out.append((ref, vid, e["request"]["method"]))
    return out


async def pause() -> None:
    """Let the clock move past the millisecond that `_since`/`_at` can name."""
    await asyncio.sleep(0.003)


async def test_instance_history_newest_first(client: httpx.AsyncClient) -> None:
    made = await create(client, patient("V1"))
    rid = made["id"]
    await put_ok(client, {**made, "name": [{"family": "V2"}]})
    await put_ok(client, {**made, "name": [{"family": "V3"}]})
    await client.delete(f"Patient/{rid}")
    await create(client, patient("Other"))

    resp = await client.get(f"Patient/{rid}/_history")
    assert resp.status_code == 200
    bundle = resp.json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "history"
    ref = f"Patient/{rid}"
    assert versions(bundle) == [
        (ref, "4", "DELETE"),
        (ref, "3", "PUT"),
        (ref, "2", "PUT"),
        (ref, "1", "POST"),
    ]
    entries = bundle["entry"]
    assert [e.get("resource", {}).get("name") for e in entries] == [
        None,
        [{"family": "V3"}],
        [{"family": "V2"}],
        [{"family": "V1"}],
    ]
    assert entries[3]["request"]["url"] == "Patient"
    assert entries[1]["request"]["url"] == ref
    assert entries[3]["response"]["status"].startswith("201")
    assert entries[1]["response"]["status"].startswith("200")
    stamps = [e["response"]["lastModified"] for e in entries]
    assert stamps == sorted(stamps, reverse=True)
    assert entries[1]["response"]["lastModified"] == entries[1]["resource"]["meta"]["lastUpdated"]
    assert bundle["link"] == [{"relation": "self", "url": f"{BASE}/{ref}/_history"}]


async def test_type_and_system_history(client: httpx.AsyncClient) -> None:
    p1 = await create(client, patient("A"))
    o1 = await create(client, minimal("Observation"))
    p2 = await create(client, patient("B"))
    await put_ok(client, {**p1, "active": True})
    await client.delete(f"Observation/{o1['id']}")

    patients = (await client.get("Patient/_history")).json()
    assert versions(patients) == [
        (f"Patient/{p1['id']}", "2", "PUT"),
        (f"Patient/{p2['id']}", "1", "POST"),
        (f"Patient/{p1['id']}", "1", "POST"),
    ]
    assert patients["link"][0] == {"relation": "self", "url": f"{BASE}/Patient/_history"}

    everything = (await client.get("_history")).json()
    assert versions(everything) == [
        (f"Observation/{o1['id']}", "2", "DELETE"),
        (f"Patient/{p1['id']}", "2", "PUT"),
        (f"Patient/{p2['id']}", "1", "POST"),
        (f"Observation/{o1['id']}", "1", "POST"),
        (f"Patient/{p1['id']}", "1", "POST"),
    ]
    assert everything["link"][0] == {"relation": "self", "url": f"{BASE}/_history"}
    assert (await client.get("Practitioner/_history")).json()["entry"] == []


async def follow(client: httpx.AsyncClient, url: str, **params: str) -> list[dict[str, Any]]:
    """Every page from ``url`` on, following `next` links until there is none."""
    pages = []
    # (httpx drops a URL's own query when given params, even empty ones: pass them only here)
    resp = await client.get(url, params=params) if params else await client.get(url)
    while True:
        assert resp.status_code == 200, resp.text
        page = resp.json()
        pages.append(page)
        nxt = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not nxt:
            return pages
        assert nxt[0].startswith(BASE)
        resp = await client.get(nxt[0])


async def test_paging_follows_next_links_until_exhausted(client: httpx.AsyncClient) -> None:
    made = await create(client, patient("V1"))
    for i in range(2, 8):
        await put_ok(client, {**made, "name": [{"family": f"V{i}"}]})
    other = await create(client, minimal("Observation"))

    pages = await follow(client, f"Patient/{made['id']}/_history", _count="3")
    vids = [[vid for _, vid, _ in versions(p)] for p in pages]
    assert vids == [["7", "6", "5"], ["4", "3", "2"], ["1"]]

    # a write between pages does not shift them (the cursor is a keyset, not an offset)
    first = (await client.get("_history", params={"_count": "2"})).json()
    assert [v for _, v, _ in versions(first)] == ["1", "7"]
    await put_ok(client, {**made, "active": True})
    rest = await follow(client, next(x["url"] for x in first["link"] if x["relation"] == "next"))
    seen = versions(first) + [v for p in rest for v in versions(p)]
    ref = f"Patient/{made['id']}"
    assert seen == [(f"Observation/{other['id']}", "1", "POST")] + [
        (ref, str(v), "PUT" if v > 1 else "POST") for v in range(7, 0, -1)
    ]
    assert [len(p["entry"]) for p in rest] == [2, 2, 2]

    # _count=0: no entries
    assert (await client.get("_history", params={"_count": "0"})).json()["entry"] == []


async def test_since_and_at(client: httpx.AsyncClient) -> None:
    made = await create(client, patient("V1"))
    await pause()
    between_1_2 = instant(now_us())
    await pause()
    await put_ok(client, {**made, "name": [{"family": "V2"}]})
    await pause()
    between_2_3 = instant(now_us())
    await pause()
    await put_ok(client, {**made, "name": [{"family": "V3"}]})
    late = await create(client, patient("Late"))
    url = f"Patient/{made['id']}/_history"

    since = (await client.get(url, params={"_since": between_1_2})).json()
    assert [v for _, v, _ in versions(since)] == ["3", "2"]
    since_type = (await client.get("Patient/_history", params={"_since": between_2_3})).json()
    assert versions(since_type) == [
        (f"Patient/{late['id']}", "1", "POST"),
        (f"Patient/{made['id']}", "3", "PUT"),
    ]
    # _at: the versions current at some point during the instant named
    at = (await client.get(url, params={"_at": between_1_2})).json()
    assert [v for _, v, _ in versions(at)] == ["1"]
    at = (await client.get(url, params={"_at": between_2_3})).json()
    assert [v for _, v, _ in versions(at)] == ["2"]
    # a whole day: every version written today
    day = (await client.get(url, params={"_at": between_1_2[:10]})).json()
    assert [v for _, v, _ in versions(day)] == ["3", "2", "1"]
    assert (await client.get(url, params={"_since": "2999-01-01T00:00:00Z"})).json()["entry"] == []


async def test_history_parameter_errors(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    url = f"Patient/{made['id']}/_history"
    assert_outcome(
        await client.get(url, params={"_since": "yesterday"}), 400, "invalid", ["_since"]
    )
    assert_outcome(
        await client.get("_history", params={"_since": "2024-13-01"}), 400, "invalid", ["_since"]
    )
    assert_outcome(await client.get(url, params={"_at": "2024-02-30"}), 400, "invalid", ["_at"])
    # the end of what a timestamp can hold is a time like any other: nothing was written since,
    # and the version current then is today's
    late = "9999-12-31T23:59:59+14:00"
    for name, value, found in (("_since", late, 0), ("_at", "9999", 1)):
        resp = await client.get(url, params={name: value})
        assert resp.status_code == 200, resp.text
        assert len(resp.json().get("entry", [])) == found
    assert_outcome(await client.get(url, params={"_count": "-1"}), 400, "invalid", ["_count"])
    assert_outcome(await client.get(url, params={"family": "x"}), 400, "invalid", ["family"])
    assert_outcome(
        await client.get("Patient/_history", params={"_list": "List/1"}), 400, "invalid", ["_list"]
    )
    # each parameter at most once (http.html#history)
    twice = [("_since", "2024-01-01T00:00:00Z"), ("_since", "2025-01-01T00:00:00Z")]
    assert_outcome(await client.get(url, params=twice), 400, "invalid", ["_since"])
    # a cursor the server never issued
    assert_outcome(
        await client.get("_history", params={"_cursor": "not-a-cursor"}),
        400,
        "invalid",
        ["_cursor"],
    )


async def test_history_of_unknown_and_deleted_instances(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.get("Patient/never/_history"), 404, "not-found", ["Patient/never"])
    assert_outcome(await client.get("Patient/a_b/_history"), 400, "invalid", ["id"])
    assert_outcome(await client.get("Unicorn/_history"), 404, "not-supported", ["Unicorn"])
    made = await create(client, patient())
    await client.delete(f"Patient/{made['id']}")
    resp = await client.get(f"Patient/{made['id']}/_history")
    assert resp.status_code == 200
    assert [v for _, v, _ in versions(resp.json())] == ["2", "1"]
