"""Writes under consent (issue 12 items 2 and 5): a write needs a care relationship, except the
writes that create one — a referral to another organization gives that organization one, a
Patient created by a clinician gives the creator's organization one — and conditional
create/update/delete/patch, in a batch or transaction or alone, never signal that a hidden
resource exists. Who manages a citizen's consents: the citizen from 15, a parent with custody
before. Each test writes, so each gets a fresh world."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.auth.conftest import Server, bearer, mint
from tests.consent.support import get, indistinguishable
from tests.consent.world import ADMIN, NEVER, TEST_ID, careplan, consent, period, ref

pytestmark = pytest.mark.consent_pending

WRITER = "openid fhirUser user/*.cruds"
OTHER = mint(WRITER, fhirUser="Practitioner/other-doc")
"""No relationship with anyone (Herlev)."""
OTHER2 = mint(WRITER, fhirUser="Practitioner/other-doc2")
"""other-doc's colleague at the same hospital."""
NURSE = mint(WRITER, fhirUser="PractitionerRole/nurse-role")
"""Home nursing, related to anna."""
REHAB = mint(WRITER, fhirUser="Practitioner/rehab-doc")
"""The municipal rehabilitation centre: no relationship until a referral."""
CITIZEN_WRITER = "openid fhirUser patient/*.rs patient/Consent.cruds"
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


@pytest.mark.parametrize(
    "method,body,headers",
    [
        ("PUT", "obs", {}),
        ("DELETE", None, {}),
        ("PATCH", PATCH, JSON_PATCH),
    ],
    ids=["update", "delete", "patch"],
)
@writers
async def test_conditional_writes_do_not_reveal_a_hidden_match(
    fresh_world: Server, method: str, body: Any, headers: dict[str, str], token: str, strict: bool
) -> None:
    """``?identifier=`` matching a resource the caller may not see answers exactly as one
    matching nothing, and changes nothing."""
    url = f"Observation?identifier={TEST_ID}|{{}}"
    hidden_body = _obs(None, "obs-anna") if body == "obs" else body
    never_body = _obs(None, f"{NEVER}-0") if body == "obs" else body
    hidden = await send(fresh_world, method, url.format("obs-anna"), token, hidden_body, **headers)
    never = await send(fresh_world, method, url.format(f"{NEVER}-0"), token, never_body, **headers)
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
@pytest.mark.parametrize("kind", ["batch", "transaction"])
async def test_conditional_entries_in_bundles(
    fresh_world: Server, kind: str, token: str, strict: bool
) -> None:
    def bundle(value: str) -> dict[str, Any]:
        url = f"Observation?identifier={TEST_ID}|{value}"
        return {
            "resourceType": "Bundle",
            "type": kind,
            "entry": [
                {"request": {"method": "PUT", "url": url}, "resource": _obs(None, value)},
                {"request": {"method": "DELETE", "url": url}},
            ][: 1 if kind == "transaction" else 2],
        }

    hidden = await send(fresh_world, "POST", "", token, bundle("obs-anna"))
    never = await send(fresh_world, "POST", "", token, bundle(f"{NEVER}-0"))
    indistinguishable(hidden, never, SWAP, strict)
    await _untouched(fresh_world)


def _block(pid: str, by: str) -> dict[str, Any]:
    out = consent(
        "x",
        pid,
        "block",
        {
            "type": "deny",
            "period": period("2024-01-01"),
            "actor": [{"role": {"text": "x"}, "reference": ref("Practitioner/gp-doc")}],
        },
        by=by,
    )
    del out["id"]
    return out


WHO_MANAGES = [
    pytest.param("Patient/gustav", "gustav", True, id="gustav (16) himself"),
    pytest.param("Patient/hanne", "hanne", True, id="hanne (15 today) herself"),
    pytest.param("Patient/ida", "ida", False, id="ida (15 tomorrow) herself"),
    pytest.param("Patient/emil", "emil", False, id="emil (10) himself"),
    pytest.param("RelatedPerson/mor-emil", "emil", True, id="emil's mother (custody)"),
    pytest.param("RelatedPerson/far-emil", "emil", False, id="emil's father (no custody)"),
    pytest.param("RelatedPerson/mor-gustav", "gustav", False, id="gustav's mother (he is 16)"),
    pytest.param("RelatedPerson/mor-ida", "ida", True, id="ida's mother (ida is 14)"),
    pytest.param("RelatedPerson/far-hanne", "hanne", False, id="hanne's father (hanne is 15)"),
]


@pytest.mark.parametrize("fhir_user,pid,allowed", WHO_MANAGES)
async def test_who_manages_a_citizens_consents(
    fresh_world: Server, fhir_user: str, pid: str, allowed: bool
) -> None:
    """The citizen manages their own consents from 15; a parent with custody before that."""
    token = mint(CITIZEN_WRITER, fhirUser=fhir_user, patient=pid)
    before = await count(fresh_world, f"Consent?patient={pid}")
    resp = await send(fresh_world, "POST", "Consent", token, _block(pid, fhir_user))
    after = await count(fresh_world, f"Consent?patient={pid}")
    if allowed:
        assert resp.status_code == 201, resp.text[:300]
        assert after == before + 1
    else:
        _refused(resp)
        assert after == before
