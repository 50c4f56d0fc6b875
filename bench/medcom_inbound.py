"""Inbound MedCom CareCommunications processed per second on one worker (issue 13): each one
validated against the CareCommunication 5.0 message profile, checked for duplicates, mapped to
a Communication, stored and acknowledged — `POST /fhir/$process-message` with a backend service
token (SMART on, consent and audit as in production), on SQLite.

The set-up data is written without the required Danish profiles (``FHIR_REQUIRED_PROFILES={}``:
MedCom's example citizens are not dk-core complete); a Communication has no required profile,
so the measured path is production's.

Two measurements:
- **HTTP**: a real server (`fhir-server serve --workers 1`) and ``--senders`` concurrent
  clients posting distinct messages (MedCom's cc-new-A example with fresh ids); messages per
  second of wall time, and per CPU-second of the worker (robust on a shared machine).
- **in process**: the ASGI app called directly, one message after another: µs per message
  without sockets or a client competing for the CPU.

``python -m bench.medcom_inbound [--messages N] [--senders N] [--cpu N]`` (``make
bench-medcom``; ``BENCH_AUTH=off`` runs the in-process half without SMART, consent and audit);
the figures are in docs/performance.md ("MedCom inbound").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from joserfc import jwt
from joserfc.jwk import RSAKey

from bench.loadgen import process_cpu_seconds
from bench.server import HOST, UVICORN_FLAGS, free_port, running
from bench.smart_app import JwksFile, never_revoked

EXAMPLES = Path(__file__).resolve().parents[1] / "tests" / "medcom" / "examples"
SOR = "urn:oid:1.2.208.176.1.1"
SCOPES = (
    "system/Bundle.c system/Communication.c system/Encounter.cru system/Task.c system/Patient.ru"
)
ADMIN = "system/*.cruds"


def _example(name: str) -> dict[str, Any]:
    return orjson.loads((EXAMPLES / name).read_bytes())  # type: ignore[no-any-return]


def setup_resources() -> list[dict[str, Any]]:
    """The examples' Patients and Organizations (under a region: health-sector backends) and a
    CareTeam per citizen with every organization a member (the sender's care relationship)."""
    data = _example("prerequisites.json")
    region = {
        "resourceType": "Organization",
        "id": "region-h",
        "identifier": [{"system": "urn:iso:std:iso:3166:-2", "value": "DK-84"}],
    }
    out: list[dict[str, Any]] = [region]
    for resource in data["Patient"] + data["Organization"]:
        resource = {k: v for k, v in resource.items() if k != "_from"}
        if resource["resourceType"] == "Organization":
            resource["partOf"] = {"reference": "Organization/region-h"}
        out.append(resource)
    members = [{"member": {"reference": f"Organization/{o['id']}"}} for o in data["Organization"]]
    for n, patient in enumerate(data["Patient"]):
        out.append(
            {
                "resourceType": "CareTeam",
                "id": f"team-{n}",
                "status": "active",
                "subject": {"reference": f"Patient/{patient['id']}"},
                "participant": members,
            }
        )
    return out


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TYPICAL = "cc-new-E-parallel.json"
"""A text-only CareCommunication (19 KB, like most): the headline figure."""
WITH_PDF = "cc-new-A.json"
"""Every element CareCommunication has, with a 180 KB PDF attachment (250 KB)."""


def messages(count: int, name: str = TYPICAL) -> list[bytes]:
    """``count`` distinct new CareCommunications: MedCom's example ``name`` with every UUID in
    it (envelope, letter, thread, segment and resource ids) fresh, as each real message has."""
    raw = (EXAMPLES / name).read_text(encoding="utf-8")
    found = sorted(set(_UUID.findall(raw)))
    out = []
    for _ in range(count):
        text = raw
        for old in found:
            text = text.replace(old, str(uuid.uuid4()))
        out.append(text.encode())
    return out


def _token(key: RSAKey, base: str, scope: str, **claims: object) -> str:
    t = int(time.time())
    payload = {"iss": base, "aud": base, "sub": "bench", "client_id": "bench", "scope": scope}
    payload |= {"iat": t, "exp": t + 7200, "jti": os.urandom(8).hex(), **claims}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, payload, key)


def sender_claims(name: str = TYPICAL) -> dict[str, str]:
    """The backend service of the example's sender organization (by its SOR id)."""
    bundle = _example(name)
    ref = bundle["entry"][0]["resource"]["sender"]["reference"]
    sender = next(e["resource"] for e in bundle["entry"] if e["fullUrl"].endswith(ref))
    sor = next(i["value"] for i in sender["identifier"] if i["system"] == SOR)
    return {"organization_id": f"{SOR}|{sor}"}


