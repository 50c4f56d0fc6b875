"""Inferno "Token Refresh" (with and without scope) and the (g)(10) invalid refresh: refresh
tokens are bound to their client and grant, rotate on use, allow a narrower scope, refuse a
wider one without spending the token, and a spent one replayed revokes the grant."""

from __future__ import annotations

from typing import Any

from tests.smart.conftest import Smart
from tests.smart.support import REDIRECT, RS_SECRET, SECRET, Authorization, basic, decode

SCOPE = "launch/patient openid fhirUser offline_access patient/*.rs"


async def start(smart: Smart, client_id: str = "conf-app", scope: str = SCOPE) -> dict[str, Any]:
    auth = Authorization(client_id, scope)
    params = await smart.browser.code(auth, "citizen")
    data = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": auth.verifier,
    }
    if client_id == "conf-app":
        resp = await smart.token(data, **basic("conf-app", SECRET))
    else:
        resp = await smart.token({**data, "client_id": client_id})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def refresh(smart: Smart, token: str, scope: str | None = None) -> Any:
    data = {"grant_type": "refresh_token", "refresh_token": token, "client_id": "conf-app"}
    if scope is not None:
        data["scope"] = scope
    return await smart.token(data, **basic("conf-app", SECRET))


async def introspect(smart: Smart, token: str) -> dict[str, Any]:
    resp = await smart.client.post(
        "auth/introspect", data={"token": token}, headers=basic("rs", RS_SECRET)
    )
    body: dict[str, Any] = resp.json()
    return body


async def test_refresh_without_scope(smart: Smart) -> None:
    first = await start(smart)
    resp = await refresh(smart, first["refresh_token"])
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store" and resp.headers["pragma"] == "no-cache"
    body = resp.json()
    assert body["scope"] == SCOPE and body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 3600 and body["patient"] == "p1"
    assert body["refresh_token"] != first["refresh_token"]  # rotated
    claims = decode(body["access_token"], await smart.jwks())
    assert (claims["sub"], claims["client_id"], claims["patient"]) == ("citizen", "conf-app", "p1")
    assert decode(body["id_token"], await smart.jwks())["aud"] == "conf-app"
    again = await refresh(smart, body["refresh_token"])
    assert again.status_code == 200


async def test_refresh_with_a_narrower_scope(smart: Smart) -> None:
    first = await start(smart)
    resp = await refresh(smart, first["refresh_token"], "patient/*.rs")
    assert resp.status_code == 200, resp.text
    assert resp.json()["scope"] == "patient/*.rs" and "id_token" not in resp.json()
    claims = decode(resp.json()["access_token"], await smart.jwks())
    assert claims["scope"] == "patient/*.rs"
    # the grant keeps its scope: the next refresh may ask for all of it again
    full = await refresh(smart, resp.json()["refresh_token"])
    assert full.json()["scope"] == SCOPE


async def test_refresh_with_a_scope_the_grant_implies_is_narrower(smart: Smart) -> None:
    """``patient/CarePlan.rs`` (or ``patient/CarePlan.r``) under a ``patient/*.rs`` grant is a
    narrower scope, as docs/security.md says, though not one of the grant's scope strings."""
    first = await start(smart)
    resp = await refresh(smart, first["refresh_token"], "patient/CarePlan.rs patient/Goal.r")
    assert resp.status_code == 200, resp.text
    assert resp.json()["scope"] == "patient/CarePlan.rs patient/Goal.r"
    claims = decode(resp.json()["access_token"], await smart.jwks())
    assert claims["scope"] == "patient/CarePlan.rs patient/Goal.r"
    wider = await refresh(smart, resp.json()["refresh_token"], "patient/CarePlan.cruds")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"


async def test_refresh_with_a_wider_scope_is_refused_and_the_token_still_works(
    smart: Smart,
) -> None:
    first = await start(smart)
    wider = await refresh(smart, first["refresh_token"], "patient/*.rs user/*.rs")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    assert "access_token" not in wider.json()
    assert (await refresh(smart, first["refresh_token"])).status_code == 200


async def test_refresh_tokens_are_bound_to_their_client(smart: Smart) -> None:
    first = await start(smart)
    other = await smart.token(
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
         "client_id": "public-app"}
    )  # fmt: skip
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    assert (await refresh(smart, first["refresh_token"])).status_code == 200


async def test_an_unknown_refresh_token_or_bad_client_auth_is_refused(smart: Smart) -> None:
    first = await start(smart)
    unknown = await refresh(smart, "c0ffee-not-a-refresh-token")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"
    bad_secret = await smart.token(
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        **basic("conf-app", "wrong"),
    )
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    missing = await smart.token({"grant_type": "refresh_token"}, **basic("conf-app", SECRET))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


async def test_replaying_a_spent_refresh_token_revokes_the_grant(smart: Smart) -> None:
    first = await start(smart)
    second = (await refresh(smart, first["refresh_token"])).json()
    replay = await refresh(smart, first["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert (await introspect(smart, second["access_token"])) == {"active": False}
    assert (await introspect(smart, first["access_token"])) == {"active": False}
    assert (await refresh(smart, second["refresh_token"])).status_code == 400


async def test_public_clients_refresh_too(smart: Smart) -> None:
    first = await start(smart, "public-app")
    resp = await smart.token(
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
         "client_id": "public-app"}
    )  # fmt: skip
    assert resp.status_code == 200, resp.text


async def test_no_refresh_token_without_offline_or_online_access(smart: Smart) -> None:
    body = await start(smart, "public-app", "launch/patient patient/*.rs")
    assert "refresh_token" not in body
    online = await start(smart, "public-app", "launch/patient online_access patient/*.rs")
    assert online["refresh_token"]
    record = await smart.server.records.all("refresh")
    assert {round(r.doc["refresh_seconds"] / 3600) for r in record} == {12}
