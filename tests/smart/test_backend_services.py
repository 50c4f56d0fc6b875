"""Inferno "Backend Services" (STU2.2): ``client_credentials`` with ``private_key_jwt`` — RS384
with keys registered inline, ES384 with keys at a JWKS URL (served over real HTTP on loopback) —
and with a client secret (HTTP Basic); every malformed assertion refused with nothing issued."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from joserfc.jwk import RSAKey

from auth.clients import Registration
from auth.smart import assertion
from tests.smart.conftest import Smart
from tests.smart.support import (
    ASSERTION_TYPE,
    BACKEND_BASIC_SECRET,
    BASE,
    Keys,
    basic,
    decode,
    unsigned,
)


class JwksHost:
    """A client's JWKS URL: a real HTTP server on 127.0.0.1 serving what ``jwks`` holds."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.fetches = 0
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.fetches += 1
                body = json.dumps(host.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks_host() -> Iterator[JwksHost]:
    host = JwksHost()
    try:
        yield host
    finally:
        host.close()


async def request(smart: Smart, form: dict[str, str], scope: str = "system/*.rs") -> Any:
    return await smart.token({"grant_type": "client_credentials", "scope": scope, **form})


async def test_rs384_with_inline_keys(smart: Smart) -> None:
    resp = await request(smart, smart.backend_rs.form("backend-rs"), "system/Observation.rs")
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store" and resp.headers["pragma"] == "no-cache"
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "system/Observation.rs"
    assert 0 < body["expires_in"] <= 300
    assert "refresh_token" not in body and "id_token" not in body
    claims = decode(body["access_token"], await smart.jwks())
    assert claims["sub"] == claims["client_id"] == "backend-rs"
    assert claims["iss"] == claims["aud"] == BASE
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert "patient" not in claims and "fhirUser" not in claims


async def test_es384_with_keys_at_a_jwks_url(
    smart: Smart, jwks_host: JwksHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = Keys.ec()
    await smart.server.clients.add(
        Registration("backend-es", "confidential-asymmetric", backend=True,
                     scope="system/*.rs", jwks_uri=jwks_host.url)
    )  # fmt: skip
    jwks_host.jwks = keys.jwks
    resp = await request(smart, keys.form("backend-es"))
    assert resp.status_code == 200, resp.text
    assert decode(resp.json()["access_token"], await smart.jwks())["client_id"] == "backend-es"
    assert (await request(smart, keys.form("backend-es"))).status_code == 200
    assert jwks_host.fetches == 1  # cached

    rotated = Keys.ec()  # the client rotates its key and publishes the new set
    jwks_host.jwks = rotated.jwks
    refused = await request(smart, rotated.form("backend-es"))
    assert refused.status_code == 400  # fetched again at most every 10 s for an unknown kid
    monkeypatch.setattr(assertion, "_JWKS_REFETCH", 0.0)
    resp = await request(smart, rotated.form("backend-es"))
    assert resp.status_code == 200, resp.text
    assert jwks_host.fetches == 2
    old = await request(smart, keys.form("backend-es"))
    assert old.status_code == 400 and "No key with kid" in old.json()["error_description"]


async def test_an_unreachable_jwks_url(smart: Smart) -> None:
    await smart.server.clients.add(
        Registration("backend-gone", "confidential-asymmetric", backend=True,
                     scope="system/*.rs", jwks_uri="http://127.0.0.1:9/jwks.json")
    )  # fmt: skip
    resp = await request(smart, Keys.ec().form("backend-gone"))
    assert resp.status_code == 400
    assert resp.json()["error_description"] == "The client's JWKS URL could not be read"


async def test_symmetric_backend_with_http_basic(smart: Smart) -> None:
    resp = await smart.token(
        {"grant_type": "client_credentials", "scope": "system/Patient.rs"},
        **basic("backend-basic", BACKEND_BASIC_SECRET),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["expires_in"] <= 300


async def test_requested_scopes_are_cut_to_the_registered_ones(smart: Smart) -> None:
    resp = await request(
        smart, smart.backend_rs.form("backend-rs"), "system/Patient.rs system/Patient.cud"
    )
    assert resp.json()["scope"] == "system/Patient.rs"
    none = await request(smart, smart.backend_rs.form("backend-rs"), "system/Patient.cud")
    assert none.status_code == 400 and none.json()["error"] == "invalid_scope"
    missing = await smart.token(
        {"grant_type": "client_credentials", **smart.backend_rs.form("backend-rs")}
    )
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


def _cases(smart: Smart) -> list[tuple[dict[str, str], str]]:
    """Each bad assertion and the reason the server gives."""
    keys, client = smart.backend_rs, "backend-rs"
    now = int(time.time())
    stranger = Keys.rsa("RS384")
    same_key = {**keys.private.as_dict(private=True), "alg": "RS256"}
    rs256 = Keys(RSAKey.import_key(same_key), "RS256")  # the registered key, signing RS256
    none = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": unsigned(client, keys.kid)}
    return [
        (stranger.form(client, header_kid=keys.kid), "signature: bad_signature"),
        (keys.form(client, aud=f"{BASE}/auth/authorize"), "'aud' must be the token endpoint"),
        (keys.form(client, aud=None), "'aud' must be the token endpoint"),
        (keys.form(client, exp=now - 120), "has expired"),
        (keys.form(client, exp=now + 600), "more than 5 minutes ahead"),
        (keys.form(client, exp=None), "needs 'exp'"),
        (keys.form(client, jti=None), "needs 'jti'"),
        (keys.form(client, header_kid="no-such-kid"), "No key with kid no-such-kid"),
        (keys.form(client, header_kid=None), "needs a 'kid'"),
        (none, "RS384 or ES384, not none"),
        (rs256.form(client), "RS384 or ES384, not RS256"),
        (keys.form(client, iss="someone-else"), "'iss' and 'sub' must both be the client id"),
        (keys.form("no-such-client"), "Unknown client"),
        ({"client_assertion_type": ASSERTION_TYPE, "client_assertion": "abc"}, "not a JWT"),
        ({"client_assertion_type": ASSERTION_TYPE}, "Missing 'client_assertion'"),
        ({"client_id": "public-app"}, "cannot authenticate"),
        (smart.asym.form("asym-app"), "not authorized to use 'grant_type=client_credentials'"),
    ]


async def test_bad_client_assertions_are_refused(smart: Smart) -> None:
    for form, reason in _cases(smart):
        resp = await request(smart, form)
        body = resp.json()
        assert resp.status_code in (400, 401), body
        assert body["error"] in ("invalid_client", "unauthorized_client"), body
        assert reason in body["error_description"], (reason, body)
        assert "access_token" not in body
    assert await smart.server.records.all("access") == []  # nothing was issued


async def test_a_jti_is_used_once(smart: Smart) -> None:
    form = smart.backend_rs.form("backend-rs", jti="only-once")
    assert (await request(smart, form)).status_code == 200
    replay = await request(smart, form)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_client"
    assert "used before" in replay.json()["error_description"]
    fresh = smart.backend_rs.form("backend-rs", jti="only-once")  # a new assertion, same jti
    assert (await request(smart, fresh)).status_code == 400


async def test_invalid_grant_type_and_assertion_type(smart: Smart) -> None:
    grant = await smart.token(
        {"grant_type": "not_a_grant_type", "scope": "system/*.rs",
         **smart.backend_rs.form("backend-rs")}
    )  # fmt: skip
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    form = smart.backend_rs.form("backend-rs")
    form["client_assertion_type"] = "not_an_assertion_type"
    kind = await request(smart, form)
    assert kind.status_code in (400, 401) and kind.json()["error"] == "invalid_client"
    form_encoded = await smart.client.post("auth/token", json={"grant_type": "client_credentials"})
    assert form_encoded.status_code == 400 and form_encoded.json()["error"] == "invalid_request"


async def test_concurrent_requests_and_one_jti_raced(smart: Smart) -> None:
    forms = [smart.backend_rs.form("backend-rs") for _ in range(20)]
    answers = await asyncio.gather(*(request(smart, form) for form in forms))
    assert [a.status_code for a in answers] == [200] * 20
    same = smart.backend_rs.form("backend-rs", jti="raced")
    raced = await asyncio.gather(*(request(smart, same) for _ in range(6)))
    assert sorted(a.status_code for a in raced) == [200] + [400] * 5
