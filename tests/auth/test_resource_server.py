"""``FHIR_AUTH=resource-server``: tokens of an external identity provider, verified by the JWKS
it publishes (fetched over HTTP from a local server here) and mapped to our claims."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from tests.api.support import BASE

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
            "claims": {"client_id": "azp", "scope": "scp", "fhirUser": "fhir_user"},
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
