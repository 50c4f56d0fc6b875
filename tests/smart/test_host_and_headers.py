"""Absolute URLs follow only Host headers the server is configured for, and every page under
``/fhir/auth`` carries headers that stop sniffing, framing, caching, referrer leaks and any
script or foreign form target."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from tests.smart.conftest import Smart
from tests.smart.support import BASE, Authorization, form_value
from tests.support.backends import app_store

SCOPE = "launch/patient openid fhirUser patient/*.rs"
EVIL = {"Host": "evil.example"}


async def test_an_untrusted_host_does_not_choose_the_login_forms_action(smart: Smart) -> None:
    transport = httpx.ASGITransport(app=smart.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://localhost/fhir") as tls:
        params = {**Authorization("public-app", SCOPE).params(), "aud": "https://localhost/fhir"}
        good = await tls.get("auth/authorize", params=params)
        assert good.status_code == 200 and 'action="https://localhost/fhir/auth/login"' in good.text
        evil = {**params, "aud": "https://evil.example/fhir"}
        page = await tls.get("auth/authorize", params=evil, headers=EVIL)
    assert page.status_code == 400
    assert "evil.example" not in page.text
    assert page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "path", [".well-known/smart-configuration", ".well-known/openid-configuration", "auth/token"]
)
async def test_an_untrusted_host_is_refused_on_the_oauth_endpoints(smart: Smart, path: str) -> None:
    method = "POST" if path == "auth/token" else "GET"
    data = {"grant_type": "client_credentials"} if method == "POST" else None
    resp = await smart.client.request(method, path, data=data, headers=EVIL)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"
    assert "evil.example" not in resp.text


@pytest.mark.parametrize("path", ["metadata", "Patient/p1", "Patient?_id=p1"])
async def test_an_untrusted_host_is_refused_on_the_fhir_api(smart: Smart, path: str) -> None:
    resp = await smart.client.get(path, headers=EVIL)
    assert resp.status_code == 400
    outcome = resp.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "FHIR_ALLOWED_HOSTS" in outcome["issue"][0]["diagnostics"]


@asynccontextmanager
async def reached_at(
    backend: str, tmp_path: Path, url: str, **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    """A server reached at ``url`` (the ASGI ``server`` address is its host and port)."""
    db = tmp_path / f"fhir-{uuid.uuid4().hex[:8]}.db"
    settings = Settings(
        store_url=f"sqlite:///{db}", install_conformance=False, required_profiles={}, **overrides
    )
    app = ServerApp(settings, store=app_store(backend))
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=url) as client:
            yield client
    finally:
        await app.shutdown()


async def test_host_localhost_on_a_public_address_is_not_taken_as_local(
    backend: str, tmp_path: Path
) -> None:
    async with reached_at(backend, tmp_path, "http://203.0.113.5:8080/fhir") as client:
        token = await client.post(
            "auth/token", data={"grant_type": "client_credentials"}, headers={"Host": "localhost"}
        )
        assert token.status_code == 400 and token.json()["error"] == "invalid_request"
        direct = await client.post("auth/token", data={"grant_type": "client_credentials"})
        assert direct.json()["error"] == "insecure_transport"  # the real address: not loopback
        found = await client.get(".well-known/smart-configuration")
        assert found.json()["token_endpoint"] == "http://203.0.113.5:8080/fhir/auth/token"


async def test_loopback_names_are_trusted_on_a_loopback_connection(
    backend: str, tmp_path: Path
) -> None:
    async with reached_at(backend, tmp_path, "http://127.0.0.1:8080/fhir") as client:
        found = await client.get(
            ".well-known/smart-configuration", headers={"Host": "localhost:9000"}
        )
        assert found.json()["token_endpoint"] == "http://localhost:9000/fhir/auth/token"


async def test_allowed_hosts_are_trusted(backend: str, tmp_path: Path) -> None:
    allowed = ["fhir.example.dk", "intern.example.dk:8443"]
    async with reached_at(backend, tmp_path, BASE, allowed_hosts=allowed) as client:
        for host in ("fhir.example.dk", "FHIR.example.dk:8080", "intern.example.dk:8443"):
            resp = await client.get(".well-known/smart-configuration", headers={"Host": host})
            assert resp.json()["token_endpoint"] == f"http://{host}/fhir/auth/token"
        other_port = await client.get("metadata", headers={"Host": "intern.example.dk:9999"})
        assert other_port.status_code == 400


async def test_a_configured_base_ignores_the_host_header(backend: str, tmp_path: Path) -> None:
    base = "https://fhir.example.dk/fhir"
    async with reached_at(backend, tmp_path, BASE, base_url=base) as client:
        resp = await client.get(".well-known/smart-configuration", headers=EVIL)
        assert resp.json()["token_endpoint"] == f"{base}/auth/token"
        meta = await client.get("metadata", headers=EVIL)
        assert meta.status_code == 200 and meta.json()["implementation"]["url"] == base


async def test_an_unset_base_url_is_announced_at_start(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "fhir_server")
    async with reached_at(backend, tmp_path, BASE):
        pass
    assert "FHIR_BASE_URL is unset" in caplog.text
    caplog.clear()
    async with reached_at(backend, tmp_path, BASE, base_url="https://fhir.example.dk/fhir"):
        pass
    assert "FHIR_BASE_URL is unset" not in caplog.text


# --- headers -------------------------------------------------------------------------------------


def assert_page_headers(resp: httpx.Response, redirect_origin: str | None = None) -> None:
    assert resp.headers["content-type"].startswith("text/html")
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["referrer-policy"] == "no-referrer"
    assert resp.headers["cache-control"] == "no-store"
    directives = [
        d.strip().partition(" ") for d in resp.headers["content-security-policy"].split(";")
    ]
    policy = {name: value for name, _, value in directives}
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["style-src"].startswith("'sha256-")  # the page's own style element only
    assert "script-src" not in policy and "unsafe-inline" not in str(policy)
    targets = policy["form-action"].split()
    assert targets[0] == "'self'" and targets[1:] == ([redirect_origin] if redirect_origin else [])


async def test_every_page_carries_the_security_headers(smart: Smart) -> None:
    app = "http://localhost:9000"  # the app's registered redirect URI's origin
    login = await smart.browser.start(Authorization("public-app", SCOPE))
    assert_page_headers(login, app)
    wrong = await smart.browser.login(login, "doctor", "wrong password")
    assert_page_headers(wrong, app)
    picker = await smart.browser.login(login, "doctor")
    assert 'type="radio"' in picker.text
    assert_page_headers(picker, app)
    approval = await smart.browser.pick(picker, "p2")
    assert 'name="decision"' in approval.text
    assert_page_headers(approval, app)
    done = await smart.browser.approve(approval)
    assert done.status_code == 302
    assert done.headers["referrer-policy"] == "no-referrer"
    assert done.headers["x-content-type-options"] == "nosniff"
    expired = await smart.client.post(
        "auth/login", data={"request": form_value(login.text, "request")}
    )
    assert expired.status_code == 400
    assert_page_headers(expired)
    error = await smart.client.get("auth/authorize", params={"client_id": "nobody"})
    assert error.status_code == 400
    assert_page_headers(error)


async def test_json_answers_are_not_sniffed(smart: Smart) -> None:
    for resp in (
        await smart.client.get(".well-known/smart-configuration"),
        await smart.client.get(".well-known/jwks.json"),
        await smart.client.post("auth/token", data={"grant_type": "client_credentials"}),
        await smart.client.get("metadata"),
        await smart.client.get("Patient/p1"),  # 401: no token
        await smart.client.get("Patient?_id=p1"),
    ):
        assert resp.headers["x-content-type-options"] == "nosniff", resp.request.url


async def test_fhir_reads_are_not_sniffed(backend: str, tmp_path: Path) -> None:
    async with reached_at(backend, tmp_path, BASE, auth="off") as client:
        created = await client.put("Patient/p1", json={"resourceType": "Patient", "id": "p1"})
        assert created.status_code == 201
        for path in ("Patient/p1", "Patient?_id=p1", "Patient/none"):
            resp = await client.get(path)
            assert resp.headers["x-content-type-options"] == "nosniff", path


async def test_an_untrusted_host_is_refused_on_the_openapi_description(smart: Smart) -> None:
    """/openapi.json names the FHIR base in `servers`: an untrusted Host is 400 there too."""
    resp = await smart.client.get("/openapi.json", headers=EVIL)
    assert resp.status_code == 400
    assert resp.json()["resourceType"] == "OperationOutcome"
    assert "evil.example" not in resp.text
