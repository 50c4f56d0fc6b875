"""Referential integrity on write (issue 14 item 5; ``FHIR_REFERENTIAL_INTEGRITY``, on by
default): a local reference must name a live resource (400 naming the element, nothing written),
a resource others reference cannot be deleted (409 naming them), conditional references and
``urn:uuid:`` in transactions keep working. Real HTTP on every store of the matrix."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import MakeClient
from tests.api.support import BASE, CPR, assert_outcome, create, patient


def _careplan(subject: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": subject},
        **extra,
    }


async def _count(client: httpx.AsyncClient, type_: str) -> int:
    found = (await client.get(type_, params={"_summary": "count"})).json()
    return int(found["total"])


async def test_create_with_a_reference_to_nothing_is_400_naming_the_element(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.post("CarePlan", json=_careplan("Patient/nobody"))
    body = assert_outcome(resp, 400, "processing", ["CarePlan.subject"])
    assert "Patient/nobody" in body["issue"][0]["diagnostics"]
    assert await _count(client, "CarePlan") == 0


async def test_every_dangling_element_is_named_with_its_path(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    plan = _careplan(
        f"Patient/{made['id']}",
        careTeam=[{"reference": "CareTeam/a"}, {"reference": f"{BASE}/CareTeam/b"}],
    )
    body = assert_outcome(await client.post("CarePlan", json=plan), 400, "processing")
    assert [i["expression"] for i in body["issue"]] == [
        ["CarePlan.careTeam[0]"],
        ["CarePlan.careTeam[1]"],
    ]


async def test_a_reference_to_a_live_resource_is_stored(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    resp = await client.post("CarePlan", json=_careplan(f"Patient/{made['id']}"))
    assert resp.status_code == 201, resp.text
    # an absolute URL under this server's base names a local resource too
    resp = await client.post("CarePlan", json=_careplan(f"{BASE}/Patient/{made['id']}"))
    assert resp.status_code == 201, resp.text


async def test_unchecked_kinds_of_reference(client: httpx.AsyncClient) -> None:
    """Contained, logical (identifier only), other servers' URLs and canonicals name nothing
    this server must hold."""
    made = await create(client, patient())
    plan = _careplan(
        f"Patient/{made['id']}",
        contained=[{"resourceType": "Goal", "id": "g", **_goal("#x")}],
        goal=[{"reference": "#g"}],
        author={"identifier": {"system": "urn:oid:1.2.208.176.1.1", "value": "123"}},
        careTeam=[{"reference": "https://elsewhere.example/fhir/CareTeam/1"}],
        instantiatesCanonical=["http://example.org/PlanDefinition/nothing-here"],
    )
    plan["contained"][0]["subject"] = {"reference": f"Patient/{made['id']}"}
    resp = await client.post("CarePlan", json=plan)
    assert resp.status_code == 201, resp.text


def _goal(subject: str) -> dict[str, Any]:
    return {
        "lifecycleStatus": "active",
        "description": {"text": "walk"},
        "subject": {"reference": subject},
    }


async def test_a_reference_to_a_deleted_resource_is_400(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    assert (await client.delete(f"Patient/{made['id']}")).status_code == 204
    resp = await client.post("CarePlan", json=_careplan(f"Patient/{made['id']}"))
    assert_outcome(resp, 400, "processing", ["CarePlan.subject"])


async def test_update_and_patch_are_checked(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    plan = await create(client, _careplan(f"Patient/{made['id']}"))
    changed = {**plan, "subject": {"reference": "Patient/nobody"}}
    resp = await client.put(f"CarePlan/{plan['id']}", json=changed)
    assert_outcome(resp, 400, "processing", ["CarePlan.subject"])
    ops = [{"op": "replace", "path": "/subject/reference", "value": "Patient/nobody"}]
    resp = await client.patch(
        f"CarePlan/{plan['id']}",
        json=ops,
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert_outcome(resp, 400, "processing", ["CarePlan.subject"])
    current = await client.get(f"CarePlan/{plan['id']}")
    assert current.headers["etag"] == 'W/"1"'  # nothing written
    assert current.json()["subject"] == {"reference": f"Patient/{made['id']}"}


async def test_a_transaction_with_a_dangling_reference_writes_nothing(
    client: httpx.AsyncClient,
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:7b0c7e0e-5b8e-4a52-9d55-1a2b3c4d5e6f",
                "resource": patient("Jensen"),
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": _careplan("Patient/nobody"),
                "request": {"method": "POST", "url": "CarePlan"},
            },
        ],
    }
    resp = await client.post("", json=bundle)
    body = assert_outcome(resp, 400, "processing", ["Bundle.entry[1].resource.subject"])
    assert body["issue"][0]["diagnostics"].startswith("Bundle.entry[1]")
    assert await _count(client, "Patient") == 0


async def test_urn_uuid_and_conditional_references_in_a_transaction_still_resolve(
    client: httpx.AsyncClient,
) -> None:
    await create(client, patient("Holm", "0101010101"))
    urn = "urn:uuid:2f1e0c36-0a43-4f8e-b2a5-7d0e7c1b9a11"
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            # the CarePlan comes first and references the Patient created after it
            {
                "resource": _careplan(
                    urn, author={"reference": f"Patient?identifier={CPR}|0101010101"}
                ),
                "request": {"method": "POST", "url": "CarePlan"},
            },
            {
                "fullUrl": urn,
                "resource": patient("Jensen"),
                "request": {"method": "POST", "url": "Patient"},
            },
        ],
    }
    resp = await client.post("", json=bundle)
    assert resp.status_code == 200, resp.text
    assert [e["response"]["status"][:3] for e in resp.json()["entry"]] == ["201", "201"]


async def test_delete_of_a_referenced_resource_is_409_naming_the_referrers(
    client: httpx.AsyncClient,
) -> None:
    made = await create(client, patient())
    plan = await create(client, _careplan(f"Patient/{made['id']}"))
    resp = await client.delete(f"Patient/{made['id']}")
    body = assert_outcome(resp, 409, "processing", [f"Patient/{made['id']}"])
    assert f"CarePlan/{plan['id']}" in body["issue"][0]["diagnostics"]
    assert (await client.get(f"Patient/{made['id']}")).status_code == 200
    # once the referrer is gone (its past versions count for nothing), the delete goes ahead
    assert (await client.delete(f"CarePlan/{plan['id']}")).status_code == 204
    assert (await client.delete(f"Patient/{made['id']}")).status_code == 204


async def test_a_transaction_may_delete_a_resource_and_its_referrers_together(
    client: httpx.AsyncClient,
) -> None:
    made = await create(client, patient())
    plan = await create(client, _careplan(f"Patient/{made['id']}"))
    entries = [
        {"request": {"method": "DELETE", "url": f"Patient/{made['id']}"}},
        {"request": {"method": "DELETE", "url": f"CarePlan/{plan['id']}"}},
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    resp = await client.post("", json=bundle)
    assert resp.status_code == 200, resp.text
    # alone, the Patient's delete is refused and names its entry
    other = await create(client, patient())
    await create(client, _careplan(f"Patient/{other['id']}"))
    bundle["entry"] = [{"request": {"method": "DELETE", "url": f"Patient/{other['id']}"}}]
    resp = await client.post("", json=bundle)
    body = assert_outcome(resp, 409, "processing", ["Bundle.entry[0]"])
    assert body["issue"][0]["diagnostics"].startswith("Bundle.entry[0]")


async def test_a_batch_refuses_only_the_dangling_entry(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "resource": _careplan("Patient/nobody"),
                "request": {"method": "POST", "url": "CarePlan"},
            },
            {
                "resource": _careplan(f"Patient/{made['id']}"),
                "request": {"method": "POST", "url": "CarePlan"},
            },
        ],
    }
    resp = await client.post("", json=bundle)
    assert resp.status_code == 200, resp.text
    statuses = [e["response"]["status"][:3] for e in resp.json()["entry"]]
    assert statuses == ["400", "201"]


async def test_the_setting_off_checks_nothing(make_client: MakeClient) -> None:
    client = await make_client(referential_integrity=False)
    resp = await client.post("CarePlan", json=_careplan("Patient/nobody"))
    assert resp.status_code == 201, resp.text
    made = await create(client, patient())
    await create(client, _careplan(f"Patient/{made['id']}"))
    assert (await client.delete(f"Patient/{made['id']}")).status_code == 204
    statement = (await client.get("metadata")).json()
    policy = statement["rest"][0]["resource"][0]["referencePolicy"]
    assert "enforced" not in policy


async def test_the_capability_statement_declares_the_policy(client: httpx.AsyncClient) -> None:
    statement = (await client.get("metadata")).json()
    for resource in statement["rest"][0]["resource"]:
        assert resource["referencePolicy"] == ["literal", "logical", "local", "enforced"]
