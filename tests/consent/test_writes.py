"""Writes under consent (issue 12 items 2 and 5): a write needs a care relationship, except the
writes that create one — a referral to another organization gives that organization one, a
Patient created by a clinician gives the creator's organization one — and conditional
create/update/delete/patch, in a batch or transaction or alone, never signal that a hidden
resource exists. Each test
writes, so each gets a fresh world."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.auth.conftest import Server, bearer, mint
from tests.consent.support import get, indistinguishable
from tests.consent.world import ADMIN, NEVER, TEST_ID, careplan, ref

WRITER = "openid fhirUser user/*.cruds"
OTHER = mint(WRITER, fhirUser="Practitioner/other-doc")
"""No relationship with anyone (Herlev)."""
OTHER2 = mint(WRITER, fhirUser="Practitioner/other-doc2")
"""other-doc's colleague at the same hospital."""
NURSE = mint(WRITER, fhirUser="PractitionerRole/nurse-role")
"""Home nursing, related to anna."""
REHAB = mint(WRITER, fhirUser="Practitioner/rehab-doc")
"""The municipal rehabilitation centre: no relationship until a referral."""
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
REVOKE = [{"op": "replace", "path": "/status", "value": "revoked"}]


async def send(
    server: Server, method: str, url: str, token: str, body: Any = None, **headers: str
) -> httpx.Response:
    return await server.client.request(method, url, headers={**bearer(token), **headers}, json=body)


async def count(server: Server, url: str) -> int:
    resp = await get(server, f"{url}&_summary=count", ADMIN)
    assert resp.status_code == 200, resp.text[:300]
    return int(resp.json()["total"])


def _refused(resp: httpx.Response) -> None:
    assert resp.status_code in (403, 404, 422), resp.text[:300]
    assert resp.json()["resourceType"] == "OperationOutcome"


async def test_a_write_needs_a_relationship(fresh_world: Server) -> None:
    """A clinician without a relationship cannot write a CarePlan for a citizen — refused just
    as for a citizen that never existed; the related home nurse can."""
    hidden = await send(fresh_world, "POST", "CarePlan", OTHER, careplan("x", "anna"))
    never = await send(fresh_world, "POST", "CarePlan", OTHER, careplan("x", NEVER))
    _refused(hidden)
    assert hidden.status_code == never.status_code
    assert hidden.json()["issue"][0]["code"] == never.json()["issue"][0]["code"]
    assert await count(fresh_world, "CarePlan?patient=anna") == 1
    for method in ("PUT", "DELETE", "PATCH"):
        bodies = {
            "PUT": (careplan("cp-anna", "anna", "revoked"), careplan(NEVER, "anna", "revoked")),
            "PATCH": (REVOKE, REVOKE),
        }
        hidden_body, never_body = bodies.get(method, (None, None))
        headers = JSON_PATCH if method == "PATCH" else {}
        hidden = await send(fresh_world, method, "CarePlan/cp-anna", OTHER, hidden_body, **headers)
        never = await send(fresh_world, method, f"CarePlan/{NEVER}", OTHER, never_body, **headers)
        indistinguishable(hidden, never, {"cp-anna": NEVER})
    kept = await get(fresh_world, "CarePlan/cp-anna", ADMIN)
    assert kept.json()["meta"]["versionId"] == "1"
    made = await send(fresh_world, "POST", "CarePlan", NURSE, careplan("x", "anna"))
    assert made.status_code == 201, made.text[:300]


async def test_a_referral_gives_the_receiving_organization_a_relationship(
    fresh_world: Server,
) -> None:
    """The nurse refers anna to rehabilitation: the centre's doctor may now see her, until the
    request is completed."""
    assert (await get(fresh_world, "Patient/anna", REHAB)).status_code == 404
    referral = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": ref("Patient/anna"),
        "requester": ref("PractitionerRole/nurse-role"),
        "performer": [ref("Organization/kom-rehab")],
    }
    made = await send(fresh_world, "POST", "ServiceRequest", NURSE, referral)
    assert made.status_code == 201, made.text[:300]
    sr = made.json()["id"]
    assert (await get(fresh_world, "Patient/anna", REHAB)).status_code == 200
    assert (await get(fresh_world, "CarePlan/cp-anna", REHAB)).status_code == 200
    done = {**made.json(), "status": "completed"}
    resp = await send(fresh_world, "PUT", f"ServiceRequest/{sr}", NURSE, done)
    assert resp.status_code == 200, resp.text[:300]
    assert (await get(fresh_world, "Patient/anna", REHAB)).status_code == 404


