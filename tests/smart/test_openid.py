"""Inferno "OpenID Connect" (STU2.2): the id_token's header and signature (RS256, a key in the
JWKS), its claims (iss = the OpenID issuer, aud = the client, exp, sub, fhirUser), nonce."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from tests.smart.conftest import Smart
from tests.smart.support import BASE, REDIRECT, Authorization, decode, header, redirect_params


async def tokens(smart: Smart, auth: Authorization, user: str = "doctor") -> dict[str, Any]:
    params = await smart.browser.code(auth, user, patient="p1" if user == "doctor" else None)
    resp = await smart.token(
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT,
            "client_id": auth.client_id,
            "code_verifier": auth.verifier,
        }
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def test_id_token(smart: Smart) -> None:
    auth = Authorization(
        "public-app", "openid fhirUser profile launch/patient patient/*.rs", extra={"nonce": "n-1"}
    )
    body = await tokens(smart, auth)
    jwks = await smart.jwks()
    head = header(body["id_token"])
    assert head["alg"] == "RS256"
    assert head["kid"] in {k["kid"] for k in jwks["keys"]}
    claims = decode(body["id_token"], jwks)
    issuer = (await smart.client.get(".well-known/openid-configuration")).json()["issuer"]
    assert claims["iss"] == issuer == BASE
    assert claims["aud"] == "public-app"
    assert claims["sub"] == "doctor" and 0 < len(claims["sub"]) <= 255
    assert claims["exp"] > time.time() and claims["iat"] <= time.time() + 1
    assert claims["auth_time"] <= claims["iat"]
    assert claims["nonce"] == "n-1"
    assert claims["fhirUser"] == f"{BASE}/Practitioner/doc1"
    assert claims["name"] == "Dorthe Læge"
    digest = hashlib.sha256(body["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


async def test_fhir_user_names_a_resource_that_exists(smart: Smart) -> None:
    body = await tokens(smart, Authorization("public-app", "openid fhirUser"), "citizen")
    fhir_user = decode(body["id_token"], await smart.jwks())["fhirUser"]
    assert fhir_user == f"{BASE}/Patient/p1"
    kind, id_ = fhir_user.removeprefix(BASE + "/").split("/")
    assert await smart.app.store.read(kind, id_) is not None


async def test_no_fhir_user_claim_without_the_scope_and_no_id_token_without_openid(
    smart: Smart,
) -> None:
    body = await tokens(smart, Authorization("public-app", "openid patient/*.rs"), "citizen")
    claims = decode(body["id_token"], await smart.jwks())
    assert "fhirUser" not in claims and "name" not in claims and claims["sub"] == "citizen"
    body = await tokens(smart, Authorization("public-app", "fhirUser patient/*.rs"), "citizen")
    assert "id_token" not in body


async def test_a_nonce_is_accepted_once(smart: Smart) -> None:
    first = Authorization("public-app", "openid fhirUser", extra={"nonce": "same"})
    await tokens(smart, first, "citizen")
    again = Authorization("public-app", "openid fhirUser", extra={"nonce": "same"})
    params = redirect_params(await smart.browser.start(again))
    assert params["error"] == "invalid_request" and "code" not in params
