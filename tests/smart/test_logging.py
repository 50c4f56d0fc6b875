"""Secrets and tokens never reach the logs, even with every logger at DEBUG (authlib logs issued
tokens at DEBUG; the server keeps its logger at INFO)."""

from __future__ import annotations

import logging

import pytest

from tests.smart.conftest import Smart
from tests.smart.support import PASSWORD, REDIRECT, RS_SECRET, SECRET, Authorization, basic


async def test_no_secret_or_token_is_logged(smart: Smart, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [PASSWORD, SECRET, RS_SECRET]
    login = await smart.browser.start(Authorization("conf-app", "openid fhirUser offline_access"))
    await smart.browser.login(login, "citizen", "a wrong password")
    auth = Authorization("conf-app", "launch/patient openid fhirUser offline_access patient/*.rs")
    params = await smart.browser.code(auth, "citizen")
    issued = await smart.token(
        {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": REDIRECT,
         "code_verifier": auth.verifier},
        **basic("conf-app", SECRET),
    )  # fmt: skip
    tokens = issued.json()
    refreshed = await smart.token(
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        **basic("conf-app", SECRET),
    )
    assertion = smart.backend_rs.form("backend-rs")
    backend = await smart.token({"grant_type": "client_credentials", "scope": "system/*.rs",
                                 **assertion})  # fmt: skip
    await smart.client.post(
        "auth/introspect", data={"token": tokens["access_token"]}, headers=basic("rs", RS_SECRET)
    )
    await smart.client.post(
        "auth/revoke", data={"token": refreshed.json()["refresh_token"]},
        headers=basic("conf-app", SECRET),
    )  # fmt: skip
    secrets += [
        "a wrong password",
        params["code"],
        auth.verifier,
        tokens["access_token"],
        tokens["refresh_token"],
        tokens["id_token"],
        refreshed.json()["access_token"],
        refreshed.json()["refresh_token"],
        backend.json()["access_token"],
        assertion["client_assertion"],
    ]
    assert caplog.records  # the server did log (at DEBUG and above) ...
    logged = caplog.text
    for secret in secrets:
        assert secret not in logged  # ... none of these
