"""Composite search parameters over HTTP on both stores, as data changes: an update replaces a
resource's composite index rows, a delete removes them, and a bad value is a 400 naming the
parameter (search.html#composite)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.support import assert_outcome

LOINC = "http://loinc.org"
SYSTOLIC = "component-code-value-quantity"


def _bp(systolic: float, diastolic: float) -> dict[str, Any]:
    def component(code: str, value: float) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org", "code": "mm"},
        }

    return {
        "resourceType": "Observation",
        "id": "bp",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "component": [component("8480-6", systolic), component("8462-4", diastolic)],
    }


async def _ids(client: httpx.AsyncClient, params: list[tuple[str, str]]) -> list[str]:
    resp = await client.get("Observation", params=params)
    assert resp.status_code == 200, resp.text
    return [e["resource"]["id"] for e in resp.json().get("entry", [])]


async def test_composite_index_follows_updates_and_deletes(client: httpx.AsyncClient) -> None:
    assert (await client.put("Observation/bp", json=_bp(150, 95))).status_code == 201
    high = [(SYSTOLIC, f"{LOINC}|8480-6$gt140")]
    assert await _ids(client, high) == ["bp"]
    assert await _ids(client, [(SYSTOLIC, "8462-4$gt140")]) == []

    assert (await client.put("Observation/bp", json=_bp(125, 150))).status_code == 200
    assert await _ids(client, high) == []  # the diastolic is above 140 now, not the systolic
    assert await _ids(client, [(SYSTOLIC, "8462-4$gt140")]) == ["bp"]
    assert await _ids(client, [(SYSTOLIC, "8480-6$125")]) == ["bp"]
    assert await _ids(client, [(f"{SYSTOLIC}:missing", "false")]) == ["bp"]

    assert (await client.delete("Observation/bp")).status_code in (200, 204)
    assert await _ids(client, [(SYSTOLIC, "8480-6$125")]) == []
    assert await _ids(client, [(f"{SYSTOLIC}:missing", "false")]) == []


async def test_composite_in_a_transaction_and_post_search(client: httpx.AsyncClient) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": _bp(118, 76),
                "request": {"method": "PUT", "url": "Observation/bp"},
            }
        ],
    }
    assert (await client.post("", json=bundle)).status_code == 200
    resp = await client.post("Observation/_search", data={SYSTOLIC: "8480-6$lt120,8480-6$gt200"})
    assert [e["resource"]["id"] for e in resp.json()["entry"]] == ["bp"]


async def test_bad_composite_values_are_refused(client: httpx.AsyncClient) -> None:
    for value in ("8480-6", "8480-6$1$2", "8480-6$zz120", "$120"):
        resp = await client.get("Observation", params={SYSTOLIC: value})
        body = assert_outcome(resp, 400, "invalid", [SYSTOLIC])
        assert SYSTOLIC in body["issue"][0]["diagnostics"]
    resp = await client.get("Observation", params={f"{SYSTOLIC}:text": "8480-6$1"})
    assert_outcome(resp, 400, "invalid", [f"{SYSTOLIC}:text"])
