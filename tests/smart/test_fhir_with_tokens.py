"""End to end: tokens the embedded authorization server issues open exactly what their scopes
and launch context allow on the FHIR API, and stop working once revoked."""

from __future__ import annotations

import httpx

from tests.smart.conftest import Smart
from tests.smart.support import BACKEND_BASIC_SECRET, REDIRECT, Authorization, basic


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_backend_service_token_on_the_fhir_api(smart: Smart) -> None:
    resp = await smart.token(
        {"grant_type": "client_credentials", "scope": "system/Patient.rs"},
        **basic("backend-basic", BACKEND_BASIC_SECRET),
    )
    assert resp.status_code == 200, resp.text
    token = resp.json()["access_token"]
    api = smart.client
    assert (await api.get("Patient/p1", headers=bearer(token))).status_code == 200
    found = (await api.get("Patient", headers=bearer(token))).json()
    assert sorted(e["resource"]["id"] for e in found["entry"]) == ["p1", "p2"]
    assert (await api.get("Encounter/e1", headers=bearer(token))).status_code == 403
    new = {"resourceType": "Patient", "name": [{"family": "Ny"}]}
    assert (await api.post("Patient", json=new, headers=bearer(token))).status_code == 403

    anonymous = await api.get("Patient/p1")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")

    revoked = await api.post(
        "auth/revoke",
        data={"token": token},
        headers=basic("backend-basic", BACKEND_BASIC_SECRET),
    )
    assert revoked.status_code == 200
    assert (await api.get("Patient/p1", headers=bearer(token))).status_code == 401


async def test_citizen_token_opens_only_their_own_record(smart: Smart) -> None:
    auth = Authorization("public-app", "launch/patient openid fhirUser patient/*.rs")
    params = await smart.browser.code(auth, "citizen")
    resp = await smart.token(
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT,
            "client_id": "public-app",
            "code_verifier": auth.verifier,
        }
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["patient"] == "p1"
    token = body["access_token"]
    api: httpx.AsyncClient = smart.client
    assert (await api.get("Patient/p1", headers=bearer(token))).status_code == 200
    assert (await api.get("Patient/p2", headers=bearer(token))).status_code == 404
    encounters = (await api.get("Encounter", headers=bearer(token))).json()
    assert [e["resource"]["id"] for e in encounters["entry"]] == ["e1"]
    write = await api.put(
        "Patient/p1",
        json={"resourceType": "Patient", "id": "p1", "active": True},
        headers=bearer(token),
    )
    assert write.status_code == 403  # patient/*.rs: read and search only
