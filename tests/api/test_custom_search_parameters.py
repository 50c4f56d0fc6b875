"""SearchParameter resources posted to the server take effect: on new writes at once, on
resources written before once the background reindex is done; ones the server could not
search with are refused, naming the element."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.support import app_of, assert_outcome, create, patient

COLOUR = "http://example.org/fhir/StructureDefinition/favourite-colour"


def colour_param(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "SearchParameter",
        "url": "http://example.org/fhir/SearchParameter/patient-colour",
        "name": "PatientColour",
        "status": "active",
        "description": "The colour a patient likes best",
        "code": "colour",
        "base": ["Patient"],
        "type": "token",
        "expression": f"Patient.extension.where(url = '{COLOUR}').value",
        **extra,
    }


def coloured(family: str, colour: str) -> dict[str, Any]:
    return patient(family, extension=[{"url": COLOUR, "valueCode": colour}])


async def ids(client: httpx.AsyncClient, query: str) -> list[str]:
    resp = await client.get(query)
    assert resp.status_code == 200, resp.text
    return sorted(e["resource"]["id"] for e in resp.json().get("entry", []))


async def test_posted_parameter_takes_effect(client: httpx.AsyncClient) -> None:
    before = await create(client, coloured("Before", "blue"))
    assert_outcome(await client.get("Patient?colour=blue"), 400, "invalid", ["colour"])

    param = await create(client, colour_param())
    await app_of(client).services.custom.reindexed()
    after = await create(client, coloured("After", "blue"))
    await create(client, coloured("Other", "green"))
    assert await ids(client, "Patient?colour=blue") == sorted([before["id"], after["id"]])
    assert await ids(client, "Patient?colour:not=blue&family=other") != []

    cs = (await client.get("metadata")).json()
    (patient_cs,) = [r for r in cs["rest"][0]["resource"] if r["type"] == "Patient"]
    listed = {p["name"]: p for p in patient_cs["searchParam"]}
    assert listed["colour"] == {"name": "colour", "definition": param["url"], "type": "token"}

    # retired: no longer a parameter
    resp = await client.put(f"SearchParameter/{param['id']}", json={**param, "status": "retired"})
    assert resp.status_code == 200, resp.text
    assert_outcome(await client.get("Patient?colour=blue"), 400, "invalid", ["colour"])


async def test_deleted_parameter_is_unknown_again(client: httpx.AsyncClient) -> None:
    param = await create(client, colour_param())
    await create(client, coloured("A", "red"))
    assert len(await ids(client, "Patient?colour=red")) == 1
    assert (await client.delete(f"SearchParameter/{param['id']}")).status_code in (200, 204)
    assert_outcome(await client.get("Patient?colour=red"), 400, "invalid", ["colour"])


async def test_parameter_in_a_transaction(client: httpx.AsyncClient) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": colour_param(), "request": {"method": "POST", "url": "SearchParameter"}},
            {"resource": coloured("T", "teal"), "request": {"method": "POST", "url": "Patient"}},
        ],
    }
    resp = await client.post("", json=bundle)
    assert resp.status_code == 200, resp.text
    await app_of(
        client
    ).services.custom.reindexed()  # the Patient was indexed before the parameter was known
    made = resp.json()["entry"][1]["response"]["location"].split("/")[1]
    assert await ids(client, "Patient?colour=teal") == [made]


async def test_parameters_the_server_cannot_search_with_are_refused(
    client: httpx.AsyncClient,
) -> None:
    cases = [
        ({"expression": "Patient.name.where("}, "SearchParameter.expression"),
        ({"expression": "Patient.name.shoeSize()"}, "SearchParameter.expression"),
        ({"expression": None}, "SearchParameter.expression"),
        ({"base": ["Patient", "Spaceship"]}, "SearchParameter.base[1]"),  # R4's binding
        ({"type": "composite"}, "SearchParameter.type"),
        ({"type": "special"}, "SearchParameter.type"),
        ({"code": "family"}, "SearchParameter.code"),
        ({"code": "_colour"}, "SearchParameter.code"),
        ({"code": "col our"}, "SearchParameter.code"),
    ]
    for change, where in cases:
        body = {k: v for k, v in colour_param(**change).items() if v is not None}
        resp = await client.post("SearchParameter", json=body)
        code = "code-invalid" if change.get("base") else "invalid"
        assert_outcome(resp, 400, code, [where])
    await create(client, colour_param())
    other = colour_param(url="http://example.org/fhir/SearchParameter/another-colour")
    resp = await client.post("SearchParameter", json=other)
    assert_outcome(resp, 400, "invalid", ["SearchParameter.code"])
    assert len((await client.get("SearchParameter")).json()["entry"]) == 1
