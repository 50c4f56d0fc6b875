"""CORS for browser apps (issue 15 item 1), over HTTP on both stores: the FHIR API and the token
endpoints answer the origins of registered apps (their redirect and launch URIs) and
``FHIR_CORS_ORIGINS`` — preflight with ``Authorization`` allowed, ETag/Location/Content-Location
exposed — and nobody else; the CapabilityStatement says ``cors`` only when it is so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from auth.clients import Registration
from tests.smart.conftest import Smart, make_smart
from tests.smart.support import BACKEND_BASIC_SECRET, basic

APP = "http://localhost:9000"  # the registered apps' redirect and launch URIs' origin
PORTAL = "https://portal.example.dk"


@pytest.fixture
async def configured(backend: str, tmp_path: Path) -> AsyncIterator[Smart]:
    async for running in make_smart(backend, tmp_path, cors_origins=[PORTAL + "/"]):
        yield running


async def _bearer(smart: Smart) -> dict[str, str]:
    issued = await smart.token(
        {"grant_type": "client_credentials", "scope": "system/Patient.rs"},
        **basic("backend-basic", BACKEND_BASIC_SECRET),
    )
    assert issued.status_code == 200, issued.text
    return {"Authorization": f"Bearer {issued.json()['access_token']}"}


def _preflight(origin: str, method: str = "GET") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, if-match",
    }


async def test_preflight_and_reads_from_a_registered_apps_origin(smart: Smart) -> None:
    for path, method in (("Patient/p1", "GET"), ("Patient", "POST"), ("Patient/p1", "PUT")):
        resp = await smart.client.options(path, headers=_preflight(APP, method))
        assert resp.status_code == 204, (path, resp.text)
        assert resp.headers["access-control-allow-origin"] == APP
        assert method in resp.headers["access-control-allow-methods"]
        allowed = resp.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "if-match"} <= set(allowed.split(", "))
    read = await smart.client.get("Patient/p1", headers={"Origin": APP, **await _bearer(smart)})
    assert read.status_code == 200
    assert read.headers["access-control-allow-origin"] == APP
    exposed = read.headers["access-control-expose-headers"]
    assert {"ETag", "Location", "Content-Location"} <= set(exposed.split(", "))
    assert "Origin" in read.headers["vary"]
    refused = await smart.client.get("Patient/p1", headers={"Origin": APP})
    assert refused.status_code == 401  # the app can read why
    assert refused.headers["access-control-allow-origin"] == APP


async def test_other_origins_get_no_cors(smart: Smart) -> None:
    evil = "https://evil.example"
    resp = await smart.client.options("Patient/p1", headers=_preflight(evil))
    assert resp.status_code != 204 and "access-control-allow-origin" not in resp.headers
    read = await smart.client.get("Patient/p1", headers={"Origin": evil, **await _bearer(smart)})
    assert read.status_code == 200 and "access-control-allow-origin" not in read.headers
    token = await smart.client.options("auth/token", headers=_preflight(evil, "POST"))
    assert "access-control-allow-origin" not in token.headers


async def test_token_endpoints_preflight(smart: Smart) -> None:
    for endpoint in ("auth/token", "auth/introspect", "auth/revoke"):
        resp = await smart.client.options(endpoint, headers=_preflight(APP, "POST"))
        assert resp.status_code == 204, endpoint
        assert resp.headers["access-control-allow-origin"] == APP


async def test_configured_and_newly_registered_origins(configured: Smart) -> None:
    resp = await configured.client.options("Patient/p1", headers=_preflight(PORTAL))
    assert resp.status_code == 204 and resp.headers["access-control-allow-origin"] == PORTAL
    later = "https://later.example"
    assert (
        await configured.client.options("Patient", headers=_preflight(later))
    ).status_code != 204
    assert configured.server is not None
    await configured.server.clients.add(
        Registration("later", "public", redirect_uris=[f"{later}/cb"])
    )
    configured.app.origins.ttl = 0  # registrations are read again (every 5 s by default)
    resp = await configured.client.options("Patient", headers=_preflight(later))
    assert resp.status_code == 204 and resp.headers["access-control-allow-origin"] == later


async def test_capability_statement_says_cors_when_it_is(smart: Smart) -> None:
    statement = (await smart.client.get("metadata")).json()
    assert statement["rest"][0]["security"]["cors"] is True


@pytest.mark.parametrize(("origins", "expected"), [([], False), ([PORTAL], True)])
async def test_resource_server_cors_only_with_configured_origins(
    backend: str, tmp_path: Path, origins: list[str], expected: bool
) -> None:
    from fhir_server.app import ServerApp
    from fhir_server.config import Settings
    from tests.support.backends import app_store

    idp = "https://idp.example.dk"
    issuer = {"issuer": idp, "jwks_uri": f"{idp}/jwks", "authorization_endpoint": f"{idp}/auth",
              "token_endpoint": f"{idp}/token"}  # fmt: skip
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'rs.db'}",
        auth="resource-server",
        auth_issuers=[issuer],  # type: ignore[list-item]
        install_conformance=False,
        cors_origins=origins,
    )
    app = ServerApp(settings, store=app_store(backend))
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost/fhir/") as c:
            statement = (await c.get("metadata")).json()
            assert statement["rest"][0]["security"]["cors"] is expected
            resp = await c.options("Patient", headers=_preflight(PORTAL))
            assert (resp.status_code == 204) is expected
    finally:
        await app.shutdown()
