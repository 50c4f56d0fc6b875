"""``FHIR_AUTH=resource-server``: tokens of an external identity provider, verified by the JWKS
it publishes (fetched over HTTP from a local server here) and mapped to our claims."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from tests.api.support import BASE
from tests.support.backends import BACKENDS, app_store

IDP_KEY = RSAKey.generate_key(2048, parameters={"kid": "idp-1"}, private=True)
ISSUER = "https://idp.example.dk/realms/health"


class _Jwks(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"keys": [IDP_KEY.as_dict(private=False)]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def jwks_uri() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/jwks"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
async def client(jwks_uri: str, tmp_path: Path) -> httpx.AsyncClient:
    issuers = [
        {
            "issuer": ISSUER,
            "jwks_uri": jwks_uri,
            "audience": "fhir-api",
            "claims": {"client_id": "azp", "scope": "scp", "fhir_user": "fhir_user"},
        }
    ]
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'fhir.db'}",
        auth="resource-server",
        auth_issuers=issuers,
        required_profiles={},
        install_conformance=False,
    )
    app = ServerApp(settings)
    await app.startup()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        yield c
    await app.shutdown()


def idp_token(**claims: object) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": "fhir-api", "sub": "u1", "azp": "portal", "exp": now + 300}
    return jwt.encode({"alg": "RS256", "kid": "idp-1"}, {**payload, **claims}, IDP_KEY)


async def test_mapped_claims_grant_access(client: httpx.AsyncClient) -> None:
    token = idp_token(scp=["system/Patient.cruds"])
    headers = {"Authorization": f"Bearer {token}"}
    created = await client.put(
        "Patient/x", json={"resourceType": "Patient", "id": "x"}, headers=headers
    )
    assert created.status_code == 201
    denied = await client.get("CarePlan", headers=headers)
    assert denied.status_code == 403


async def test_other_issuers_and_audiences_are_refused(client: httpx.AsyncClient) -> None:
    for token in (
        idp_token(scp=["system/Patient.rs"], aud=BASE),  # this issuer's tokens name "fhir-api"
        idp_token(scp=["system/Patient.rs"], iss="https://other.example.dk"),
    ):
        resp = await client.get("Patient", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401


# ---- fhirUser: normalized once, and a user/ scope of an unknown kind of user grants nothing --


@pytest.fixture(params=BACKENDS)
async def seeded(
    request: pytest.FixtureRequest, jwks_uri: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, ServerApp]]:
    """An app in resource-server mode on each store, holding two patients' CarePlans."""
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'fhir.db'}",
        auth="resource-server",
        auth_issuers=[{"issuer": ISSUER, "jwks_uri": jwks_uri, "audience": "fhir-api"}],
        required_profiles={},
        install_conformance=False,
    )
    app = ServerApp(settings, app_store(str(request.param)))
    await app.startup()
    admin = _auth(idp_token(scope="system/*.cruds"))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
            for resource in SEED:
                url = f"{resource['resourceType']}/{resource['id']}"
                assert (await c.put(url, json=resource, headers=admin)).status_code == 201
            yield c, app
    finally:
        await app.shutdown()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _plan(id_: str, patient: str) -> dict[str, object]:
    return {
        "resourceType": "CarePlan",
        "id": id_,
        "status": "active",
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient}"},
    }


GP = {"reference": "Organization/clinic"}
SEED: list[dict[str, Any]] = [
    # doc is a GP (ydernummer) both patients are listed with: a care relationship with each
    {"resourceType": "Organization", "id": "clinic",
     "identifier": [{"system": "urn:oid:1.2.208.176.1.4", "value": "012345"}]},
    {"resourceType": "Patient", "id": "p1", "generalPractitioner": [GP]},
    {"resourceType": "Patient", "id": "p2", "generalPractitioner": [GP]},
    {"resourceType": "Practitioner", "id": "doc"},
    {"resourceType": "PractitionerRole", "id": "doc-gp", "active": True,
     "practitioner": {"reference": "Practitioner/doc"},
     "organization": {"reference": "Organization/clinic"}},
    _plan("cp1", "p1"),
    _plan("cp2", "p2"),
]  # fmt: skip


def _ids(resp: httpx.Response) -> list[str]:
    assert resp.status_code == 200, resp.text
    return sorted(e["resource"]["id"] for e in resp.json().get("entry", []))


async def test_an_absolute_fhir_user_is_normalized(
    seeded: tuple[httpx.AsyncClient, ServerApp],
) -> None:
    """SMART's usual absolute ``fhirUser`` of a citizen: still a citizen (it made them a
    clinician with every patient's data before)."""
    client, app = seeded
    token = idp_token(scope="user/*.cruds", fhirUser=f"{BASE}/Patient/p1")
    principal = await app.fhir.authenticator.authenticate(f"Bearer {token}", BASE)
    assert (principal.fhir_user, principal.patient) == ("Patient/p1", "p1")
    assert _ids(await client.get("CarePlan", headers=_auth(token))) == ["cp1"]
    assert (await client.get("CarePlan/cp2", headers=_auth(token))).status_code == 404
    anothers = {k: v for k, v in _plan("x", "p2").items() if k != "id"}
    refused = await client.post("CarePlan", json=anothers, headers=_auth(token))
    assert refused.status_code == 403
    doctor = idp_token(scope="user/*.rs", fhirUser=f"{BASE}/Practitioner/doc")
    assert _ids(await client.get("CarePlan", headers=_auth(doctor))) == ["cp1", "cp2"]


@pytest.mark.parametrize(
    "fhir_user",
    [
        None,  # missing
        "",
        "nonsense",
        "Patient",
        "Device/d1",  # not a kind of user
        "Patient/p1/_history/1",
        "https://other.example.dk/fhir/Patient/p1",  # a resource on another server
        ["Patient/p1"],  # not a string
    ],
)
async def test_user_scopes_of_an_unknown_user_grant_nothing(
    seeded: tuple[httpx.AsyncClient, ServerApp], fhir_user: object
) -> None:
    client, app = seeded
    claims = {} if fhir_user is None else {"fhirUser": fhir_user}
    token = idp_token(scope="user/*.cruds", **claims)
    principal = await app.fhir.authenticator.authenticate(f"Bearer {token}", BASE)
    assert principal.fhir_user is None
    for url in ("CarePlan", "CarePlan/cp2", "Patient/p2"):
        resp = await client.get(url, headers=_auth(token))
        assert resp.status_code == 403, (url, resp.text)
        assert resp.json()["issue"][0]["code"] == "forbidden"
    made = await client.post("Patient", json={"resourceType": "Patient"}, headers=_auth(token))
    assert made.status_code == 403
