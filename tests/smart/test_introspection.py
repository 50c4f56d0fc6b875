"""Inferno "Token Introspection" (STU2.2): an authorized caller learns whether a token is active
and, for an active one, its scope, client, expiry and launch context — matching the token
response and the id_token."""

from __future__ import annotations

from typing import Any

import httpx

from tests.smart.conftest import Smart
from tests.smart.support import (
    BASE,
    EHR_SECRET,
    REDIRECT,
    RS_SECRET,
    SECRET,
    Authorization,
    basic,
    decode,
)
from tests.smart.test_ehr_launch import launch


async def launched(smart: Smart) -> dict[str, Any]:
    """A confidential app's tokens from an EHR launch (patient p1, encounter e1)."""
    created = (await launch(smart, {"patient": "p1", "encounter": "e1"})).json()
    auth = Authorization(
        "conf-app", "launch openid fhirUser offline_access patient/*.rs",
        extra={"launch": created["launch"]},
    )  # fmt: skip
    params = await smart.browser.code(auth, "doctor")
    resp = await smart.token(
        {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": REDIRECT,
         "code_verifier": auth.verifier},
        **basic("conf-app", SECRET),
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def introspect(smart: Smart, token: str, **headers: str) -> httpx.Response:
    return await smart.client.post(
        "auth/introspect", data={"token": token}, headers=headers or basic("rs", RS_SECRET)
    )


async def test_an_active_access_token(smart: Smart) -> None:
    tokens = await launched(smart)
    resp = await introspect(smart, tokens["access_token"])
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert body["active"] is True
    assert body["scope"] == tokens["scope"]
    assert body["client_id"] == "conf-app"
    claims = decode(tokens["access_token"], await smart.jwks())
    assert body["exp"] == claims["exp"] and body["iat"] == claims["iat"]
    assert (body["patient"], body["encounter"]) == ("p1", "e1")
    id_token = decode(tokens["id_token"], await smart.jwks())
    assert (body["iss"], body["sub"]) == (id_token["iss"], id_token["sub"]) == (BASE, "doctor")
    assert body["fhirUser"] == id_token["fhirUser"] == f"{BASE}/Practitioner/doc1"
    assert body["token_type"] == "Bearer"


async def test_an_invalid_token_is_inactive(smart: Smart) -> None:
    resp = await introspect(smart, "invalid_token_value")
    assert resp.status_code == 200 and resp.json() == {"active": False}


async def test_a_refresh_token(smart: Smart) -> None:
    tokens = await launched(smart)
    body = (await introspect(smart, tokens["refresh_token"])).json()
    assert body["active"] is True and body["token_type"] == "refresh_token"
    assert body["client_id"] == "conf-app" and body["patient"] == "p1"


async def test_with_a_bearer_token_of_a_resource_server(smart: Smart) -> None:
    tokens = await launched(smart)
    rs = await smart.token(
        {"grant_type": "client_credentials", "scope": "system/*.rs"}, **basic("rs", RS_SECRET)
    )
    bearer = {"Authorization": f"Bearer {rs.json()['access_token']}"}
    body = (await introspect(smart, tokens["access_token"], **bearer)).json()
    assert body["active"] is True and body["patient"] == "p1"
    ehr = await smart.token(
        {"grant_type": "client_credentials", "scope": "system/*.rs"}, **basic("ehr", EHR_SECRET)
    )
    not_allowed = {"Authorization": f"Bearer {ehr.json()['access_token']}"}
    refused = await introspect(smart, tokens["access_token"], **not_allowed)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


async def test_callers_must_authenticate_and_see_only_what_they_may(smart: Smart) -> None:
    tokens = await launched(smart)
    anonymous = await smart.client.post("auth/introspect", data={"token": tokens["access_token"]})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    own = (await introspect(smart, tokens["access_token"], **basic("conf-app", SECRET))).json()
    assert own["active"] is True  # a client may introspect its own token
    others = await introspect(smart, tokens["access_token"], **basic("ehr", EHR_SECRET))
    assert others.json() == {"active": False}  # not a resource server: learns nothing
    missing = await smart.client.post("auth/introspect", data={}, headers=basic("rs", RS_SECRET))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
