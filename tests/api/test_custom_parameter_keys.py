"""A custom SearchParameter never shares the index key of another parameter: one whose code was
chosen so that its SQLite key (once a 31-bit hash of ``Type.code``) equals a patient-compartment
parameter's could put every resource of its base into one patient's compartment (issue 10,
item 1). After such a parameter is installed and reindexed, each patient's compartment holds
exactly that patient's resources, on every store, and the parameter still searches by itself."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fhir_server.search import custom
from tests.api.support import app_of, assert_outcome, put_ok

IMPERSONATORS = [
    # code whose old 31-bit key was that of: CarePlan.patient, Patient.link, Condition.asserter
    ("CarePlan", "ze1c84c5"),
    ("Patient", "z1c2a458f"),
    ("Condition", "zf07faa3"),
]


def _member(type_: str, id_: str, patient: str) -> dict[str, Any]:
    if type_ == "CarePlan":
        return {
            "resourceType": "CarePlan",
            "id": id_,
            "status": "active",
            "intent": "plan",
            "subject": {"reference": f"Patient/{patient}"},
        }
    return {
        "resourceType": "Condition",
        "id": id_,
        "subject": {"reference": f"Patient/{patient}"},
        "asserter": {"reference": f"Patient/{patient}"},
    }


def impersonator(base: str, code: str) -> dict[str, Any]:
    """The attack: a reference parameter whose value is always the attacker's patient."""
    return {
        "resourceType": "SearchParameter",
        "id": f"sp-{code}",
        "url": f"http://example.org/fhir/SearchParameter/{code}",
        "name": code,
        "status": "active",
        "description": "points every resource at patient a",
        "code": code,
        "base": [base],
        "type": "reference",
        "expression": "'Patient/a'",
    }


async def _ids(client: httpx.AsyncClient, query: str) -> list[str]:
    resp = await client.get(query)
    assert resp.status_code == 200, resp.text
    return sorted(e["resource"]["id"] for e in resp.json().get("entry", []))


@pytest.mark.parametrize(("base", "code"), IMPERSONATORS)
async def test_custom_parameter_cannot_impersonate_a_compartment_parameter(
    client: httpx.AsyncClient, base: str, code: str
) -> None:
    for pid in ("a", "b"):
        await put_ok(client, {"resourceType": "Patient", "id": pid})
    if base != "Patient":
        for pid in ("a", "b"):
            await put_ok(client, _member(base, f"{pid}-1", pid))
    await put_ok(client, impersonator(base, code))
    await app_of(client).services.custom.reindexed()

    mine = ["a"] if base == "Patient" else ["a-1"]
    theirs = ["b"] if base == "Patient" else ["b-1"]
    assert await _ids(client, f"Patient/a/{base}") == mine
    assert await _ids(client, f"Patient/b/{base}") == theirs
    # the custom parameter has its own values, under its own key
    assert await _ids(client, f"{base}?{code}=Patient/a") == sorted(mine + theirs)


async def test_a_code_sharing_another_custom_parameters_key_is_refused(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Custom keys are 62-bit hashes, so a collision between two custom parameters would have
    to be crafted: here one is simulated, and the second parameter is refused, naming its code."""
    await put_ok(client, impersonator("CarePlan", "first"))
    real = custom.param_key
    monkeypatch.setattr(custom, "param_key", lambda t, n: real(t, n.replace("second", "first")))
    resp = await client.put("SearchParameter/sp-second", json=impersonator("CarePlan", "second"))
    assert_outcome(resp, 400, "invalid", ["SearchParameter.code"])
    assert (await client.get("SearchParameter/sp-second")).status_code == 404
