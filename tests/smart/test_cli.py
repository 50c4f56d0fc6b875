"""``fhir-server clients|users|keys`` and the demo's users and clients, used through the server
afterwards: what the CLI registers in the database is what the authorization server uses."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fhir_server.app import ServerApp
from fhir_server.cli import main
from fhir_server.config import Settings
from tests.smart.support import (
    BASE,
    REDIRECT,
    Authorization,
    Keys,
    basic,
    decode,
    form_value,
    header,
)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "fhir.db"
    monkeypatch.setenv("FHIR_STORE_URL", f"sqlite:///{path}")
    monkeypatch.delenv("FHIR_AUTH", raising=False)
    return path


@asynccontextmanager
async def serving(db: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = ServerApp(Settings(store_url=f"sqlite:///{db}", install_conformance=False))
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield client
    finally:
        await app.shutdown()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_clients(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "clients", "add", "svc", "--type", "confidential-symmetric",
                       "--backend", "--scope", "system/Patient.rs")  # fmt: skip
    assert code == 0
    secret = re.search(
        r"client secret \(shown once; HTTP Basic at the token endpoint\): (\S+)", out
    )
    assert secret is not None
    keys = Keys.ec()
    (tmp_path / "jwks.json").write_text(json.dumps(keys.jwks))
    code, _, _ = run(capsys, "clients", "add", "robot", "--type", "confidential-asymmetric",
                     "--backend", "--jwks", str(tmp_path / "jwks.json"))  # fmt: skip
    assert code == 0
    code, _, _ = run(capsys, "clients", "add", "web", "--type", "public",
                     "--redirect-uri", REDIRECT)  # fmt: skip
    assert code == 0
    code, out, _ = run(capsys, "clients", "list")
    clients = [line for line in out.splitlines() if not line.startswith(" ")]  # then details
    assert [line.split("\t")[:2] for line in clients] == [
        ["robot", "confidential-asymmetric"], ["svc", "confidential-symmetric"], ["web", "public"]
    ]  # fmt: skip

    async def use() -> None:
        async with serving(db) as client:
            by_secret = await client.post(
                "auth/token",
                data={"grant_type": "client_credentials", "scope": "system/Patient.rs"},
                headers=basic("svc", secret.group(1)),
            )
            assert by_secret.status_code == 200, by_secret.text
            by_key = await client.post(
                "auth/token",
                data={"grant_type": "client_credentials", "scope": "system/*.rs",
                      **keys.form("robot")},
            )  # fmt: skip
            assert by_key.status_code == 200, by_key.text

    asyncio.run(use())

    assert run(capsys, "clients", "remove", "svc")[0] == 0
    assert run(capsys, "clients", "remove", "svc")[0] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["web", "--type", "public"], "--redirect-uri: an app needs at least one"),
        (["web", "--type", "public", "--redirect-uri", "/cb"], "an absolute URI"),
        (["w b", "--type", "public", "--redirect-uri", REDIRECT], "client id"),
        (["web", "--type", "public", "--backend"], "--backend needs a confidential client"),
        (["r", "--type", "confidential-asymmetric", "--backend"], "give --jwks or --jwks-url"),
        (["web", "--type", "public", "--redirect-uri", REDIRECT, "--scope", "patient/*.xyz"],
         "'patient/*.xyz' is not a SMART scope"),
    ],
)  # fmt: skip
def test_bad_client_registrations(
    db: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, "clients", "add", *argv)
    assert code == 2 and message in err


def test_client_keys_must_be_public_and_rs384_or_es384(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = Keys.rsa("RS256")
    for jwks, message in (
        ({"keys": [keys.private.as_dict(private=True)]}, "is private"),
        (keys.jwks, "use RS384 or ES384"),
        ({"keys": []}, "non-empty 'keys'"),
    ):
        (tmp_path / "k.json").write_text(json.dumps(jwks))
        code, _, err = run(capsys, "clients", "add", "r", "--type", "confidential-asymmetric",
                           "--backend", "--jwks", str(tmp_path / "k.json"))  # fmt: skip
        assert code == 2 and message in err
    code, _, _ = run(
        capsys, "clients", "add", "web", "--type", "public", "--redirect-uri", REDIRECT
    )
    assert code == 0
    code, _, err = run(
        capsys, "clients", "add", "web", "--type", "public", "--redirect-uri", REDIRECT
    )
    assert code == 2 and "exists (use --replace)" in err


def test_users_and_keys(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "users", "add", "anna", "--fhir-user", "Patient/p9")
    assert code == 0 and "registered citizen 'anna' as Patient/p9" in out
    assert "Patient/p9 is not in the store" in err
    password = re.search(r"password \(shown once\): (\S+)", out)
    assert password is not None
    code, _, err = run(
        capsys, "users", "add", "x", "--fhir-user", "Device/1", "--password", "x" * 8
    )
    assert code == 2 and "--fhir-user" in err
    code, _, err = run(
        capsys, "users", "add", "y", "--fhir-user", "Patient/1", "--password", "short"
    )
    assert code == 2 and "at least 8 characters" in err
    assert (
        run(capsys, "clients", "add", "web", "--type", "public", "--redirect-uri", REDIRECT)[0] == 0
    )

    async def sign_in() -> str:
        async with serving(db) as client:
            kid = (await client.get(".well-known/jwks.json")).json()["keys"][0]["kid"]
            auth = Authorization("web", "patient/*.rs")
            login = await client.get("auth/authorize", params=auth.params())
            data = {"request": form_value(login.text, "request"), "username": "anna"}
            approval = await client.post("auth/login", data={**data, "password": password.group(1)})
            assert "Giv adgang" in approval.text
            return str(kid)

    first_kid = asyncio.run(sign_in())

    code, out, _ = run(capsys, "users", "list")
    assert out.split("\t")[:3] == ["anna", "citizen", "Patient/p9"]
    assert run(capsys, "users", "remove", "anna")[0] == 0
    assert run(capsys, "users", "remove", "anna")[0] == 1

    assert run(capsys, "keys", "rotate")[0] == 0
    argv = ("clients", "add", "svc", "--type", "confidential-symmetric", "--backend")
    secret = re.search(r"client secret \(shown once[^)]*\): (\S+)", run(capsys, *argv)[1])
    assert secret is not None

    async def keys_after() -> None:
        async with serving(db) as client:
            jwks = (await client.get(".well-known/jwks.json")).json()
            kids = [k["kid"] for k in jwks["keys"]]
            assert len(kids) == 2 and kids[1] == first_kid  # the new key first, the old kept
            token = await client.post(
                "auth/token",
                data={"grant_type": "client_credentials", "scope": "system/*.rs"},
                headers=basic("svc", secret.group(1)),
            )
            assert header(token.json()["access_token"])["kid"] == kids[0]  # signs with the new

    asyncio.run(keys_after())


def test_demo_users_and_clients(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--no-progress")
    assert code == 0
    assert "SMART on FHIR (FHIR_AUTH=smart)" in out
    nanna = re.search(r"^  nanna +(\S+) +PractitionerRole/demo-midt-bua-doctor-1-role", out, re.M)
    ehr = re.search(r"curl -u demo-ehr:(\S+) ", out)
    assert nanna is not None and ehr is not None
    asyncio.run(_use_demo(db, nanna.group(1), ehr.group(1)))


async def _use_demo(db: Path, password: str, ehr_secret: str) -> None:
    callback = "http://localhost:8000/callback"
    async with serving(db) as client:
        launched = await client.post(
            "auth/launch",
            json={"patient": "demo-s2-child", "client_id": "demo-app"},
            headers=basic("demo-ehr", ehr_secret),
        )
        assert launched.status_code == 201, launched.text
        assert launched.json()["launch_url"].startswith("http://localhost:8000/launch?iss=")

        auth = Authorization("demo-app", "launch/patient fhirUser patient/*.rs")
        login = await client.get(
            "auth/authorize", params={**auth.params(), "redirect_uri": callback}
        )
        request_id = form_value(login.text, "request")
        picker = await client.post(
            "auth/login", data={"request": request_id, "username": "nanna", "password": password}
        )
        assert "Emil Kjær" in picker.text
        await client.post(
            "auth/patient",
            data={"request": request_id, "action": "select", "patient": "demo-s2-child"},
        )
        done = await client.post(
            "auth/approve",
            data={"request": request_id, "decision": "approve", "scope": auth.scope.split()},
        )
        assert done.status_code == 302
        code = parse_qs(urlsplit(done.headers["location"]).query)["code"][0]
        token = await client.post(
            "auth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": callback,
                  "client_id": "demo-app", "code_verifier": auth.verifier},
        )  # fmt: skip
        assert token.status_code == 200, token.text
        jwks = (await client.get(".well-known/jwks.json")).json()
        claims = decode(token.json()["access_token"], jwks)
        assert claims["fhirUser"] == "PractitionerRole/demo-midt-bua-doctor-1-role"
        assert claims["patient"] == "demo-s2-child"


def test_token_for_backend_and_user(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.delenv("FHIR_BASE_URL", raising=False)
    assert run(capsys, "demo", "--no-progress")[0] == 0
    code, out, err = run(capsys, "token", "demo-writer")
    assert code == 0 and "for http://127.0.0.1:9123/fhir" in err
    backend = out.strip()
    code, out, _ = run(capsys, "token", "demo-app", "--user", "ella")
    assert code == 0
    relative = out.strip()

    async def check() -> None:
        async with serving(db) as client:
            jwks = (await client.get(".well-known/jwks.json")).json()
        claims = decode(backend, jwks)
        assert claims["aud"] == claims["iss"] == "http://127.0.0.1:9123/fhir"
        assert claims["scope"] == "system/*.cruds" and claims["sub"] == "demo-writer"
        claims = decode(relative, jwks)
        assert claims["fhirUser"] == "RelatedPerson/demo-s2-mother"
        assert claims["patient"] == "demo-s2-child"  # the child she acts for
        assert claims["client_id"] == "demo-app"

    asyncio.run(check())


def test_token_refusals(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "demo", "--no-progress")[0] == 0
    for argv, message in (
        (["nobody"], "no client 'nobody'"),
        (["demo-app"], "'demo-app' is not a backend service: give --user"),
        (["demo-app", "--user", "nobody"], "no user 'nobody'"),
        (["demo-app", "--user", "else", "--patient", "demo-s2-child"],
         "'else' acts only for Patient/demo-s7-citizen"),
        (["demo-ehr", "--scope", "system/Patient.cruds"], "none of 'system/Patient.cruds'"),
    ):  # fmt: skip
        code, out, err = run(capsys, "token", *argv)
        assert code == 2 and message in err and out == "", argv


def test_demo_standalone_launch_ends_on_the_servers_code_page(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The printed authorization URL and exchange command work as printed, without an app
    (the code arrives at the server's own page, not a dead localhost:8000)."""
    monkeypatch.setenv("FHIR_BASE_URL", BASE)
    code, out, _ = run(capsys, "demo", "--no-progress")
    assert code == 0
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Standalone launch"))
    url, exchange = lines[start + 1].strip(), lines[start + 3].strip()
    password = re.search(r"^  else +(\S+) +Patient/", out, re.M)
    assert url.startswith(f"{BASE}/auth/authorize?") and password is not None
    form = dict(re.findall(r"-d '?([a-z_]+)=([^' ]+)'?", exchange))
    assert exchange.endswith(f" {BASE}/auth/token") and form["code"] == "<the"

    async def launch() -> None:
        async with serving(db) as client:
            login = await client.get(url)
            request_id = form_value(login.text, "request")
            approval = await client.post(
                "auth/login",
                data={"request": request_id, "username": "else", "password": password.group(1)},
            )
            scopes = re.findall(r'name="scope" value="([^"]+)"', approval.text)
            done = await client.post(
                "auth/approve", data={"request": request_id, "decision": "approve", "scope": scopes}
            )
            assert done.status_code == 302
            page = await client.get(done.headers["location"])
            assert page.status_code == 200 and "Authorization code" in page.text
            issued = parse_qs(urlsplit(done.headers["location"]).query)["code"][0]
            assert issued in page.text
            token = await client.post("auth/token", data={**form, "code": issued})
            assert token.status_code == 200, token.text
            assert token.json()["patient"] == "demo-s7-citizen"
            forged = await client.get("auth/code", params={"code": "x'; rm -rf ~; '"})
            assert forged.status_code == 400 and "rm -rf" not in forged.text

    asyncio.run(launch())
