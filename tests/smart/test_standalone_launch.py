"""Inferno "Standalone Launch" (STU2.2): an app starts the authorization itself, the user signs
in and approves, the app exchanges the code (with PKCE) for tokens — as a public client, with a
client secret (HTTP Basic), and with ``private_key_jwt``; a clinician picks the patient, a citizen
gets their own, a relative the person they are related to."""

from __future__ import annotations

import time

import pytest

from tests.smart.conftest import Smart
from tests.smart.support import (
    BASE,
    REDIRECT,
    SECRET,
    Authorization,
    basic,
    checked_scopes,
    decode,
    form_value,
    redirect_params,
)

SCOPE = "launch/patient openid fhirUser offline_access patient/*.rs"


async def test_public_client_standalone_launch_with_patient_picker(smart: Smart) -> None:
    auth = Authorization("public-app", SCOPE)
    login = await smart.browser.start(auth)
    assert login.status_code == 200
    assert login.headers["content-type"].startswith("text/html")
    assert login.headers["cache-control"] == "no-store"
    assert "Log ind" in login.text and "Public App" in login.text  # Danish by default
    picker = await smart.browser.login(login, "doctor")
    assert "Vælg patient" in picker.text
    assert "Anna Jensen" in picker.text and "Bo Nielsen" in picker.text
    approval = await smart.browser.pick(picker, "p2")
    assert "Bo Nielsen" in approval.text
    assert checked_scopes(approval.text) == SCOPE.split()
    params = redirect_params(await smart.browser.approve(approval))
    assert params["state"] == auth.state and params["code"]

    resp = await smart.token(
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT,
            "client_id": "public-app",
            "code_verifier": auth.verifier,
        }
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["pragma"] == "no-cache"
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == SCOPE
    assert body["patient"] == "p2"
    assert body["need_patient_banner"] is True
    assert body["smart_style_url"] == f"{BASE}/auth/smart-style.json"
    assert 0 < body["expires_in"] <= 3600
    assert isinstance(body["refresh_token"], str) and body["id_token"]

    claims = decode(body["access_token"], await smart.jwks())
    assert claims["iss"] == BASE and claims["aud"] == BASE
    assert claims["sub"] == "doctor" and claims["client_id"] == "public-app"
    assert claims["scope"] == SCOPE and claims["patient"] == "p2"
    assert claims["fhirUser"] == "Practitioner/doc1"
    assert claims["exp"] - claims["iat"] == body["expires_in"] <= 3600
    assert claims["exp"] > time.time() and claims["jti"]


async def test_the_patient_picker_searches_by_name(smart: Smart) -> None:
    picker = await smart.browser.login(
        await smart.browser.start(Authorization("public-app", SCOPE)), "doctor"
    )
    data = {"request": form_value(picker.text, "request"), "action": "search", "name": "niel"}
    found = await smart.client.post("auth/patient", data=data)
    assert "Bo Nielsen" in found.text and "Anna Jensen" not in found.text
    unknown = await smart.browser.pick(found, "nobody")
    assert "Patienten findes ikke" in unknown.text


async def test_confidential_symmetric_client(smart: Smart) -> None:
    auth = Authorization("conf-app", SCOPE)
    params = await smart.browser.code(auth, "doctor", patient="p1")
    exchange = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": auth.verifier,
    }
    resp = await smart.token(exchange, **basic("conf-app", SECRET))
    assert resp.status_code == 200, resp.text
    assert resp.json()["patient"] == "p1"
    assert decode(resp.json()["access_token"], await smart.jwks())["client_id"] == "conf-app"


async def test_confidential_asymmetric_client(smart: Smart) -> None:
    auth = Authorization("asym-app", SCOPE)
    params = await smart.browser.code(auth, "doctor", patient="p1")
    exchange = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": auth.verifier,
        **smart.asym.form("asym-app"),
    }
    resp = await smart.token(exchange)
    assert resp.status_code == 200, resp.text
    assert decode(resp.json()["access_token"], await smart.jwks())["client_id"] == "asym-app"


@pytest.mark.parametrize(("user", "patient"), [("citizen", "p1"), ("mother", "p2")])
async def test_a_citizen_or_relative_gets_their_patient_without_a_picker(
    smart: Smart, user: str, patient: str
) -> None:
    auth = Authorization("public-app", SCOPE)
    approval = await smart.browser.login(await smart.browser.start(auth), user)
    assert "Giv adgang" in approval.text and "Vælg patient" not in approval.text
    params = redirect_params(await smart.browser.approve(approval))
    resp = await smart.token(
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT,
            "client_id": "public-app",
            "code_verifier": auth.verifier,
        }
    )
    assert resp.json()["patient"] == patient


async def test_authorize_by_post(smart: Smart) -> None:
    auth = Authorization("public-app", SCOPE)
    login = await smart.client.post("auth/authorize", data=auth.params())
    assert login.status_code == 200 and "Log ind" in login.text


