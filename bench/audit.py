"""What the audit costs a read: read-by-id through the ASGI app in process (no network), with a
clinician's token, ``FHIR_AUDIT`` on and off, SQLite synchronous FULL (or NORMAL), one and many
concurrent readers. ``.venv/bin/python -m bench.audit [--seconds 5] [--concurrency 1 32]
[--synchronous NORMAL]``; figures in
docs/audit.md (in-process figures: the relative cost is what they show). With ``--http``:
read-by-id with consent and audit on over HTTP against the raw-ASGI ceiling in the same run
(bench/audit_http.py; figures in docs/performance.md)."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from tests.api.support import BASE
from tests.auth.conftest import ADMIN, DATA, TestKeys, bearer, mint


async def _rate(
    audit: bool, concurrency: int, seconds: float, folder: Path, synchronous: str = "FULL"
) -> float:
    settings = Settings(
        sqlite_synchronous=synchronous,
        store_url=f"sqlite:///{folder / f'bench-{audit}-{concurrency}.db'}",
        auth="smart",
        audit=audit,
        required_profiles={},
        install_conformance=False,
    )
    app = ServerApp(settings, keys=TestKeys())
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            for resource in DATA:
                url = f"{resource['resourceType']}/{resource['id']}"
                await client.put(url, json=resource, headers=bearer(mint(ADMIN)))
            doctor = bearer(mint("user/*.rs", fhirUser="Practitioner/doc"))
            done = 0
            end = time.perf_counter() + seconds

            async def reader() -> None:
                nonlocal done
                while time.perf_counter() < end:
                    resp = await client.get("Observation/lab1", headers=doctor)
                    assert resp.status_code == 200
                    done += 1

            await asyncio.gather(*(reader() for _ in range(concurrency)))
            return done / seconds
    finally:
        await app.shutdown()


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--synchronous", choices=["FULL", "NORMAL"], default="FULL")
    parser.add_argument(
        "--http", action="store_true", help="over HTTP against the ceiling (bench.audit_http)"
    )
    parser.add_argument("--citizens", type=int, default=10_000, help="--http: data set size")
    parser.add_argument("--rounds", type=int, default=3, help="--http: alternations")
    parser.add_argument("--duration", type=float, default=3.0, help="--http: s per row")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/fhir-bench-audit"))
    parser.add_argument("--no-doc", action="store_true", help="--http: print, don't write")
    args = parser.parse_args()
    if args.http:
        from bench.audit_http import run

        run(args)
        return
    asyncio.run(main(args))


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for concurrency in args.concurrency:
            off = await _rate(False, concurrency, args.seconds, Path(tmp), args.synchronous)
            on = await _rate(True, concurrency, args.seconds, Path(tmp), args.synchronous)
            print(
                f"concurrency {concurrency:3}: audit off {off:7.0f} reads/s, on {on:7.0f}"
                f" reads/s ({on / off:.0%})"
            )


if __name__ == "__main__":
    cli()