async def _seed(client: httpx.AsyncClient, admin: str) -> None:
    for resource in setup_resources():
        url = f"{resource['resourceType']}/{resource['id']}"
        resp = await client.put(url, content=orjson.dumps(resource), headers=_headers(admin))
        if resp.status_code not in (200, 201):
            raise RuntimeError(f"PUT {url}: {resp.status_code} {resp.text[:300]}")


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}


def _ok(resp: httpx.Response) -> None:
    if resp.status_code != 200 or b'"code":"ok"' not in resp.content:
        raise RuntimeError(f"not acknowledged ok: {resp.status_code} {resp.text[:500]}")


async def over_http(
    port: int, pid: int, bodies: list[bytes], token: str, senders: int
) -> dict[str, float]:
    base = f"http://{HOST}:{port}/fhir/"
    queue = list(reversed(bodies))
    limits = httpx.Limits(max_connections=senders)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def sender() -> None:
            while queue:
                body = queue.pop()
                _ok(await client.post("$process-message", content=body, headers=_headers(token)))

        cpu0, t0 = process_cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        wall, cpu = time.perf_counter() - t0, process_cpu_seconds(pid) - cpu0
    return {"messages": len(bodies), "per_s": len(bodies) / wall, "per_cpu_s": len(bodies) / cpu}


async def in_process(
    db: Path, jwks: Path, base: str, bodies: list[bytes], token: str
) -> tuple[float, float]:
    """(wall µs, CPU µs) per message, the ASGI app called directly, one message after another
    (the CPU time is this process's: the server's work and the in-process client's)."""
    from fhir_server.app import ServerApp
    from fhir_server.config import Settings

    settings = Settings(
        store_url=f"sqlite:///{db}",
        base_url=base,
        auth=os.environ.get("BENCH_AUTH", "smart"),
        install_conformance=False,
        required_profiles={},
    )
    app = ServerApp(settings, keys=JwksFile(str(jwks)), is_revoked=never_revoked)
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base + "/") as client:
            for body in bodies[:100]:  # warm-up
                _ok(await client.post("$process-message", content=body, headers=_headers(token)))
            t0, c0 = time.perf_counter(), time.process_time()
            for body in bodies[100:]:
                _ok(await client.post("$process-message", content=body, headers=_headers(token)))
            n = len(bodies) - 100
            wall = (time.perf_counter() - t0) / n * 1e6
            return wall, (time.process_time() - c0) / n * 1e6
    finally:
        await app.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    parser.add_argument(
        "--example", default=TYPICAL, help=f"the message sent (default {TYPICAL}; {WITH_PDF})"
    )
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-medcom-"))
    key = RSAKey.generate_key(2048, parameters={"kid": "bench-1"}, private=True)
    jwks = work / "jwks.json"
    jwks.write_bytes(orjson.dumps({"keys": [key.as_dict(private=False)]}))
    port = free_port()
    base = f"http://{HOST}:{port}/fhir"
    db = work / "fhir.db"
    env = {
        "FHIR_STORE_URL": f"sqlite:///{db}",
        "FHIR_BASE_URL": base,
        "FHIR_AUTH": "smart",
        "BENCH_JWKS": str(jwks),
        # the set-up data (MedCom's example citizens and organizations, minimal CareTeams) is
        # not written to the Danish profiles; a Communication has no required profile anyway
        "FHIR_REQUIRED_PROFILES": "{}",
    }
    token = _token(key, base, SCOPES, **sender_claims(opts.example))
    admin = _token(key, base, ADMIN)
    warm, bodies = messages(200, opts.example), messages(opts.messages, opts.example)

    command = [
        sys.executable,
        *("-m", "uvicorn", "bench.smart_app:create_app", "--factory"),
        *("--host", HOST, "--port", str(port), "--workers", "1"),
        *UVICORN_FLAGS,
    ]
    try:
        with running(command, port, env, work / "server.log", opts.cpu) as server:

            async def run() -> dict[str, float]:
                async with httpx.AsyncClient(base_url=base + "/", timeout=60) as client:
                    await _seed(client, admin)
                await over_http(port, server.pid, warm, token, opts.senders)  # warm-up
                return await over_http(port, server.pid, bodies, token, opts.senders)

            result = asyncio.run(run())
        print(
            f"HTTP, 1 worker, {opts.senders} senders: {result['per_s']:.0f} messages/s "
            f"({result['per_cpu_s']:.0f} per worker CPU-second), {result['messages']} messages"
        )
        wall, cpu = asyncio.run(
            in_process(db, jwks, base, messages(opts.messages, opts.example), token)
        )
        print(
            f"in process, one at a time: {wall:.0f} µs per message wall, {cpu:.0f} µs CPU "
            f"({1e6 / cpu:.0f} messages per CPU-second)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
