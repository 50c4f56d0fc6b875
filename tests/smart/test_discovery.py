"""Inferno "SMART on FHIR Discovery" (STU2.2): the well-known configuration, CORS on the public
discovery endpoints, the OpenID configuration and JWKS, the CapabilityStatement's security."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from tests.smart.conftest import Smart, make_smart
from tests.smart.support import BASE

REQUIRED = {
    "issuer": str,
    "jwks_uri": str,
    "authorization_endpoint": str,
    "token_endpoint": str,
    "introspection_endpoint": str,
    "revocation_endpoint": str,
    "grant_types_supported": list,
    "token_endpoint_auth_methods_supported": list,
    "token_endpoint_auth_signing_alg_values_supported": list,
    "scopes_supported": list,
    "response_types_supported": list,
    "code_challenge_methods_supported": list,
    "capabilities": list,
}
CAPABILITIES = {
    "launch-ehr", "launch-standalone", "authorize-post", "client-public",
    "client-confidential-symmetric", "client-confidential-asymmetric", "sso-openid-connect",
    "context-ehr-patient", "context-ehr-encounter", "context-standalone-patient",
    "context-banner", "context-style", "permission-offline", "permission-patient",
    "permission-user", "permission-v1", "permission-v2",
}  # fmt: skip


@pytest.mark.parametrize("accept", ["application/json", "text/html", "application/fhir+xml", "*/*"])
async def test_smart_configuration_is_json_with_every_field(smart: Smart, accept: str) -> None:
    resp = await smart.client.get(".well-known/smart-configuration", headers={"Accept": accept})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    config = resp.json()
    for name, kind in REQUIRED.items():
        assert isinstance(config[name], kind), name
    assert config["issuer"] == BASE
    assert config["jwks_uri"] == f"{BASE}/.well-known/jwks.json"
    assert config["authorization_endpoint"] == f"{BASE}/auth/authorize"
    assert config["token_endpoint"] == f"{BASE}/auth/token"
    assert config["introspection_endpoint"] == f"{BASE}/auth/introspect"
    assert config["revocation_endpoint"] == f"{BASE}/auth/revoke"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert set(config["grant_types_supported"]) == {
        "authorization_code", "refresh_token", "client_credentials"
    }  # fmt: skip
    assert set(config["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "private_key_jwt"
    }  # fmt: skip
    assert config["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert config["response_types_supported"] == ["code"]
    assert set(config["capabilities"]) >= CAPABILITIES
    assert {"openid", "fhirUser", "launch", "launch/patient", "offline_access"} <= set(
        config["scopes_supported"]
    )


async def test_discovery_follows_a_trusted_request_host(backend: str, tmp_path: Path) -> None:
    async for smart in make_smart(backend, tmp_path, allowed_hosts=["fhir.example.dk"]):
        resp = await smart.client.get(
            ".well-known/smart-configuration", headers={"Host": "fhir.example.dk"}
        )
        assert resp.json()["token_endpoint"] == "http://fhir.example.dk/fhir/auth/token"
        untrusted = {"Host": "other.example.dk"}
        resp = await smart.client.get(".well-known/smart-configuration", headers=untrusted)
        assert resp.status_code == 400  # tests/smart/test_host_and_headers.py


@pytest.mark.parametrize("path", [".well-known/smart-configuration", "metadata"])
async def test_public_discovery_allows_any_origin(smart: Smart, path: str) -> None:
    resp = await smart.client.get(path, headers={"Origin": "https://inferno.example"})
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "*"
    preflight = await smart.client.options(
        path,
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "GET",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "GET" in preflight.headers["access-control-allow-methods"]


async def test_openid_configuration_and_jwks(smart: Smart) -> None:
    resp = await smart.client.get(".well-known/openid-configuration")
    assert resp.status_code == 200
    config = resp.json()
    for name in (
        "issuer", "authorization_endpoint", "token_endpoint", "jwks_uri",
        "response_types_supported", "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ):  # fmt: skip
        assert config[name], name
    assert config["issuer"] == BASE
    assert "RS256" in config["id_token_signing_alg_values_supported"]
    jwks = await smart.jwks()
    [key] = jwks["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert "d" not in key and "p" not in key  # public parts only


async def test_capability_statement_names_smart_and_the_oauth_uris(smart: Smart) -> None:
    resp = await smart.client.get("metadata")
    assert resp.status_code == 200
    security = resp.json()["rest"][0]["security"]
    assert security["cors"] is True
    coding = security["service"][0]["coding"][0]
    assert coding == {
        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
        "code": "SMART-on-FHIR",
    }
    [oauth] = security["extension"]
    assert oauth["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    uris = {e["url"]: e["valueUri"] for e in oauth["extension"]}
    assert uris == {
        "authorize": f"{BASE}/auth/authorize",
        "token": f"{BASE}/auth/token",
        "introspect": f"{BASE}/auth/introspect",
        "revoke": f"{BASE}/auth/revoke",
    }


async def _client(tmp_path: Path, **settings: object) -> tuple[ServerApp, httpx.AsyncClient]:
    app = ServerApp(
        Settings(store_url=f"sqlite:///{tmp_path / 'x.db'}", install_conformance=False, **settings)
    )
    await app.startup()
    return app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


async def test_with_authorization_off_there_is_nothing_to_discover(tmp_path: Path) -> None:
    app, client = await _client(tmp_path, auth="off")
    try:
        async with client:
            assert (await client.get(".well-known/smart-configuration")).status_code == 404
            assert (await client.get("auth/token")).status_code == 404
            assert "security" not in (await client.get("metadata")).json()["rest"][0]
    finally:
        await app.shutdown()


async def test_resource_server_mode_publishes_the_external_issuers_endpoints(
    tmp_path: Path,
) -> None:
    issuer = {
        "issuer": "https://idp.example.dk",
        "jwks_uri": "https://idp.example.dk/jwks",
        "authorization_endpoint": "https://idp.example.dk/authorize",
        "token_endpoint": "https://idp.example.dk/token",
    }
    app, client = await _client(tmp_path, auth="resource-server", auth_issuers=[issuer])
    try:
        async with client:
            config = (await client.get(".well-known/smart-configuration")).json()
            assert config["issuer"] == "https://idp.example.dk"
            assert config["token_endpoint"] == "https://idp.example.dk/token"
            assert (await client.get("auth/authorize")).status_code == 404  # no embedded login
            security = (await client.get("metadata")).json()["rest"][0]["security"]
            uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
            assert uris == {
                "authorize": "https://idp.example.dk/authorize",
                "token": "https://idp.example.dk/token",
            }
    finally:
        await app.shutdown()


def test_smart_is_the_default_and_issuers_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FHIR_AUTH", raising=False)
    assert Settings().auth == "smart"
    monkeypatch.setenv("FHIR_AUTH", "resource-server")
    monkeypatch.setenv(
        "FHIR_AUTH_ISSUERS",
        '[{"issuer": "https://idp.example.dk", "jwks_uri": "https://idp.example.dk/jwks",'
        ' "claims": {"fhir_user": "fhir_user_ref", "patient": "pid"}}]',
    )
    settings = Settings()
    [issuer] = settings.auth_issuers
    assert issuer.claims.fhir_user == "fhir_user_ref" and issuer.claims.patient == "pid"
    assert issuer.claims.scope == "scope" and issuer.audience is None
    assert issuer.algorithms == ["RS256", "RS384", "ES256", "ES384"]


async def test_authorization_off_is_announced_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app, client = await _client(tmp_path, auth="off")
    await client.aclose()
    await app.shutdown()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("AUTHORIZATION IS SWITCHED OFF" in w for w in warnings)
