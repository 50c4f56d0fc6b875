"""What a real ``fhir-server serve`` process writes, as an operator reads it: one JSON access
line per request with method, path, status, duration and client id — never a query value
(a CPR number), a body, a secret or a token; no traceback when a client goes away; start-up
notices once (the SMART discovery URL, how to make a first client, the FHIR_AUTH=off banner);
and an OperationOutcome for HTTP the parser refuses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from tests.system.processes import Served, cli, newcomer_env
from tests.system.servers import HOST

CPR = "0101901234"


def _outcome(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert b"content-type: application/fhir+json" in head.lower(), head
    outcome = json.loads(body)
    assert outcome["resourceType"] == "OperationOutcome", outcome
    return dict(outcome)


def test_access_log_disconnects_and_start_up_notices(tmp_path: Path) -> None:
    env = newcomer_env(tmp_path)
    server = Served(env, tmp_path)
    try:
        printed = cli(env, "demo", "--no-progress")
        secret = re.search(r"demo-writer:(\S+) ", printed)
        assert secret is not None
        token = cli(env, "token", "demo-writer").strip()
        bearer = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.base + "/", timeout=60) as http:
            found = http.get(f"Patient?identifier=urn:oid:1.2.208.176.1.2|{CPR}", headers=bearer)
            assert found.status_code == 200
            assert http.get("Patient/demo-s1-citizen", headers=bearer).status_code == 200
            patient = {
                "resourceType": "Patient",
                "identifier": [{"system": "urn:oid:1.2.208.176.1.2", "value": "0202904321"}],
                "name": [{"family": "Hemmelig"}],
            }
            created = http.post("Patient", json=patient, headers=bearer)
            assert created.status_code == 201, created.text
            issued = http.post(
                "auth/token",
                data={"grant_type": "client_credentials", "scope": "system/*.rs"},
                auth=("demo-writer", secret.group(1)),
            )
            assert issued.status_code == 200, issued.text
            assert http.get("Patient/demo-s1-citizen").status_code == 401
        # clients that go away before their body is complete: the token endpoint, the FHIR API
        host = f"Host: {HOST}:{server.port}\r\n".encode()
        for path in (b"/fhir/auth/token", b"/fhir/Patient"):
            server.raw(
                b"POST " + path + b" HTTP/1.1\r\n" + host + b"Authorization: Bearer "
                + token.encode() + b"\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 1000\r\n\r\ngrant_type=client",
                wait=0.3,
            )  # fmt: skip
        # HTTP the parser refuses: an OperationOutcome, as far as uvicorn lets the app answer
        bad_length = b"POST /fhir/Patient HTTP/1.1\r\n" + host + b"Content-Length: abc\r\n\r\n"
        long_url = b"GET /fhir/Patient?name=" + b"a" * 100_000 + b" HTTP/1.1\r\n" + host + b"\r\n"
        many = b"&".join(b"name=%d" % i for i in range(10_000))
        many_params = b"GET /fhir/Patient?" + many + b" HTTP/1.1\r\n" + host + b"\r\n"
        for request in (bad_length, long_url, many_params):
            outcome = _outcome(server.raw(request))
            assert outcome["issue"][0]["code"] == "structure"  # type: ignore[index]
    finally:
        log = server.stop()

    assert f"SMART discovery: {server.base}/.well-known/smart-configuration" in log
    assert "No clients are registered yet: `fhir-server demo`" in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith('{"at":')]
    seen = [(a["method"], a["path"], a["status"], a["client"]) for a in lines]
    assert seen[:6] == [
        ("GET", "/fhir/Patient", 200, "demo-writer"),
        ("GET", "/fhir/Patient/demo-s1-citizen", 200, "demo-writer"),
        ("POST", "/fhir/Patient", 201, "demo-writer"),
        ("POST", "/fhir/auth/token", 200, None),
        ("GET", "/fhir/Patient/demo-s1-citizen", 401, None),
        ("POST", "/fhir/auth/token", 499, None),
    ]
    assert seen[6][:3] == ("POST", "/fhir/Patient", 499)
    assert all(isinstance(a["ms"], float | int) and a["at"].endswith("Z") for a in lines)
    for private in (CPR, "0202904321", "Hemmelig", "identifier=", token, secret.group(1)):
        assert private not in log
    assert "Traceback" not in log and "ERROR" not in log, log


def test_auth_off_banner_once_and_no_access_log(tmp_path: Path) -> None:
    env = newcomer_env(
        tmp_path, FHIR_AUTH="off", FHIR_ACCESS_LOG="off", FHIR_REQUIRED_PROFILES="{}"
    )
    server = Served(env, tmp_path)
    try:
        with httpx.Client(base_url=server.base + "/", timeout=60) as http:
            assert http.get("Patient", params={"identifier": CPR}).status_code == 200
    finally:
        log = server.stop()
    assert log.count("FHIR_AUTH=off: AUTHORIZATION IS SWITCHED OFF") == 1, log
    assert "access log: off" in log and '{"at":' not in log and CPR not in log
    assert "SMART discovery" not in log