async def test_creating_a_patient_gives_the_creators_organization_a_relationship(
    fresh_world: Server,
) -> None:
    patient = {"resourceType": "Patient", "birthDate": "1990-01-01", "name": [{"family": "Ny"}]}
    made = await send(fresh_world, "POST", "Patient", OTHER, patient)
    assert made.status_code == 201, made.text[:300]
    pid = made.json()["id"]
    assert (await get(fresh_world, f"Patient/{pid}", OTHER)).status_code == 200
    assert (await get(fresh_world, f"Patient/{pid}", OTHER2)).status_code == 200
    assert (await get(fresh_world, f"Patient/{pid}", NURSE)).status_code == 404
    plan = await send(fresh_world, "POST", "CarePlan", OTHER, careplan("x", pid))
    assert plan.status_code == 201, plan.text[:300]
    assert (await send(fresh_world, "POST", "CarePlan", NURSE, careplan("x", pid))).status_code in (
        403,
        404,
        422,
    )


def _obs(id_: str | None, identifier: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [{"system": TEST_ID, "value": identifier}],
        "status": "amended",
        "code": {"text": "pulse"},
        "subject": ref("Patient/anna"),
    }
    return {**out, "id": id_} if id_ else out


async def _untouched(server: Server) -> None:
    resp = await get(server, "Observation/obs-anna", ADMIN)
    assert resp.status_code == 200 and resp.json()["meta"]["versionId"] == "1", resp.text[:300]
    assert resp.json()["status"] == "final"


SWAP = {"obs-anna": f"{NEVER}-0"}
WRITERS = [  # (token, strict): who may not see obs-anna, as in test_leaks.CASES
    pytest.param(OTHER, True, id="no relationship"),
    pytest.param(mint(WRITER, fhirUser="Practitioner/ward-doc2"), False, id="blocked clinician"),
    pytest.param(mint(WRITER, fhirUser="PractitionerRole/ppr-role"), True, id="non-health"),
]
writers = pytest.mark.parametrize("token,strict", WRITERS)
PATCH = [{"op": "replace", "path": "/status", "value": "amended"}]


CONDITIONAL = [("PUT", "obs", {}), ("DELETE", None, {}), ("PATCH", PATCH, JSON_PATCH)]


@writers
async def test_conditional_writes_do_not_reveal_a_hidden_match(
    fresh_world: Server, token: str, strict: bool
) -> None:
    """Conditional update, delete and patch with ``?identifier=`` matching a resource the
    caller may not see answer exactly as when matching nothing, and change nothing."""
    url = f"Observation?identifier={TEST_ID}|{{}}"
    for method, body, headers in CONDITIONAL:
        hidden_body = _obs(None, "obs-anna") if body == "obs" else body
        never_body = _obs(None, f"{NEVER}-0") if body == "obs" else body
        hidden = await send(
            fresh_world, method, url.format("obs-anna"), token, hidden_body, **headers
        )
        never = await send(
            fresh_world, method, url.format(f"{NEVER}-0"), token, never_body, **headers
        )
        indistinguishable(hidden, never, SWAP, strict)
        await _untouched(fresh_world)


async def test_conditional_create_does_not_reveal_a_hidden_match(fresh_world: Server) -> None:
    """``If-None-Exist`` matching a hidden Patient creates (or refuses) exactly as matching
    nothing: it never answers with the hidden one."""
    body = {"resourceType": "Patient", "name": [{"family": "Ny"}]}
    answers = []
    for value in ("anna", NEVER):
        resp = await send(
            fresh_world,
            "POST",
            "Patient",
            OTHER,
            body,
            **{"If-None-Exist": f"identifier={TEST_ID}|{value}"},
        )
        answers.append(resp)
    hidden, never = answers
    assert hidden.status_code == never.status_code, hidden.text[:300]
    assert sorted(hidden.headers) == sorted(never.headers)
    if hidden.content:
        a, b = hidden.json(), never.json()
        for doc in (a, b):
            doc.pop("id", None), doc.pop("meta", None)
        assert a == b and a.get("id") != "anna"
    assert (await get(fresh_world, "Patient/anna", ADMIN)).json()["meta"]["versionId"] == "1"


@writers
async def test_conditional_entries_in_bundles(
    fresh_world: Server, token: str, strict: bool
) -> None:
    """The same inside a batch (update and delete entries) and a transaction."""

    def bundle(kind: str, value: str) -> dict[str, Any]:
        url = f"Observation?identifier={TEST_ID}|{value}"
        return {
            "resourceType": "Bundle",
            "type": kind,
            "entry": [
                {"request": {"method": "PUT", "url": url}, "resource": _obs(None, value)},
                {"request": {"method": "DELETE", "url": url}},
            ][: 1 if kind == "transaction" else 2],
        }

    for kind in ("batch", "transaction"):
        hidden = await send(fresh_world, "POST", "", token, bundle(kind, "obs-anna"))
        never = await send(fresh_world, "POST", "", token, bundle(kind, f"{NEVER}-0"))
        indistinguishable(hidden, never, SWAP, strict)
        await _untouched(fresh_world)
