"""Inferno "EHR Launch" (STU2.2): the EHR creates a launch context through the authenticated
launch API and opens the app with ``iss`` and ``launch``; the app's authorization carries the
launch back and the token response the patient, encounter, banner and style."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.smart.conftest import Smart
from tests.smart.support import (
    BASE,
    EHR_SECRET,
    REDIRECT,
    SECRET,
    Authorization,
    basic,
    decode,
    redirect_params,
)

SCOPE = "launch openid fhirUser patient/*.rs"


async def launch(smart: Smart, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await smart.client.post(
        "auth/launch", json=body, headers=headers or basic("ehr", EHR_SECRET)
    )


async def test_ehr_launch_with_patient_and_encounter(smart: Smart) -> None:
    created = await launch(
        smart,
        {
            "patient": "p1",
            "encounter": "e1",
            "client_id": "conf-app",
            "need_patient_banner": False,
            "smart_style_url": "https://ehr.example/style.json",
        },
    )
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    assert body["iss"] == BASE and body["expires_in"] == 3600
    opened = urlsplit(body["launch_url"])
    assert f"{opened.scheme}://{opened.netloc}{opened.path}" == "http://localhost:9000/launch"
    assert parse_qs(opened.query) == {"iss": [BASE], "launch": [body["launch"]]}

    auth = Authorization("conf-app", SCOPE, extra={"launch": body["launch"]})
    approval = await smart.browser.login(await smart.browser.start(auth), "doctor")
    assert "Anna Jensen" in approval.text  # no picker: the EHR chose the patient
    params = redirect_params(await smart.browser.approve(approval))
    exchange = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": auth.verifier,
    }
    resp = await smart.token(exchange, **basic("conf-app", SECRET))
    assert resp.status_code == 200, resp.text
    token = resp.json()
    assert (token["patient"], token["encounter"]) == ("p1", "e1")
    assert token["need_patient_banner"] is False
    assert token["smart_style_url"] == "https://ehr.example/style.json"
    claims = decode(token["access_token"], await smart.jwks())
    assert (claims["patient"], claims["encounter"], claims["fhirUser"]) == (
        "p1", "e1", "Practitioner/doc1"
    )  # fmt: skip


async def test_a_launch_for_any_app_and_a_launch_bearer_token(smart: Smart) -> None:
    ehr_token = await smart.token(
        {"grant_type": "client_credentials", "scope": "system/*.rs"}, **basic("ehr", EHR_SECRET)
    )
    bearer = {"Authorization": f"Bearer {ehr_token.json()['access_token']}"}
    created = await launch(smart, {"patient": "p2"}, **bearer)
    assert created.status_code == 201, created.text
    assert "launch_url" not in created.json()
    auth = Authorization("public-app", SCOPE, extra={"launch": created.json()["launch"]})
    params = await smart.browser.code(auth, "doctor")
    resp = await smart.token(
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT,
            "client_id": "public-app",
            "code_verifier": auth.verifier,
        }
    )
    assert resp.json()["patient"] == "p2" and "encounter" not in resp.json()
    assert resp.json()["need_patient_banner"] is True


async def test_the_launch_api_needs_an_ehr(smart: Smart) -> None:
    nobody = await smart.client.post("auth/launch", json={"patient": "p1"})
    assert nobody.status_code == 401 and nobody.json()["error"] == "invalid_client"
    wrong = await launch(smart, {"patient": "p1"}, **basic("ehr", "wrong-secret"))
    assert wrong.status_code == 401
    not_ehr = await launch(smart, {"patient": "p1"}, **basic("conf-app", SECRET))
    assert not_ehr.status_code == 403 and not_ehr.json()["error"] == "unauthorized_client"
    junk = await launch(smart, {}, Authorization="Bearer not-a-token")
    assert junk.status_code == 401


async def test_the_launch_api_checks_the_context(smart: Smart) -> None:
    cases = [
        ({"patient": "nobody"}, "No Patient/nobody"),
        ({"patient": "p1", "encounter": "e2"}, "Encounter/e2 is not the patient's"),
        ({"patient": "p1", "encounter": "nope"}, "No Encounter/nope"),
        ({"patient": "p1", "client_id": "no-such-app"}, "No client 'no-such-app'"),
        ({"patient": 12}, "'patient' must be a non-empty string"),
        ({"need_patient_banner": "yes"}, "'need_patient_banner' must be true or false"),
    ]
    for body, message in cases:
        resp = await launch(smart, body)
        assert resp.status_code == 400, body
        assert resp.json() == {"error": "invalid_request", "error_description": message}
    not_json = await smart.client.post(
        "auth/launch", content=b"{", headers=basic("ehr", EHR_SECRET)
    )
    assert not_json.status_code == 400


async def test_launch_errors_go_back_to_the_app(smart: Smart) -> None:
    for_other = (await launch(smart, {"patient": "p1", "client_id": "conf-app"})).json()
    cases = [
        {"launch": "unknown-launch-id"},
        {"launch": for_other["launch"]},  # bound to another app
        {},  # the launch scope without a launch
    ]
    for extra in cases:
        auth = Authorization("public-app", SCOPE, extra=extra)
        params = redirect_params(await smart.browser.start(auth))
        assert params["error"] == "invalid_request", extra
        assert params["state"] == auth.state and "code" not in params


async def test_a_launch_opens_no_one_elses_record(smart: Smart) -> None:
    for_p2 = (await launch(smart, {"patient": "p2"})).json()["launch"]
    for_doctor = (await launch(smart, {"patient": "p1", "user": "doctor"})).json()["launch"]
    for launch_id, user in ((for_p2, "citizen"), (for_doctor, "citizen")):
        auth = Authorization("public-app", SCOPE, extra={"launch": launch_id})
        page = await smart.browser.login(await smart.browser.start(auth), user)
        params = redirect_params(page)
        assert params["error"] == "access_denied" and "code" not in params, user
    for launch_id, user in ((for_p2, "mother"), (for_doctor, "doctor")):
        auth = Authorization("public-app", SCOPE, extra={"launch": launch_id})
        params = await smart.browser.code(auth, user)
        assert params["code"], user
    unknown = await launch(smart, {"patient": "p1", "user": "nobody"})
    assert unknown.status_code == 400 and unknown.json()["error_description"] == "No user 'nobody'"
