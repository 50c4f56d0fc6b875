"""batch and transaction (http.html#transaction): reference resolution, processing order,
atomicity and per-entry responses."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import orjson

from tests.api.support import (
    BASE,
    CPR,
    assert_outcome,
    create,
    expressions,
    minimal,
    patient,
    put_ok,
)

P1 = "urn:uuid:0b6f5c52-0000-4000-8000-000000000001"
P2 = "urn:uuid:0b6f5c52-0000-4000-8000-000000000002"
O1 = "urn:uuid:0b6f5c52-0000-4000-8000-000000000003"


def entry(method: str, url: str, resource: dict | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"request": {"method": method, "url": url, **extra}}
    if resource is not None:
        out["resource"] = resource
    return out


def with_url(full_url: str, e: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": full_url, **e}


def bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


async def post(client: httpx.AsyncClient, doc: Any, **headers: str) -> httpx.Response:
    return await client.post("", json=doc, headers=headers)


async def transaction(client: httpx.AsyncClient, *entries: dict[str, Any]) -> dict[str, Any]:
    resp = await post(client, bundle("transaction", *entries))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert body["type"] == "transaction-response"
    assert len(body["entry"]) == len(entries)
    return body


def rid(response_entry: dict[str, Any]) -> str:
    """The id from ``response.location`` (``Type/id/_history/n``)."""
    return str(response_entry["response"]["location"].split("/")[1])


async def all_ids(client: httpx.AsyncClient, type_: str) -> list[str]:
    found = (await client.get(type_, params={"_count": "100"})).json()
    return sorted(e["resource"]["id"] for e in found["entry"])


# --- transaction: references ------------------------------------------------------------------


async def test_transaction_rewrites_urn_uuid_references(client: httpx.AsyncClient) -> None:
    # a local reference outside the bundle must name a stored resource (referential integrity)
    await put_ok(client, minimal("Encounter", id="other"))
    out = await transaction(
        client,
        # refers to a resource created by a later entry, and to itself through a contained ref
        with_url(
            O1, entry("POST", "Observation", minimal("Observation", subject={"reference": P1}))
        ),
        with_url(
            P1,
            entry(
                "POST",
                "Patient",
                patient(
                    "Hansen",
                    "0101010101",
                    id="ignored",
                    link=[{"other": {"reference": P2}, "type": "seealso"}],
                ),
            ),
        ),
        with_url(P2, entry("PUT", "Patient/p2", {**patient("Twin"), "id": "p2"})),
        entry(
            "PUT",
            "Encounter/e1",
            minimal(
                "Encounter",
                id="e1",
                subject={"reference": P1},
                partOf={"reference": "Encounter/other"},
            ),
        ),
    )
    obs_e, pat_e, p2_e, enc_e = out["entry"]
    pid, oid = rid(pat_e), rid(obs_e)
    assert pid != "ignored"
    assert [e["response"]["status"] for e in out["entry"]] == ["201 Created"] * 4
    assert pat_e["response"]["location"] == f"Patient/{pid}/_history/1"
    assert pat_e["response"]["etag"] == 'W/"1"'
    assert pat_e["response"]["lastModified"] == pat_e["resource"]["meta"]["lastUpdated"]
    assert pat_e["fullUrl"] == f"{BASE}/Patient/{pid}"
    assert p2_e["response"]["location"] == "Patient/p2/_history/1"
    assert enc_e["response"]["location"] == "Encounter/e1/_history/1"

    obs = (await client.get(f"Observation/{oid}")).json()
    assert obs["subject"] == {"reference": f"Patient/{pid}"}
    assert obs_e["resource"] == obs
    pat = (await client.get(f"Patient/{pid}")).json()
    assert pat["link"][0]["other"] == {"reference": "Patient/p2"}
    enc = (await client.get("Encounter/e1")).json()
    assert enc["subject"] == {"reference": f"Patient/{pid}"}
    assert enc["partOf"] == {"reference": "Encounter/other"}  # not in the bundle: untouched


async def test_transaction_resolves_conditional_references(client: httpx.AsyncClient) -> None:
    existing = await create(client, patient("Hansen", "0101010101"))
    criteria = f"Patient?identifier={CPR}|0101010101"
    out = await transaction(
        client,
        entry("POST", "Observation", minimal("Observation", subject={"reference": criteria})),
    )
    obs = (await client.get(f"Observation/{rid(out['entry'][0])}")).json()
    assert obs["subject"] == {"reference": f"Patient/{existing['id']}"}

    # no match: the whole transaction fails
    missing = f"Patient?identifier={CPR}|9999999999"
    resp = await post(
        client,
        bundle(
            "transaction",
            entry("POST", "Patient", patient("New")),
            entry("POST", "Observation", minimal("Observation", subject={"reference": missing})),
        ),
    )
    assert_outcome(resp, 412, "conflict", ["Bundle.entry[1]"])
    # several matches: fails too
    await create(client, patient("Twin", "0101010101"))
    resp = await post(
        client,
        bundle(
            "transaction",
            entry("POST", "Observation", minimal("Observation", subject={"reference": criteria})),
        ),
    )
    assert_outcome(resp, 412, "multiple-matches", ["Bundle.entry[0]"])
    # criteria the server does not know
    resp = await post(
        client,
        bundle(
            "transaction",
            entry(
                "POST",
                "Observation",
                minimal("Observation", subject={"reference": "Patient?shoe-size=x"}),
            ),
        ),
    )
    assert_outcome(resp, 400, "invalid", ["shoe-size"])
    assert len(await all_ids(client, "Observation")) == 1
    assert len(await all_ids(client, "Patient")) == 2


# --- transaction: order -----------------------------------------------------------------------


async def test_transaction_processing_order_delete_post_put_get(client: httpx.AsyncClient) -> None:
    """Entries are listed GET, PUT, POST, DELETE; each effect shows the previous phase ran first."""
    await put_ok(client, {**patient("A-v1"), "id": "a"})
    await put_ok(client, {**patient("Doomed", "1111111111"), "id": "doomed"})
    await put_ok(client, {**patient("Survivor", "1111111111"), "id": "survivor"})
    dup = f"Patient?identifier={CPR}|1111111111"
    fresh = f"Patient?identifier={CPR}|2222222222"
    out = await transaction(
        client,
        # 0: GET after PUT → sees version 2
        entry("GET", "Patient/a"),
        # 1: PUT after POST → the conditional reference finds the patient POSTed in entry 3
        entry(
            "PUT", "Observation/o1", minimal("Observation", id="o1", subject={"reference": fresh})
        ),
        # 2: PUT of Patient/a
        entry("PUT", "Patient/a", {**patient("A-v2"), "id": "a"}),
        # 3: POST of the patient entry 1 refers to
        entry("POST", "Patient", patient("Fresh", "2222222222")),
        # 4: POST after DELETE → two patients carry 1111111111 until entry 5 deletes one
        entry("POST", "Observation", minimal("Observation", subject={"reference": dup})),
        # 5: DELETE
        entry("DELETE", "Patient/doomed"),
    )
    statuses = [e["response"]["status"] for e in out["entry"]]
    assert statuses == [
        "200 OK",
        "201 Created",
        "200 OK",
        "201 Created",
        "201 Created",
        "204 No Content",
    ]
    got = out["entry"][0]["resource"]
    assert got["name"] == [{"family": "A-v2"}]
    assert got["meta"]["versionId"] == "2"
    fresh_id = rid(out["entry"][3])
    o1 = (await client.get("Observation/o1")).json()
    assert o1["subject"] == {"reference": f"Patient/{fresh_id}"}
    o2 = (await client.get(f"Observation/{rid(out['entry'][4])}")).json()
    assert o2["subject"] == {"reference": "Patient/survivor"}
    assert (await client.get("Patient/doomed")).status_code == 410


async def test_conditional_create_in_transaction_after_delete(client: httpx.AsyncClient) -> None:
    """A conditional create does not match what a DELETE of the same transaction removes."""
    await put_ok(client, {**patient("Old", "1111111111"), "id": "old"})
    out = await transaction(
        client,
        entry(
            "POST",
            "Patient",
            patient("New", "1111111111"),
            ifNoneExist=f"identifier={CPR}|1111111111",
        ),
        entry("DELETE", "Patient/old"),
    )
    assert out["entry"][0]["response"]["status"] == "201 Created"
    new_id = rid(out["entry"][0])
    assert new_id != "old"
    assert await all_ids(client, "Patient") == [new_id]


# --- transaction: atomicity -------------------------------------------------------------------


async def test_transaction_is_atomic(client: httpx.AsyncClient) -> None:
    await put_ok(client, {**patient("Keep"), "id": "keep"})
    await put_ok(client, {**patient("Stay"), "id": "stay"})
    before = (await client.get("_history")).json()["entry"]

    failing = bundle(
        "transaction",
        entry("POST", "Patient", patient("Never", "5555555555")),
        entry("PUT", "Patient/keep", {**patient("Changed"), "id": "keep"}),
        entry("DELETE", "Patient/stay"),
        entry("PUT", "Practitioner/x", {"resourceType": "Practitioner", "id": "x"}),
        # invalid: Observation.code is mandatory
        entry("POST", "Observation", {"resourceType": "Observation", "status": "final"}),
    )
    outcome = assert_outcome(await post(client, failing), 400, "required", ["Observation.code"])
    assert outcome["issue"][0]["diagnostics"].startswith("Bundle.entry[4]")

    assert await all_ids(client, "Patient") == ["keep", "stay"]
    assert (await client.get("Patient/keep")).json()["name"] == [{"family": "Keep"}]
    assert (await client.get("Patient/stay")).status_code == 200
    assert_outcome(await client.get("Practitioner/x"), 404, "not-found")
    assert await all_ids(client, "Observation") == []
    found = await client.get("Patient", params={"identifier": f"{CPR}|5555555555"})
    assert found.json()["entry"] == []
    assert (await client.get("_history")).json()["entry"] == before

    # a failing If-Match rolls back everything as well
    stale = bundle(
        "transaction",
        entry("POST", "Patient", patient("Never")),
        entry("PUT", "Patient/keep", {**patient("Changed"), "id": "keep"}, ifMatch='W/"9"'),
    )
    assert_outcome(await post(client, stale), 412, "conflict", ["Patient/keep"])
    # so does reading a resource that is not there
    missing = bundle(
        "transaction", entry("POST", "Patient", patient("Never")), entry("GET", "Patient/nope")
    )
    assert_outcome(await post(client, missing), 404, "not-found", ["Patient/nope"])
    assert await all_ids(client, "Patient") == ["keep", "stay"]
    assert (await client.get("_history")).json()["entry"] == before


async def test_transaction_response_entries(client: httpx.AsyncClient) -> None:
    await put_ok(client, {**patient("Up"), "id": "up"})
    await put_ok(client, {**patient("Del"), "id": "del"})
    await put_ok(client, {**patient("Pat"), "id": "pat"})
    await put_ok(client, {**patient("Known", "0101010101"), "id": "known"})
    binary = base64.b64encode(
        orjson.dumps([{"op": "replace", "path": "/name/0/family", "value": "Patched"}])
    ).decode()
    out = await transaction(
        client,
        entry("POST", "Patient", patient("Created")),
        entry("PUT", "Patient/up", {**patient("Updated"), "id": "up"}, ifMatch='W/"1"'),
        entry("DELETE", "Patient/del"),
        entry(
            "PATCH",
            "Patient/pat",
            {
                "resourceType": "Binary",
                "contentType": "application/json-patch+json",
                "data": binary,
            },
        ),
        entry("GET", "Patient?_id=up"),
        entry(
            "POST",
            "Patient",
            patient("Cond", "0101010101"),
            ifNoneExist=f"identifier={CPR}|0101010101",
        ),
    )
    created, updated, deleted, patched, searched, conditional = out["entry"]
    cid = rid(created)
    assert created["response"] == {
        "status": "201 Created",
        "etag": 'W/"1"',
        "lastModified": created["resource"]["meta"]["lastUpdated"],
        "location": f"Patient/{cid}/_history/1",
    }
    assert updated["response"]["status"] == "200 OK"
    assert updated["response"]["etag"] == 'W/"2"'
    assert "location" not in updated["response"]
    assert updated["resource"]["name"] == [{"family": "Updated"}]
    assert deleted["response"]["status"] == "204 No Content"
    assert deleted["response"]["etag"] == 'W/"2"'
    assert "resource" not in deleted
    assert patched["response"]["status"] == "200 OK"
    assert patched["resource"]["name"] == [{"family": "Patched"}]
    assert searched["response"]["status"] == "200 OK"
    assert searched["resource"]["type"] == "searchset"
    assert [e["resource"]["name"] for e in searched["resource"]["entry"]] == [
        [{"family": "Updated"}]
    ]
    # the conditional create matched: 200 and no new resource
    assert conditional["response"]["status"] == "200 OK"
    assert conditional["response"]["location"] == "Patient/known/_history/1"
    assert conditional["resource"]["name"] == [{"family": "Known"}]
    assert await all_ids(client, "Patient") == sorted([cid, "known", "pat", "up"])


async def test_conditional_create_in_transaction(client: httpx.AsyncClient) -> None:
    existing = await create(client, patient("Known", "0101010101"))
    out = await transaction(
        client,
        with_url(
            P1,
            entry(
                "POST",
                "Patient",
                patient("Dup", "0101010101"),
                ifNoneExist=f"identifier={CPR}|0101010101",
            ),
        ),
        with_url(
            P2,
            entry(
                "POST",
                "Patient",
                patient("New", "0202020202"),
                ifNoneExist=f"identifier={CPR}|0202020202",
            ),
        ),
        entry(
            "POST",
            "Observation",
            minimal("Observation", subject={"reference": P1}, focus=[{"reference": P2}]),
        ),
    )
    matched, made, obs = out["entry"]
    assert matched["response"]["status"] == "200 OK"
    assert rid(matched) == existing["id"]
    assert matched["resource"] == existing
    assert made["response"]["status"] == "201 Created"
    stored = (await client.get(f"Observation/{rid(obs)}")).json()
    assert stored["subject"] == {"reference": f"Patient/{existing['id']}"}
    assert stored["focus"] == [{"reference": f"Patient/{rid(made)}"}]
    assert len(await all_ids(client, "Patient")) == 2

    await create(client, patient("Twin", "0101010101"))
    resp = await post(
        client,
        bundle(
            "transaction",
            entry("POST", "Patient", patient("X")),
            entry("POST", "Patient", patient("Y"), ifNoneExist=f"identifier={CPR}|0101010101"),
        ),
    )
    assert_outcome(resp, 412, "multiple-matches")
    assert len(await all_ids(client, "Patient")) == 3


async def test_transaction_prefer(client: httpx.AsyncClient) -> None:
    minimal_out = (
        await post(
            client,
            bundle("transaction", entry("POST", "Patient", patient())),
            Prefer="return=minimal",
        )
    ).json()
    only = minimal_out["entry"][0]
    assert "resource" not in only
    assert only["response"]["status"] == "201 Created"
    outcome = (
        await post(
            client,
            bundle("transaction", entry("DELETE", f"Patient/{rid(only)}")),
            Prefer="return=OperationOutcome",
        )
    ).json()
    assert outcome["entry"][0]["response"]["outcome"]["resourceType"] == "OperationOutcome"


async def test_empty_transaction_is_ok(client: httpx.AsyncClient) -> None:
    resp = await post(client, {"resourceType": "Bundle", "type": "transaction"})
    assert resp.status_code == 200
    assert resp.json()["type"] == "transaction-response"
    assert resp.json()["entry"] == []


# --- batch --------------------------------------------------------------------------------------


async def test_batch_reports_each_entry(client: httpx.AsyncClient) -> None:
    await put_ok(client, {**patient("There"), "id": "there"})
    resp = await post(
        client,
        bundle(
            "batch",
            entry("POST", "Patient", patient("Made")),
            entry("GET", "Patient/missing"),
            entry("PUT", "Patient/there", {**patient(), "id": "elsewhere"}),
            entry("DELETE", "Patient/there"),
            entry("POST", "Observation", {"resourceType": "Observation", "status": "final"}),
            entry("PUT", "Patient/b2", {**patient("B2"), "id": "b2"}, ifMatch='W/"3"'),
            entry("GET", f"{BASE}/Patient/there"),
            entry("POST", "Unicorn", {"resourceType": "Unicorn"}),
        ),
    )
    assert resp.status_code == 200
    out = resp.json()
    assert out["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in out["entry"]]
    assert statuses == [
        "201 Created",
        "404 Not Found",
        "400 Bad Request",
        "204 No Content",
        "400 Bad Request",
        "412 Precondition Failed",
        "410 Gone",
        "404 Not Found",
    ]
    issues = [
        e["response"]["outcome"]["issue"][0] if "outcome" in e["response"] else None
        for e in out["entry"]
    ]
    assert [i and i["code"] for i in issues] == [
        None,
        "not-found",
        "invalid",
        None,
        "required",
        "conflict",
        "deleted",
        "not-supported",
    ]
    assert issues[2]["expression"] == ["Patient.id"]
    assert issues[4]["expression"] == ["Observation.code"]
    assert all(
        e["response"]["outcome"]["resourceType"] == "OperationOutcome"
        for e in out["entry"]
        if "outcome" in e["response"]
    )
    made = rid(out["entry"][0])
    assert await all_ids(client, "Patient") == [made]  # "there" deleted, b2 never made
    assert (await client.get("Patient/there")).status_code == 410


# --- malformed bundles --------------------------------------------------------------------------


async def test_invalid_bundles_are_400(client: httpx.AsyncClient) -> None:
    for kind in ("collection", "document", "history", None):
        doc = {"resourceType": "Bundle", "type": kind, "entry": []}
        assert_outcome(await post(client, doc), 400, "invalid", ["Bundle.type"])
    assert_outcome(await post(client, patient()), 400, "invalid")
    assert_outcome(await client.post("", content=b"{"), 400, "invalid")
    assert_outcome(
        await post(client, bundle("transaction", {"resource": patient()})),
        400,
        "invalid",
        ["Bundle.entry[0].request"],
    )
    assert_outcome(
        await post(client, bundle("batch", entry("POST", "Patient"), entry("FETCH", "Patient"))),
        400,
        "invalid",
        ["Bundle.entry[1].request"],
    )
    assert_outcome(
        await post(client, {"resourceType": "Bundle", "type": "transaction", "entry": {}}),
        400,
        "invalid",
        ["Bundle.entry"],
    )


async def test_transaction_conditional_update_and_delete(client: httpx.AsyncClient) -> None:
    await put_ok(client, {**patient("Old", "1111111111"), "id": "one"})
    await put_ok(client, {**patient("Bye", "2222222222"), "id": "two"})
    out = await transaction(
        client,
        # matches Patient/one: its fullUrl now means Patient/one
        with_url(
            P1,
            entry("PUT", f"Patient?identifier={CPR}|1111111111", patient("New", "1111111111")),
        ),
        # matches nothing: created, with an id the references to its fullUrl get too
        with_url(
            P2,
            entry("PUT", f"Patient?identifier={CPR}|3333333333", patient("Third", "3333333333")),
        ),
        entry("DELETE", f"Patient?identifier={CPR}|2222222222"),
        entry(
            "POST",
            "Observation",
            minimal("Observation", subject={"reference": P1}, focus=[{"reference": P2}]),
        ),
    )
    updated, created, deleted, obs = out["entry"]
    assert updated["response"]["status"] == "200 OK"
    assert updated["response"]["etag"] == 'W/"2"'
    assert updated["resource"]["id"] == "one"
    assert created["response"]["status"] == "201 Created"
    third = created["resource"]["id"]
    assert deleted["response"]["status"] == "204 No Content"
    assert (await client.get("Patient/two")).status_code == 410
    stored = (await client.get(f"Observation/{rid(obs)}")).json()
    assert stored["subject"] == {"reference": "Patient/one"}
    assert stored["focus"] == [{"reference": f"Patient/{third}"}]


async def test_overlapping_resolved_identities_fail(client: httpx.AsyncClient) -> None:
    """http.html#trules: identities resolved by conditional update/delete must not overlap."""
    await put_ok(client, {**patient("A", "1111111111"), "id": "a"})
    before = (await client.get("_history")).json()["entry"]
    cases = [
        (
            entry("DELETE", f"Patient?identifier={CPR}|1111111111"),
            entry("PUT", "Patient/a", {**patient("A2"), "id": "a"}),
        ),
        (
            entry("PUT", "Patient/a", {**patient("A2", "1111111111"), "id": "a"}),
            entry("PUT", f"Patient?identifier={CPR}|1111111111", patient("A3", "1111111111")),
        ),
        (
            entry("PATCH", "Patient/a", {"resourceType": "Parameters", "parameter": []}),
            entry(
                "POST",
                "Patient",
                patient("A4", "1111111111"),
                ifNoneExist=f"identifier={CPR}|1111111111",
            ),
        ),
    ]
    for first, second in cases:
        resp = await post(client, bundle("transaction", first, second))
        outcome = assert_outcome(resp, 400, "invalid")
        assert expressions(outcome)[0].endswith(".request.url")
    assert (await client.get("_history")).json()["entry"] == before


