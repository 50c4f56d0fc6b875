"""Every interaction with and without the scope it needs (the SMART v2 letters: c create,
r read/vread/instance history, u update/patch, d delete, s search and type/system history):
403 ``forbidden`` when the token lacks it, the usual answer when it has it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.auth.conftest import Server, ids, issue, mint

DOC = {"fhirUser": "Practitioner/doc"}
CAREPLAN = {
    "resourceType": "CarePlan",
    "status": "active",
    "intent": "plan",
    "subject": {"reference": "Patient/p1"},
}


def token(scope: str) -> str:
    return mint(scope, **DOC)


async def _forbidden(resp: Any, expression: str = "CarePlan") -> None:
    assert resp.status_code == 403, resp.text
    found = issue(resp)
    assert found["code"] == "forbidden"
    assert found["expression"] == [expression]


@pytest.mark.parametrize(
    ("url", "needs"),
    [
        ("CarePlan/cp1", "r"),
        ("CarePlan/cp1/_history/1", "r"),
        ("CarePlan/cp1/_history", "r"),
        ("CarePlan", "s"),
        ("CarePlan/_history", "s"),
        ("Patient/p1/CarePlan", "s"),
    ],
)
async def test_reads_need_their_letter(server: Server, url: str, needs: str) -> None:
    other = "s" if needs == "r" else "r"
    await _forbidden(await server.get(url, token(f"user/CarePlan.{other}")))
    await _forbidden(await server.get(url, token("user/Patient.rs user/Observation.cruds")))
    resp = await server.get(url, token(f"user/CarePlan.{needs}"))
    assert resp.status_code == 200, resp.text
    v1 = await server.get(url, token("user/CarePlan.read"))
    assert v1.status_code == 200


async def test_search_by_post(server: Server) -> None:
    resp = await server.client.post(
        "CarePlan/_search",
        content="status=active",
        headers={
            "Authorization": f"Bearer {token('user/CarePlan.r')}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    await _forbidden(resp)


async def test_create(server: Server) -> None:
    await _forbidden(await server.send("POST", "CarePlan", token("user/CarePlan.rus"), CAREPLAN))
    resp = await server.send("POST", "CarePlan", token("user/CarePlan.c"), CAREPLAN)
    assert resp.status_code == 201
    v1 = await server.send("POST", "CarePlan", token("user/CarePlan.write"), CAREPLAN)
    assert v1.status_code == 201


async def test_update_and_patch(server: Server) -> None:
    body = {**CAREPLAN, "id": "cp1", "status": "completed"}
    refused = await server.send("PUT", "CarePlan/cp1", token("user/CarePlan.crds"), body)
    await _forbidden(refused, "CarePlan/cp1")  # it may create CarePlans, not update this one
    resp = await server.send("PUT", "CarePlan/cp1", token("user/CarePlan.u"), body)
    assert resp.status_code == 200 and resp.json()["status"] == "completed"
    patch = [{"op": "replace", "path": "/status", "value": "revoked"}]
    headers = {"Content-Type": "application/json-patch+json"}
    await _forbidden(
        await server.send("PATCH", "CarePlan/cp1", token("user/CarePlan.crds"), patch, **headers)
    )
    resp = await server.send("PATCH", "CarePlan/cp1", token("user/CarePlan.u"), patch, **headers)
    assert resp.status_code == 200 and resp.json()["status"] == "revoked"


async def test_update_as_create_needs_create(server: Server) -> None:
    body = {**CAREPLAN, "id": "new-plan"}
    platform = mint("system/CarePlan.u")  # a backend acting for no organization or person
    resp = await server.send("PUT", "CarePlan/new-plan", platform, body)
    await _forbidden(resp, "CarePlan/new-plan")
    admin = mint("system/*.cruds")
    assert (await server.get("CarePlan/new-plan", admin)).status_code == 404  # rolled back
    # a clinician never chooses the id of a citizen's data: whether it is taken is a secret
    # (the citizen's data it may not see), so update-as-create is 405 whatever the scopes
    resp = await server.send("PUT", "CarePlan/new-plan", token("user/CarePlan.cu"), body)
    assert resp.status_code == 405, resp.text
    resp = await server.send("PUT", "CarePlan/new-plan", mint("system/CarePlan.cu"), body)
    assert resp.status_code == 201


async def test_delete(server: Server) -> None:
    await _forbidden(await server.send("DELETE", "CarePlan/cp1", token("user/CarePlan.cru")))
    assert (
        await server.send("DELETE", "CarePlan/cp1", token("user/CarePlan.d"))
    ).status_code == 204
    assert (await server.get("CarePlan/cp1", token("user/CarePlan.r"))).status_code == 410


async def test_conditional_interactions(server: Server) -> None:
    create = await server.send(
        "POST", "CarePlan", token("user/CarePlan.c"), CAREPLAN, **{"If-None-Exist": "_id=cp1"}
    )
    # the token may not see cp1, so for it nothing matches: a new plan is created
    assert create.status_code == 201 and create.json()["id"] != "cp1"
    seen = await server.send(
        "POST", "CarePlan", token("user/CarePlan.crs"), CAREPLAN, **{"If-None-Exist": "_id=cp1"}
    )
    assert seen.status_code == 200 and seen.json()["id"] == "cp1"
    await _forbidden(await server.send("DELETE", "CarePlan?_id=cp1", token("user/CarePlan.rs")))
    gone = await server.send("DELETE", "CarePlan?_id=cp1", token("user/CarePlan.d"))
    assert gone.status_code == 204


async def test_system_search_covers_only_permitted_types(server: Server) -> None:
    resp = await server.get("?_id=cp1,p1,lab1", token("user/CarePlan.s user/Patient.r"))
    assert resp.status_code == 200
    assert ids(resp.json()) == ["CarePlan/cp1"]
    resp = await server.get("?_type=Patient&_id=p1", token("user/CarePlan.s"))
    await _forbidden(resp, "Patient")
    resp = await server.get("?_id=p1", token("user/CarePlan.r"))
    await _forbidden(resp, "Resource")


async def test_system_history_leaves_out_other_types(server: Server) -> None:
    resp = await server.get("_history", token("user/Patient.s"))
    assert resp.status_code == 200
    assert {e["fullUrl"].split("/")[-2] for e in resp.json()["entry"]} == {"Patient"}
    await _forbidden(await server.get("_history", token("user/Patient.r")), "Resource")


async def test_batch_entries_fail_alone(server: Server) -> None:
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": "Patient/p1"}},
            {"request": {"method": "GET", "url": "CarePlan/cp1"}},
            {
                "request": {"method": "POST", "url": "Patient"},
                "resource": {"resourceType": "Patient"},
            },
        ],
    }
    resp = await server.send("POST", "", token("user/Patient.rs"), batch)
    assert resp.status_code == 200
    entries = resp.json()["entry"]
    assert [e["response"]["status"] for e in entries] == [
        "200 OK",
        "403 Forbidden",
        "403 Forbidden",
    ]
    assert entries[1]["response"]["outcome"]["issue"][0]["code"] == "forbidden"


async def test_a_transaction_fails_whole(server: Server) -> None:
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:7f1c7a94-3f4e-4a1f-9d1d-8b1b7c2f0a11",
                "request": {"method": "POST", "url": "Patient"},
                "resource": {"resourceType": "Patient", "identifier": [{"value": "tx-1"}]},
            },
            {"request": {"method": "POST", "url": "CarePlan"}, "resource": CAREPLAN},
        ],
    }
    resp = await server.send("POST", "", token("user/Patient.cruds"), transaction)
    assert resp.status_code == 403
    found = issue(resp)
    assert found["code"] == "forbidden" and found["diagnostics"].startswith("Bundle.entry[1]")
    after = await server.get("Patient?identifier=tx-1", token("user/Patient.rs"))
    assert ids(after.json()) == []  # the Patient entry was rolled back with the rest
    ok = await server.send("POST", "", token("user/Patient.c user/CarePlan.c"), transaction)
    assert ok.status_code == 200


async def test_validate_needs_read_or_create(server: Server) -> None:
    body = {"resourceType": "CarePlan", "status": "active", "intent": "plan"}
    await _forbidden(
        await server.send("POST", "CarePlan/$validate", token("user/CarePlan.ds"), body)
    )
    for scope in ("user/CarePlan.r", "user/CarePlan.c", "user/CarePlan.u"):
        resp = await server.send("POST", "CarePlan/$validate", token(scope), body)
        assert resp.status_code == 200, scope


async def test_terminology_needs_read_on_the_terminology_type(server: Server) -> None:
    url = "ValueSet/$expand?url=http://hl7.org/fhir/ValueSet/administrative-gender"
    await _forbidden(await server.get(url, token("user/CodeSystem.rs user/Patient.rs")), "ValueSet")
    resp = await server.get(url, token("user/ValueSet.r"))
    assert resp.status_code == 200 and resp.json()["resourceType"] == "ValueSet"
    lookup = "CodeSystem/$lookup?system=http://hl7.org/fhir/administrative-gender&code=male"
    await _forbidden(await server.get(lookup, token("user/ValueSet.rs")), "CodeSystem")
    assert (await server.get(lookup, token("user/CodeSystem.read"))).status_code == 200
