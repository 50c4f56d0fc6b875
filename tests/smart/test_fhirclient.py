"""A standalone launch by a real SMART client library — PyPI ``fhirclient`` — against the server
running under uvicorn on loopback: the library reads the CapabilityStatement's ``oauth-uris``,
builds the authorization URL (PKCE S256, state, aud), a person walks the login and approval
pages, and the library exchanges the code and refreshes the token."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from fhirclient import client as smart_client

from auth.clients import Registration
from auth.storage import auth_store_for
from auth.users import Users
from fhir_server.app import ServerApp
from fhir_server.config import Settings
from fhir_server.store.factory import make_store
from tests.smart.conftest import seed
from tests.smart.support import PASSWORD, REDIRECT, SECRET, checked_scopes, decode, form_value


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _prepare(settings: Settings) -> None:
    store = make_store(settings)
    await store.open()
    records = auth_store_for(store)
    await records.open()
    try:
        await seed(store)
        from auth.clients import Clients

        app = {"redirect_uris": [REDIRECT]}
        await Clients(records).add(Registration("py-public", "public", **app))
        await Clients(records).add(
            Registration("py-confidential", "confidential-symmetric", secret=SECRET, **app)
        )
        await Users(records).add("citizen", "Patient/p1", PASSWORD)
    finally:
        await records.close()
        await store.close()


@pytest.fixture
def live_base(tmp_path: Path) -> Iterator[str]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / f'{uuid.uuid4().hex[:8]}.db'}",
        auth="smart",
        install_conformance=False,
        required_profiles={},
        validate_profiles=False,
    )
    asyncio.run(_prepare(settings))
    port = _free_port()
    config = uvicorn.Config(
        ServerApp(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/fhir"
    finally:
        server.should_exit = True
        thread.join(30)


def _walk(authorize_url: str) -> str:
    """A person at the pages: sign in as the citizen, approve; the app's callback URL."""
    with httpx.Client(follow_redirects=False) as browser:
        login = browser.get(authorize_url)
        assert login.status_code == 200, login.text
        request_id = form_value(login.text, "request")
        approval = browser.post(
            login.url.copy_with(path=login.url.path.replace("authorize", "login"), query=None),
            data={"request": request_id, "username": "citizen", "password": PASSWORD},
        )
        assert approval.status_code == 200, approval.text
        done = browser.post(
            approval.url.copy_with(path=approval.url.path.replace("login", "approve")),
            data={"request": request_id, "decision": "approve",
                  "scope": checked_scopes(approval.text)},
        )  # fmt: skip
        assert done.status_code == 302, done.text
        return str(done.headers["location"])


@pytest.mark.parametrize("app_id", ["py-public", "py-confidential"])
def test_fhirclient_standalone_launch(live_base: str, app_id: str) -> None:
    settings = {
        "app_id": app_id,
        "api_base": live_base,
        "redirect_uri": REDIRECT,
        "scope": "openid fhirUser offline_access patient/*.rs",
    }
    if app_id == "py-confidential":
        settings["app_secret"] = SECRET
    app = smart_client.FHIRClient(settings=settings)
    authorize_url = app.authorize_url  # reads /metadata and its oauth-uris extension
    assert authorize_url.startswith(f"{live_base}/auth/authorize?")
    sent = parse_qs(urlsplit(authorize_url).query)
    assert sent["code_challenge_method"] == ["S256"] and sent["aud"] == [live_base]

    callback = _walk(authorize_url)
    assert callback.startswith(REDIRECT)
    app.handle_callback(callback)  # the library checks state and exchanges the code
    assert app.ready
    assert app.patient_id == "p1"
    jwks = httpx.get(f"{live_base}/.well-known/jwks.json").json()
    access = app.server.auth.access_token
    claims = decode(access, jwks)
    assert (claims["client_id"], claims["sub"], claims["patient"]) == (app_id, "citizen", "p1")
    assert "launch/patient" in claims["scope"].split()
    assert app.launch_context["id_token"]

    assert app.reauthorize()  # the refresh token
    assert app.server.auth.access_token != access
    assert decode(app.server.auth.access_token, jwks)["patient"] == "p1"
