"""A read that fails does its work once (issue 11, "an unauthorized read authenticates once"):
the plain-read branch answers its own errors instead of handing the request to the general path
to authenticate and read again. Counted with wrappers around the app's authenticator and the
store's ``read``, so any backend is seen alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.auth.conftest import ADMIN, Server, issue, mint


@dataclass
class Calls:
    authentications: int = 0
    reads: list[str] = field(default_factory=list)


def _count(server: Server, monkeypatch: pytest.MonkeyPatch) -> Calls:
    calls = Calls()
    authenticator = server.app.fhir.authenticator
    authenticate = authenticator.authenticate
    store = server.app.store
    read = store.read

    async def counted_authenticate(authorization: str | None, base: str) -> Any:
        calls.authentications += 1
        return await authenticate(authorization, base)

    async def counted_read(type_: str, id_: str) -> Any:
        calls.reads.append(f"{type_}/{id_}")
        return await read(type_, id_)

    monkeypatch.setattr(authenticator, "authenticate", counted_authenticate)
    monkeypatch.setattr(store, "read", counted_read)
    return calls


@pytest.mark.parametrize("url", ["Patient/p1", "Patient/p1?_pretty=false"], ids=["plain", "query"])
@pytest.mark.parametrize("token", [None, "not-a-jwt"], ids=["no-token", "bad-token"])
async def test_an_unauthorized_read_authenticates_once(
    server: Server, monkeypatch: pytest.MonkeyPatch, url: str, token: str | None
) -> None:
    calls = _count(server, monkeypatch)
    resp = await server.get(url, token)
    assert resp.status_code == 401
    assert "www-authenticate" in resp.headers
    assert calls.authentications == 1
    assert calls.reads == []


@pytest.mark.parametrize("url", ["Patient/p2", "Patient/p2?_pretty=false"], ids=["plain", "query"])
async def test_a_hidden_read_authenticates_and_reads_once(
    server: Server, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    token = mint("launch/patient patient/Patient.rs", patient="p1")
    await server.get("Patient/p1", token)  # the token's caches are warm
    calls = _count(server, monkeypatch)
    resp = await server.get(url, token)
    assert resp.status_code == 404
    assert issue(resp)["code"] == "not-found"
    assert calls.authentications == 1
    assert calls.reads == ["Patient/p2"]


async def test_a_missing_read_authenticates_and_reads_once(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count(server, monkeypatch)
    resp = await server.get("Patient/nobody", mint(ADMIN))
    assert resp.status_code == 404
    assert calls.authentications == 1
    assert calls.reads == ["Patient/nobody"]


async def test_a_deleted_read_reads_once(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = mint(ADMIN)
    assert (await server.send("DELETE", "Medication/med", admin)).status_code in (200, 204)
    calls = _count(server, monkeypatch)
    resp = await server.get("Medication/med", admin)
    assert resp.status_code == 410
    assert calls.authentications == 1
    assert calls.reads == ["Medication/med"]


async def test_a_forbidden_type_authenticates_once(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = mint("launch/patient patient/Patient.rs", patient="p1")
    calls = _count(server, monkeypatch)
    resp = await server.get("Medication/med", token)
    assert resp.status_code == 403
    assert calls.authentications == 1
    assert calls.reads == []


async def test_a_permitted_read_authenticates_and_reads_once(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count(server, monkeypatch)
    resp = await server.get("Patient/p1", mint(ADMIN))
    assert resp.status_code == 200
    assert calls.authentications == 1
    assert calls.reads == ["Patient/p1"]


@pytest.mark.parametrize(
    ("url", "scope", "status"),
    [
        ("Patient/p1", None, 401),
        ("Patient/p2", "launch/patient patient/Patient.rs", 404),
        ("Medication/med", "launch/patient patient/Patient.rs", 403),
    ],
    ids=["unauthorized", "hidden", "forbidden"],
)
async def test_a_refused_plain_read_answers_as_the_general_path(
    server: Server, url: str, scope: str | None, status: int
) -> None:
    token = mint(scope, patient="p1") if scope else None
    short = await server.get(url, token)
    general = await server.get(url + "?_pretty=false", token)
    assert short.status_code == general.status_code == status
    assert short.headers.multi_items() == general.headers.multi_items()
    assert short.content == general.content
