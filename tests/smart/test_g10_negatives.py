"""The (g)(10) negative groups — invalid PKCE code verifier, invalid ``aud``, invalid token
request, token revocation — and the rest of the issue's bad input for the authorization code
flow: each refused with the OAuth error and status, and nothing issued."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from auth.smart.grants import CODE
from auth.tokens import digest
from tests.smart.conftest import Smart, make_smart
from tests.smart.support import (
    BASE,
    REDIRECT,
    RS_SECRET,
    SECRET,
    Authorization,
    basic,
    pkce,
    redirect_params,
)

SCOPE = "launch/patient openid fhirUser offline_access patient/*.rs"


async def code_for(smart: Smart, auth: Authorization) -> str:
    return (await smart.browser.code(auth, "citizen"))["code"]


def exchange(code: str, verifier: str | None, **extra: str) -> dict[str, str]:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **extra}
    if verifier is not None:
        data["code_verifier"] = verifier
    return data


# Invalid PKCE code verifier: four launches, four refused exchanges (symmetric client)


@pytest.mark.parametrize("verifier", [None, "", "wrong", "plain"])
async def test_invalid_pkce_code_verifier(smart: Smart, verifier: str | None) -> None:
    auth = Authorization("conf-app", SCOPE)
    code = await code_for(smart, auth)
    sent = {"wrong": pkce()[0], "plain": auth.challenge}.get(verifier or "", verifier)
    resp = await smart.token(exchange(code, sent), **basic("conf-app", SECRET))
    assert resp.status_code == 400, resp.text
    expected = "invalid_grant" if verifier in ("wrong", "plain") else "invalid_request"
    assert resp.json()["error"] == expected
    assert "access_token" not in resp.json()
    # the code is spent: the right verifier does not bring it back
    again = await smart.token(exchange(code, auth.verifier), **basic("conf-app", SECRET))
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"code_challenge_method": "plain"}, "'code_challenge_method' must be S256"),
        ({"code_challenge_method": None}, "'code_challenge_method' must be S256"),
        ({"code_challenge": None}, "'code_challenge' (S256) is missing"),
        ({"code_challenge": None, "code_challenge_method": None}, "PKCE is required"),
        ({"code_challenge": "too-short"}, "Invalid 'code_challenge'"),
    ],
)
async def test_pkce_s256_is_required_of_every_client(
    smart: Smart, extra: dict[str, Any], reason: str
) -> None:
    for client_id in ("public-app", "conf-app"):
        auth = Authorization(client_id, SCOPE, extra=extra)
        params = redirect_params(await smart.browser.start(auth))
        assert params["error"] == "invalid_request" and reason in params["error_description"]
        assert params["state"] == auth.state and "code" not in params


# Invalid aud


@pytest.mark.parametrize("aud", ["https://inferno.healthit.gov/invalid_aud", None, f"{BASE}x"])
async def test_invalid_aud(smart: Smart, aud: str | None) -> None:
    auth = Authorization("conf-app", SCOPE, extra={"aud": aud})
    params = redirect_params(await smart.browser.start(auth))
    assert params["error"] == "invalid_request" and "code" not in params
    assert "'aud' must be this FHIR server" in params["error_description"]


async def test_aud_with_a_trailing_slash_is_the_same_server(smart: Smart) -> None:
    auth = Authorization("public-app", SCOPE, extra={"aud": BASE + "/"})
    assert (await smart.browser.start(auth)).status_code == 200


# Invalid token request


async def test_invalid_code(smart: Smart) -> None:
    auth = Authorization("conf-app", SCOPE)
    await code_for(smart, auth)
    resp = await smart.token(exchange("BAD_CODE", auth.verifier), **basic("conf-app", SECRET))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


async def test_invalid_client_id(smart: Smart) -> None:
    auth = Authorization("conf-app", SCOPE)
    code = await code_for(smart, auth)
    resp = await smart.token(exchange(code, auth.verifier), **basic("BAD_CLIENT_ID", SECRET))
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    assert resp.headers["www-authenticate"].startswith("Basic ")
    public = await smart.token(exchange(code, auth.verifier, client_id="BAD_CLIENT_ID"))
    assert public.status_code in (400, 401) and public.json()["error"] == "invalid_client"
    # a code is the client's it was issued to
    other = await smart.token(exchange(code, auth.verifier, client_id="public-app"))
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    ok = await smart.token(exchange(code, auth.verifier), **basic("conf-app", SECRET))
    assert ok.status_code == 200


async def test_a_confidential_client_must_authenticate(smart: Smart) -> None:
    auth = Authorization("conf-app", SCOPE)
    code = await code_for(smart, auth)
    bare = await smart.token(exchange(code, auth.verifier, client_id="conf-app"))
    assert bare.status_code == 401 and bare.json()["error"] == "invalid_client"
    wrong = await smart.token(exchange(code, auth.verifier), **basic("conf-app", "not-it"))
    assert wrong.status_code == 401


async def test_wrong_redirect_uri_at_the_token_endpoint(smart: Smart) -> None:
    auth = Authorization("public-app", SCOPE)
    code = await code_for(smart, auth)
    data = exchange(code, auth.verifier, client_id="public-app")
    data["redirect_uri"] = "http://localhost:9000/other"
    resp = await smart.token(data)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


async def test_a_reused_code_is_refused_and_revokes_its_tokens(smart: Smart) -> None:
    auth = Authorization("public-app", SCOPE)
    code = await code_for(smart, auth)
    first = await smart.token(exchange(code, auth.verifier, client_id="public-app"))
    assert first.status_code == 200
    again = await smart.token(exchange(code, auth.verifier, client_id="public-app"))
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    introspected = await smart.client.post(
        "auth/introspect",
        data={"token": first.json()["access_token"]},
        headers=basic("rs", RS_SECRET),
    )
    assert introspected.json() == {"active": False}
    refresh = await smart.token(
        {"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"],
         "client_id": "public-app"}
    )  # fmt: skip
    assert refresh.status_code == 400


async def test_an_expired_code(smart: Smart) -> None:
    auth = Authorization("public-app", SCOPE)
    code = await code_for(smart, auth)
    stored = await smart.server.records.get(CODE, digest(code))
    assert stored is not None and stored.expires is not None
    assert stored.expires - time.time() <= 300  # codes live five minutes at most
    await smart.server.records.put(CODE, digest(code), stored.doc, expires=time.time() - 1)
    resp = await smart.token(exchange(code, auth.verifier, client_id="public-app"))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


# Authorization requests that cannot be answered to the app


async def test_unknown_client_and_wrong_redirect_uri_are_not_redirected(smart: Smart) -> None:
    unknown = await smart.browser.start(Authorization("no-such-app", SCOPE))
    assert unknown.status_code == 400 and "invalid_client" in unknown.text
    wrong = Authorization("public-app", SCOPE, extra={"redirect_uri": "http://evil.example/cb"})
    page = await smart.browser.start(wrong)
    assert page.status_code == 400 and "location" not in page.headers
    assert "invalid_request" in page.text
    prefix = Authorization("public-app", SCOPE, extra={"redirect_uri": REDIRECT + "/x"})
    assert (await smart.browser.start(prefix)).status_code == 400  # exact match only


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"state": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "nothing-known"}, "invalid_scope"),
    ],
)
async def test_bad_authorization_requests_go_back_with_an_error(
    smart: Smart, extra: dict[str, Any], error: str
) -> None:
    auth = Authorization("public-app", SCOPE, extra=extra)
    params = redirect_params(await smart.browser.start(auth))
    assert params["error"] == error and "code" not in params


async def test_a_backend_client_cannot_use_the_code_flow(smart: Smart) -> None:
    auth = Authorization("backend-rs", "system/*.rs")
    page = await smart.browser.start(auth)
    assert page.status_code == 400  # no redirect URI registered: nowhere to send an error


# Token revocation


async def tokens(smart: Smart) -> dict[str, Any]:
    auth = Authorization("public-app", SCOPE)
    code = await code_for(smart, auth)
    resp = await smart.token(exchange(code, auth.verifier, client_id="public-app"))
    body: dict[str, Any] = resp.json()
    return body


async def introspect(smart: Smart, token: str) -> dict[str, Any]:
    resp = await smart.client.post(
        "auth/introspect", data={"token": token}, headers=basic("rs", RS_SECRET)
    )
    body: dict[str, Any] = resp.json()
    return body


async def revoke(smart: Smart, token: str, **extra: str) -> httpx.Response:
    data = {"token": token, "client_id": "public-app", **extra}
    return await smart.client.post("auth/revoke", data=data)


@pytest.mark.parametrize("which", ["access_token", "refresh_token"])
async def test_revoking_either_token_revokes_the_grant(smart: Smart, which: str) -> None:
    body = await tokens(smart)
    other = await tokens(smart)
    resp = await revoke(smart, body[which], token_type_hint=which)
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    assert await introspect(smart, body["access_token"]) == {"active": False}
    assert await introspect(smart, body["refresh_token"]) == {"active": False}
    refresh = await smart.token(
        {"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
         "client_id": "public-app"}
    )  # fmt: skip
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    assert (await introspect(smart, other["access_token"]))["active"] is True  # others stay
    assert await smart.server.revocations.is_revoked(
        (await smart.server.issuer.own_claims(body["access_token"]) or {})["jti"]
    )


async def test_revocation_of_unknown_tokens_and_other_clients_tokens(smart: Smart) -> None:
    unknown = await revoke(smart, "no-such-token")
    assert unknown.status_code == 200  # RFC 7009: nothing to say about an invalid token
    body = await tokens(smart)
    stranger = await smart.client.post(
        "auth/revoke", data={"token": body["access_token"]}, headers=basic("conf-app", SECRET)
    )
    assert stranger.status_code == 400 and stranger.json()["error"] == "invalid_grant"
    assert (await introspect(smart, body["access_token"]))["active"] is True
    anonymous = await smart.client.post("auth/revoke", data={"token": body["access_token"]})
    assert anonymous.status_code in (400, 401) and anonymous.json()["error"] == "invalid_client"


async def test_plain_http_to_a_non_loopback_host_is_refused(backend: str, tmp_path: Path) -> None:
    host = {"Host": "fhir.example.dk"}
    async for smart in make_smart(backend, tmp_path, allowed_hosts=["fhir.example.dk"]):
        page = await smart.client.get(
            "auth/authorize", params=Authorization("public-app", SCOPE).params(), headers=host
        )
        assert page.status_code == 400 and "insecure_transport" in page.text
        token = await smart.client.post(
            "auth/token", data={"grant_type": "client_credentials"}, headers=host
        )
        assert token.status_code == 400 and token.json()["error"] == "insecure_transport"


async def test_pages_cannot_be_framed_by_other_sites(smart: Smart) -> None:
    page = await smart.browser.start(Authorization("public-app", SCOPE))
    assert page.headers["x-frame-options"] == "DENY"
    assert "; frame-ancestors 'none';" in page.headers["content-security-policy"]


async def test_an_ehr_may_be_allowed_to_frame_the_pages(backend: str, tmp_path: Path) -> None:
    ehr = "https://ehr.example.dk"
    async for framed in make_smart(backend, tmp_path, auth_frame_ancestors=[ehr]):
        page = await framed.browser.start(Authorization("public-app", SCOPE))
        assert f"; frame-ancestors {ehr};" in page.headers["content-security-policy"]
        assert "x-frame-options" not in page.headers
