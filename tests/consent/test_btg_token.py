"""Break-the-glass (værdispring, issue 12 item 4) asked for when the SMART token is issued:
``purpose_of_use=BTG`` with a mandatory ``btg_reason`` on the authorization request becomes the
token's ``purpose_of_use``/``btg_reason``/``btg_until`` claims, for a bounded time; refused for
citizens, relatives, non-health sectors and backend services. Through the real authorization
pages and token endpoint, on both stores."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import auth.keys
import auth.users
from auth.clients import Registration
from auth.principal import Principal
from auth.tokens import Context, Grant, access_claims
from fhir_server.cli import main
from tests.smart.conftest import _SERVER_KEYS, Smart, make_smart
from tests.smart.support import (
    BACKEND_BASIC_SECRET,
    BASE,
    PASSWORD,
    REDIRECT,
    Authorization,
    basic,
    decode,
    redirect_params,
)
from tests.support.backends import BACKENDS

SCOPE = "openid fhirUser user/*.rs"
REASON = "Unconscious, arrived by ambulance; allergies unknown"
SOR = "urn:oid:1.2.208.176.1.1"

DIRECTORY: list[dict[str, Any]] = [
    {"resourceType": "Organization", "id": "region-h",
     "identifier": [{"system": "urn:iso:std:iso:3166:-2", "value": "DK-84"}]},
    {"resourceType": "Organization", "id": "er", "partOf": {"reference": "Organization/region-h"},
     "identifier": [{"system": SOR, "value": "100000000001"}]},
    {"resourceType": "Organization", "id": "kommune", "identifier": [
        {"system": "http://hl7.dk/fhir/core/CodeSystem/dk-core-municipality-codes",
         "value": "0751"}]},
    {"resourceType": "Organization", "id": "ppr", "partOf": {"reference": "Organization/kommune"},
     "identifier": [{"system": "https://kombit.dk/sts/organisation", "value": "urn:uuid:1"}]},
    # the shared SMART world makes doc1 a GP (tests/smart/conftest.py): here she works in the ER
    {"resourceType": "PractitionerRole", "id": "doc1-gp", "active": False,
     "practitioner": {"reference": "Practitioner/doc1"},
     "organization": {"reference": "Organization/clinic"}},
    {"resourceType": "PractitionerRole", "id": "doc1-er", "active": True,
     "practitioner": {"reference": "Practitioner/doc1"},
     "organization": {"reference": "Organization/er"}},
    {"resourceType": "Practitioner", "id": "sw"},
    {"resourceType": "PractitionerRole", "id": "sw-ppr", "active": True,
     "practitioner": {"reference": "Practitioner/sw"},
     "organization": {"reference": "Organization/ppr"}},
]  # fmt: skip


@pytest.fixture(autouse=True)
def _cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the SMART suite does: cheap password hashes, premade signing keys."""
    monkeypatch.setattr(auth.users, "SCRYPT_COST", 2**10)
    turn = itertools.cycle(_SERVER_KEYS)
    monkeypatch.setattr(auth.keys, "_new_key", lambda: {**next(turn), "created": time.time()})


async def _running(backend: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[Smart]:
    async for smart in make_smart(backend, tmp_path, **overrides):
        async with smart.app.store.transaction() as uow:
            for resource in DIRECTORY:
                await uow.write(resource["resourceType"], resource["id"], resource, method="PUT")
        await smart.server.users.add("social", "PractitionerRole/sw-ppr", PASSWORD, "Sofie")
        await smart.server.clients.add(
            Registration("home-svc", "confidential-symmetric", backend=True, scope="system/*.rs",
                         secret=BACKEND_BASIC_SECRET, organization="Organization/er")
        )  # fmt: skip
        yield smart


@pytest.fixture(params=BACKENDS)
async def smart(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Smart]:
    async for running in _running(str(request.param), tmp_path):
        yield running


def _btg(**extra: str) -> Authorization:
    return Authorization("public-app", SCOPE, extra={"purpose_of_use": "BTG", **extra})


async def _exchange(smart: Smart, auth: Authorization, code: str) -> dict[str, Any]:
    resp = await smart.token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": "public-app",
            "code_verifier": auth.verifier,
        }
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def _principal(smart: Smart, token: str) -> Principal:
    """The principal the FHIR API builds for ``token`` on a real request."""
    authenticator = smart.app.fhir.authenticator
    seen: list[Principal] = []
    original = authenticator.authenticate

    async def spy(authorization: str | None, base: str) -> Principal:
        seen.append(await original(authorization, base))
        return seen[-1]

    authenticator.authenticate = spy  # type: ignore[method-assign]
    try:
        resp = await smart.client.get("Patient", headers={"Authorization": f"Bearer {token}"})
    finally:
        del authenticator.authenticate
    assert resp.status_code == 200, resp.text
    return seen[-1]


async def test_health_professional_gets_a_btg_token(smart: Smart) -> None:
    auth = _btg(btg_reason=REASON)
    before = int(time.time())
    page = await smart.browser.login(await smart.browser.start(auth), "doctor")
    assert "Værdispring (nødadgang) i 4 timer" in page.text and REASON in page.text
    params = redirect_params(await smart.browser.approve(page))
    body = await _exchange(smart, auth, params["code"])
    claims = decode(body["access_token"], await smart.jwks())
    assert (claims["purpose_of_use"], claims["btg_reason"]) == ("EMERGENCY", REASON)
    # the default 4 h is longer than the 1 h token: it ends with the token
    assert claims["btg_until"] == claims["exp"]
    principal = await _principal(smart, body["access_token"])
    assert (principal.person, principal.role, principal.sector) == (
        "Practitioner/doc1",
        "PractitionerRole/doc1-er",
        "region",
    )
    assert (principal.purpose, principal.btg_reason) == ("EMERGENCY", REASON)
    assert principal.btg_active(before + 1) and not principal.btg_active(claims["exp"])


