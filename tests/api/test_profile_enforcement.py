"""Writes are validated against the R4 definitions, the profiles a resource claims and the Danish
profile the server requires for its type; a refused write stores nothing. ``$validate`` answers
the same question without writing."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.api.conftest import MakeClient
from tests.api.support import assert_outcome, store_example_targets

EXAMPLES = Path(__file__).resolve().parents[2] / "profiles" / "examples"
DK_PATIENT = "http://hl7.dk/fhir/core/StructureDefinition/dk-core-patient"


def example(name: str) -> dict[str, Any]:
    return dict(orjson.loads((EXAMPLES / f"{name}.json").read_bytes()))


@pytest.fixture
async def danish(make_client: MakeClient) -> httpx.AsyncClient:
    """A server with the default settings: the Danish profiles required."""
    from fhir_server.config import Settings

    client = await make_client(required_profiles=Settings().required_profiles)
    await store_example_targets(client)
    return client


def without_profile(resource: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    out.pop("meta", None)
    out.pop("id", None)
    return out


async def count(client: httpx.AsyncClient, type_: str) -> int:
    return int((await client.get(type_, params={"_total": "accurate"})).json()["total"])


async def test_valid_danish_resources_are_stored(danish: httpx.AsyncClient) -> None:
    for name in (
        "dk-core-patient-valid-cpr",
        "dk-core-organization-valid-region",
        "dk-core-person-servicerequest-valid-preventive-visit",
    ):
        resource = example(name)
        resp = await danish.put(f"{resource['resourceType']}/{resource['id']}", json=resource)
        assert resp.status_code == 201, (name, resp.text)


@pytest.mark.parametrize(
    ("name", "code", "expression", "rule"),
    [
        (
            "dk-core-patient-invalid-dk-core-cpr-1",
            "invariant",
            "Patient.identifier",
            "dk-core-cpr-1",
        ),
        ("dk-core-patient-invalid-identifier-min", "required", "Patient.identifier", "at least 1"),
        ("dk-core-organization-invalid-dk-core-sor-1", "invariant", None, "dk-core-sor-1"),
        (
            "dk-core-person-servicerequest-invalid-priority-binding",
            "code-invalid",
            "ServiceRequest.priority",
            "'urgent'",
        ),
    ],
)
async def test_resources_breaking_their_profile_are_refused(
    danish: httpx.AsyncClient, name: str, code: str, expression: str | None, rule: str
) -> None:
    resource = example(name)
    type_ = resource["resourceType"]
    before = await count(danish, type_)  # the examples' targets (an Organization) are stored
    resp = await danish.post(type_, json=resource)
    body = assert_outcome(resp, 422, code)
    issue = body["issue"][0]
    assert rule in issue["diagnostics"]
    profile = resource["meta"]["profile"][0]
    assert profile in issue["diagnostics"]
    if expression is not None:
        assert issue["expression"][0].startswith(expression)
    assert await count(danish, type_) == before


async def test_required_profile_applies_without_meta_profile(danish: httpx.AsyncClient) -> None:
    bare = without_profile(example("dk-core-patient-valid-cpr"))
    assert (await danish.post("Patient", json=bare)).status_code == 201
    del bare["identifier"]
    body = assert_outcome(await danish.post("Patient", json=bare), 422, "required")
    assert DK_PATIENT in body["issue"][0]["diagnostics"]


async def test_base_rules_apply_to_every_type(client: httpx.AsyncClient) -> None:
    """No profile required (the test default): the R4 definitions still hold — they are the
    structural check, so a violation is a 400 (http.html: "failed basic FHIR validation")."""
    resp = await client.post(
        "CarePlan",
        json={
            "resourceType": "CarePlan",
            "status": "bogus",
            "intent": "plan",
            "subject": {"reference": "Patient/1"},
        },
    )
    assert_outcome(resp, 400, "code-invalid", ["CarePlan.status"])
    resp = await client.post("Organization", json={"resourceType": "Organization"})
    body = assert_outcome(resp, 400, "invariant")
    assert body["issue"][0]["diagnostics"].startswith("org-1")
    assert await count(client, "CarePlan") == 0


async def test_priority_stat_is_refused(danish: httpx.AsyncClient) -> None:
    request = example("dk-core-person-servicerequest-valid-preventive-visit")
    request["priority"] = "stat"  # a valid R4 priority, but not routine | asap
    body = assert_outcome(
        await danish.post("ServiceRequest", json=request),
        422,
        "code-invalid",
        ["ServiceRequest.priority"],
    )
    assert "dk-core-priority-codes" in body["issue"][0]["diagnostics"]


async def test_unknown_profile_is_refused_when_so_configured(make_client: MakeClient) -> None:
    """FHIR_UNKNOWN_PROFILES=refuse; by default it is accepted with a warning
    (tests/api/test_stored_profiles.py)."""
    client = await make_client(unknown_profiles="refuse")
    resource = {
        "resourceType": "Patient",
        "meta": {"profile": ["http://example.org/StructureDefinition/nobody-knows"]},
    }
    assert_outcome(
        await client.post("Patient", json=resource),
        422,
        "not-supported",
        ["Patient.meta.profile[0]"],
    )


async def test_transaction_entry_breaking_a_profile_fails_the_whole_bundle(
    danish: httpx.AsyncClient,
) -> None:
    good = without_profile(example("dk-core-patient-valid-cpr"))
    bad = example("dk-core-patient-invalid-dk-core-cpr-1")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": good, "request": {"method": "POST", "url": "Patient"}},
            {"resource": bad, "request": {"method": "POST", "url": "Patient"}},
        ],
    }
    body = assert_outcome(await danish.post("", json=bundle), 422, "invariant")
    assert body["issue"][0]["diagnostics"].startswith("Bundle.entry[1]")
    assert await count(danish, "Patient") == 0


# --- $validate ------------------------------------------------------------------------------


async def test_validate_operation(danish: httpx.AsyncClient) -> None:
    bad = example("dk-core-patient-invalid-dk-core-cpr-1")
    resp = await danish.post("Patient/$validate", json=bad)
    assert resp.status_code == 200
    issues = resp.json()["issue"]
    assert any(i["code"] == "invariant" and "dk-core-cpr-1" in i["diagnostics"] for i in issues)
    assert await count(danish, "Patient") == 0

    good = example("dk-core-patient-valid-cpr")
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": good},
            {"name": "mode", "valueCode": "create"},
            {"name": "profile", "valueUri": DK_PATIENT},
        ],
    }
    resp = await danish.post("Patient/$validate", json=params)
    assert resp.status_code == 200
    assert {i["severity"] for i in resp.json()["issue"]} == {"information"}

    # against another profile than the one required
    bare = without_profile(good)
    del bare["identifier"]
    resp = await danish.post(
        "Patient/$validate",
        json={
            "resourceType": "Parameters",
            "parameter": [
                {"name": "resource", "resource": bare},
                {"name": "profile", "valueUri": "http://hl7.org/fhir/StructureDefinition/Patient"},
            ],
        },
    )
    assert {i["severity"] for i in resp.json()["issue"]} <= {"information", "warning"}


async def test_validate_instance_modes(danish: httpx.AsyncClient) -> None:
    good = example("dk-core-patient-valid-cpr")
    assert (await danish.put(f"Patient/{good['id']}", json=good)).status_code == 201
    other = {**good, "id": "someone-else"}
    resp = await danish.post(
        f"Patient/{good['id']}/$validate",
        json={
            "resourceType": "Parameters",
            "parameter": [
                {"name": "resource", "resource": other},
                {"name": "mode", "valueCode": "update"},
            ],
        },
    )
    assert resp.status_code == 200
    assert [i["expression"] for i in resp.json()["issue"] if i["severity"] == "error"] == [
        ["Patient.id"]
    ]
    resp = await danish.get(f"Patient/{good['id']}/$validate", params={"mode": "delete"})
    assert resp.status_code == 200
    assert_outcome(
        await danish.get("Patient/nobody/$validate", params={"mode": "delete"}), 404, "not-found"
    )
    assert_outcome(
        await danish.post("Patient/$validate", params={"mode": "bogus"}, json=good),
        400,
        "invalid",
        ["mode"],
    )
    assert_outcome(await danish.get("Patient/$everything"), 400, "not-supported")


async def test_validate_reports_a_contained_resource_of_an_unknown_type(
    client: httpx.AsyncClient,
) -> None:
    """$validate answers as a write would: the contained resource is named."""
    body = {
        "resourceType": "Patient",
        "contained": [{"resourceType": "Unicorn", "id": "u"}],
        "extension": [{"url": "http://example.org/x", "valueReference": {"reference": "#u"}}],
    }
    assert (await client.post("Patient", json=body)).status_code == 400
    resp = await client.post("Patient/$validate", json=body)
    assert resp.status_code == 200
    errors = [i for i in resp.json()["issue"] if i["severity"] == "error"]
    assert [(i["code"], i["expression"]) for i in errors] == [
        ("structure", ["Patient.contained[0]"])
    ]


async def test_a_contained_resource_of_a_type_without_a_definition_is_refused(
    client: httpx.AsyncClient,
) -> None:
    """The server checks structure with the compiled R4 definitions only (every served type and
    those they reference): a resource of another type (Parameters, whose definition is not
    compiled) is refused, not stored unchecked; $validate says the same."""
    body = {
        "resourceType": "Patient",
        "contained": [{"resourceType": "Parameters", "id": "l"}],
        "extension": [{"url": "http://example.org/x", "valueReference": {"reference": "#l"}}],
    }
    assert_outcome(
        await client.post("Patient", json=body), 400, "not-supported", ["Patient.contained[0]"]
    )
    resp = await client.post("Patient/$validate", json=body)
    assert resp.status_code == 200
    errors = [i for i in resp.json()["issue"] if i["severity"] == "error"]
    assert [(i["code"], i["expression"]) for i in errors] == [
        ("not-supported", ["Patient.contained[0]"])
    ]
    # a contained Medication has a definition: it is checked and stored
    body["contained"] = [{"resourceType": "Medication", "id": "l", "status": "active"}]
    assert (await client.post("Patient", json=body)).status_code == 201