async def test_request_headers_in_entries_must_be_strings(client: httpx.AsyncClient) -> None:
    for kind in ("transaction", "batch"):
        for header in ("ifMatch", "ifNoneExist"):
            doc = bundle(kind, entry("POST", "Patient", patient(), **{header: 1}))
            assert_outcome(
                await post(client, doc), 400, "invalid", [f"Bundle.entry[0].request.{header}"]
            )
    assert await all_ids(client, "Patient") == []


async def test_duplicate_targets_are_400(client: httpx.AsyncClient) -> None:
    doc = bundle(
        "transaction",
        entry("POST", "Patient", patient("New")),
        entry("PUT", "Patient/same", {**patient(), "id": "same"}),
        entry("DELETE", "Patient/same"),
    )
    assert_outcome(await post(client, doc), 400, "invalid", ["Bundle.entry[2].request.url"])
    assert await all_ids(client, "Patient") == []


async def test_patch_entries_in_a_batch(client: httpx.AsyncClient) -> None:
    await put_ok(client, {**patient("P", "0101010101"), "id": "p"})

    def binary(data: str) -> dict[str, Any]:
        return {
            "resourceType": "Binary",
            "contentType": "application/json-patch+json",
            "data": data,
        }

    ops = base64.b64encode(orjson.dumps([{"op": "add", "path": "/active", "value": True}]))
    fhirpath = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "add"},
                    {"name": "path", "valueString": "Patient"},
                    {"name": "name", "valueString": "gender"},
                    {"name": "value", "valueCode": "female"},
                ],
            }
        ],
    }
    resp = await post(
        client,
        bundle(
            "batch",
            entry("PATCH", "Patient/p", binary(ops.decode())),
            entry("PATCH", "Patient/p", fhirpath),
            entry("PATCH", "Patient/p", binary("not base64!")),
            entry("PATCH", "Patient/p", binary("YWJj" + "=" * 3)),
            entry("PATCH", "Patient/p", binary(base64.b64encode(b"[{").decode())),
        ),
    )
    out = resp.json()["entry"]
    assert [e["response"]["status"] for e in out] == [
        "200 OK",
        "200 OK",
        "400 Bad Request",
        "400 Bad Request",
        "400 Bad Request",
    ]
    assert out[2]["response"]["outcome"]["issue"][0]["expression"] == ["Binary.data"]
    final = (await client.get("Patient/p")).json()
    assert final["active"] is True
    assert final["gender"] == "female"
    assert final["meta"]["versionId"] == "3"