@pytest.mark.parametrize("backend", BACKENDS[:1])
async def test_btg_duration_is_configurable(backend: str, tmp_path: Path) -> None:
    async for smart in _running(backend, tmp_path, btg_seconds=600):
        auth = _btg(btg_reason=REASON)
        params = await smart.browser.code(auth, "doctor")
        body = await _exchange(smart, auth, params["code"])
        claims = decode(body["access_token"], await smart.jwks())
        assert claims["btg_until"] < claims["exp"]
        assert claims["iat"] + 595 <= claims["btg_until"] <= claims["iat"] + 605
        principal = await _principal(smart, body["access_token"])
        assert principal.btg_until == claims["btg_until"]


async def test_a_token_without_btg_has_treatment_purpose(smart: Smart) -> None:
    auth = Authorization("public-app", SCOPE)
    body = await _exchange(smart, auth, (await smart.browser.code(auth, "doctor"))["code"])
    claims = decode(body["access_token"], await smart.jwks())
    assert "purpose_of_use" not in claims and "btg_reason" not in claims
    principal = await _principal(smart, body["access_token"])
    assert (principal.purpose, principal.btg_active(time.time())) == ("TREATMENT", False)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({}, "needs a btg_reason"),
        ({"btg_reason": "   "}, "needs a btg_reason"),
        ({"btg_reason": "x" * 501}, "at most 500"),
        ({"purpose_of_use": "PLEASE", "btg_reason": REASON}, "must be one of TREATMENT"),
        ({"purpose_of_use": "TREATMENT", "btg_reason": REASON}, "only for purpose_of_use"),
    ],
)
async def test_malformed_btg_request_is_an_oauth_error(
    smart: Smart, extra: dict[str, str], says: str
) -> None:
    auth = _btg(**extra)
    params = redirect_params(await smart.browser.start(auth))
    assert (params["error"], params["state"]) == ("invalid_request", auth.state)
    assert says in params["error_description"]
    assert "code" not in params


@pytest.mark.parametrize("username", ["citizen", "mother", "social"])
async def test_btg_refused_for_citizens_relatives_and_non_health_sectors(
    smart: Smart, username: str
) -> None:
    auth = _btg(btg_reason=REASON)
    params = redirect_params(await smart.browser.login(await smart.browser.start(auth), username))
    assert (params["error"], params["state"]) == ("access_denied", auth.state)
    assert "only for health professionals" in params["error_description"]
    assert "code" not in params


async def test_btg_refused_for_backend_services(smart: Smart) -> None:
    form = {"grant_type": "client_credentials", "scope": "system/*.rs", "purpose_of_use": "BTG"}
    for extra in ({"btg_reason": REASON}, {}):
        resp = await smart.token({**form, **extra}, **basic("home-svc", BACKEND_BASIC_SECRET))
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"] == "invalid_request"
    said = (await smart.token({**form, "btg_reason": REASON}, **basic("home-svc",
            BACKEND_BASIC_SECRET))).json()["error_description"]  # fmt: skip
    assert "backend service acts for no person" in said


async def test_backend_service_token_carries_its_organization(smart: Smart) -> None:
    form = {"grant_type": "client_credentials", "scope": "system/*.rs"}
    resp = await smart.token(form, **basic("home-svc", BACKEND_BASIC_SECRET))
    assert resp.status_code == 200, resp.text
    token = resp.json()["access_token"]
    assert decode(token, await smart.jwks())["organization_id"] == "Organization/er"
    principal = await _principal(smart, token)
    assert (principal.organization, principal.organizations, principal.sector) == (
        "Organization/er",
        ("Organization/er", "Organization/region-h"),
        "region",
    )
    assert (principal.person, principal.health_professional) == (None, False)


def test_a_lapsed_btg_gives_ordinary_tokens() -> None:
    """A refresh after the break-the-glass ended: the grant's tokens no longer carry it."""
    now = time.time()
    lapsed = Context(fhir_user="Practitioner/doc1", purpose_of_use="EMERGENCY",
                     btg_reason=REASON, btg_until=now - 1)  # fmt: skip
    claims = access_claims(Grant("g", "app", "doctor", ["user/*.rs"], lapsed), BASE, 3600, [])
    assert not {"purpose_of_use", "btg_reason", "btg_until"} & set(claims)
    live = Context(purpose_of_use="EMERGENCY", btg_reason=REASON, btg_until=now + 60)
    claims = access_claims(Grant("g", "app", "doctor", ["user/*.rs"], live), BASE, 3600, [])
    assert claims["btg_until"] == int(now + 60) and claims["purpose_of_use"] == "EMERGENCY"


def test_cli_registers_a_backend_for_an_organization(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FHIR_STORE_URL", f"sqlite:///{tmp_path / 'fhir.db'}")
    monkeypatch.delenv("FHIR_AUTH", raising=False)
    argv = ["clients", "add", "svc", "--type", "confidential-symmetric", "--backend"]
    assert main([*argv, "--organization", "Organization/er"]) == 0
    assert "acts for: Organization/er" in capsys.readouterr().out
    assert main(["clients", "list"]) == 0
    assert "Organization/er" in capsys.readouterr().out
    assert main([*argv[:2], "bad", *argv[3:], "--organization", "er"]) == 2
    assert "--organization: Organization/<id> or system|value" in capsys.readouterr().err