async def test_unchecked_scopes_are_not_granted_and_no_scope_means_denied(smart: Smart) -> None:
    auth = Authorization("public-app", SCOPE)
    approval = await smart.browser.login(await smart.browser.start(auth), "citizen")
    params = redirect_params(
        await smart.browser.approve(approval, ["launch/patient", "patient/*.rs"])
    )
    resp = await smart.token(
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT,
            "client_id": "public-app",
            "code_verifier": auth.verifier,
        }
    )
    assert resp.json()["scope"] == "launch/patient patient/*.rs"
    assert "refresh_token" not in resp.json() and "id_token" not in resp.json()

    auth = Authorization("public-app", SCOPE)
    approval = await smart.browser.login(await smart.browser.start(auth), "citizen")
    denied = redirect_params(await smart.browser.approve(approval, []))
    assert (denied["error"], denied["state"], "code" in denied) == (
        "access_denied",
        auth.state,
        False,
    )


async def test_deny(smart: Smart) -> None:
    auth = Authorization("public-app", SCOPE)
    approval = await smart.browser.login(await smart.browser.start(auth), "citizen")
    params = redirect_params(await smart.browser.approve(approval, decision="deny"))
    assert (params["error"], params["state"], "code" in params) == (
        "access_denied",
        auth.state,
        False,
    )


async def test_scopes_the_client_may_not_have_are_left_out(smart: Smart) -> None:
    auth = Authorization("no-offline", "launch/patient patient/*.rs offline_access system/*.rs")
    approval = await smart.browser.login(await smart.browser.start(auth), "citizen")
    assert checked_scopes(approval.text) == ["launch/patient", "patient/*.rs"]


async def test_english_pages(smart: Smart) -> None:
    by_param = Authorization("public-app", SCOPE, extra={"ui_locales": "en-GB"})
    page = await smart.browser.start(by_param)
    assert "Sign in" in page.text and 'lang="en"' in page.text
    header = await smart.browser.start(
        Authorization("public-app", SCOPE), **{"Accept-Language": "en-US,en;q=0.8,da;q=0.5"}
    )
    assert "Sign in" in header.text
    approval = await smart.browser.login(page, "citizen")
    assert "Grant access" in approval.text
    assert "Read and search all data about the patient" in approval.text

    danish = await smart.browser.start(Authorization("public-app", SCOPE))
    request_id = form_value(danish.text, "request")
    switched = await smart.client.get("auth/login", params={"request": request_id, "lang": "en"})
    assert "Sign in" in switched.text
    approval = await smart.browser.login(switched, "citizen")
    assert "Grant access" in approval.text  # the choice sticks


async def test_wrong_password_and_too_many_attempts(smart: Smart) -> None:
    login = await smart.browser.start(Authorization("public-app", SCOPE))
    for _ in range(4):
        again = await smart.browser.login(login, "citizen", "wrong password")
        assert again.status_code == 200
        assert "Forkert brugernavn eller adgangskode" in again.text
    unknown_user = await smart.browser.login(login, "nobody")
    assert unknown_user.status_code == 400
    assert "For mange forkerte forsøg" in unknown_user.text
    gone = await smart.browser.login(login, "citizen")
    assert gone.status_code == 400 and "udløbet" in gone.text


async def test_the_forms_only_work_in_the_browser_that_started(smart: Smart) -> None:
    login = await smart.browser.start(Authorization("public-app", SCOPE))
    smart.client.cookies.clear()
    stolen = await smart.browser.login(login, "citizen")
    assert stolen.status_code == 400 and "udløbet" in stolen.text


async def test_token_endpoint_cors_for_a_public_clients_registered_origin(smart: Smart) -> None:
    auth = Authorization("public-app", SCOPE)
    params = await smart.browser.code(auth, "citizen")
    exchange = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": REDIRECT,
        "client_id": "public-app",
        "code_verifier": auth.verifier,
    }
    resp = await smart.token(exchange, Origin="http://localhost:9000")
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "http://localhost:9000"
    other = await smart.browser.code(auth := Authorization("public-app", SCOPE), "citizen")
    exchange.update(code=other["code"], code_verifier=auth.verifier)
    resp = await smart.token(exchange, Origin="https://evil.example")
    assert resp.status_code == 200
    assert "access-control-allow-origin" not in resp.headers


async def test_a_clinician_may_change_the_chosen_patient(smart: Smart) -> None:
    auth = Authorization("public-app", SCOPE)
    picker = await smart.browser.login(await smart.browser.start(auth), "doctor")
    await smart.browser.pick(picker, "p1")
    approval = await smart.browser.pick(picker, "p2")
    assert "Bo Nielsen" in approval.text
    params = redirect_params(await smart.browser.approve(approval))
    resp = await smart.token(
        {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": REDIRECT,
         "client_id": "public-app", "code_verifier": auth.verifier}
    )  # fmt: skip
    assert resp.json()["patient"] == "p2"


async def test_only_a_clinician_picks(smart: Smart) -> None:
    auth = Authorization("public-app", SCOPE)
    approval = await smart.browser.login(await smart.browser.start(auth), "citizen")
    picked = await smart.browser.pick(approval, "p2")
    assert picked.status_code == 400