async def search_ids(client: httpx.AsyncClient, type_: str, **params: str) -> list[str]:
    found = (await client.get(type_, params=params)).json()
    return sorted(e["resource"]["id"] for e in found.get("entry", []))


async def test_transaction_indexes_references_as_resolved(client: httpx.AsyncClient) -> None:
    """The search index of each entry holds its references as finally resolved: to plain
    creates (known before the write lock), to conditional creates and by conditional
    reference (known only inside it)."""
    existing = await create(client, patient("Known", "0101010101"))
    out = await transaction(
        client,
        with_url(P1, entry("POST", "Patient", patient("Plain"))),
        with_url(
            P2,
            entry("POST", "Patient", patient("Dup"), ifNoneExist=f"identifier={CPR}|0101010101"),
        ),
        entry("POST", "Observation", minimal("Observation", subject={"reference": P1})),
        entry("POST", "Observation", minimal("Observation", subject={"reference": P2})),
        entry(
            "POST",
            "Observation",
            minimal("Observation", subject={"reference": f"Patient?identifier={CPR}|0101010101"}),
        ),
    )
    plain, _, to_plain, to_matched, by_criteria = (rid(e) for e in out["entry"])
    assert await search_ids(client, "Observation", subject=f"Patient/{plain}") == [to_plain]
    assert await search_ids(client, "Observation", subject=f"Patient/{existing['id']}") == sorted(
        [to_matched, by_criteria]
    )
    assert await search_ids(client, "Observation", subject=P2) == []
