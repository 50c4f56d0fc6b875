"""In-process half of bench/smart.py: the FHIR ASGI app called directly (no sockets, no
uvicorn), so the microseconds token checking adds to a read stand out from the noise a shared
machine puts into HTTP throughput. Batches alternate between the apps; the fastest batch of each
counts (interference only ever slows a batch down)."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

from bench.smart_app import JwksFile, never_revoked
from fhir_server.app import ServerApp
from fhir_server.config import Settings

BATCH = 2000


async def _read(app: ServerApp, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "scheme": "http",
    }
    await app(scope, receive, send)
    return int(sent[0]["status"])


async def _batch(app: ServerApp, requests: list[tuple[str, list[tuple[bytes, bytes]]]]) -> float:
    start = time.perf_counter()
    for path, headers in requests:
        if await _read(app, path, headers) != 200:
            raise RuntimeError(f"GET {path} did not answer 200")
    return (time.perf_counter() - start) / len(requests) * 1e6


async def measure(
    db: Path, base: str, jwks: Path, ids: list[str], tokens: dict[str, list[str]], batches: int
) -> dict[str, float]:
    """µs per read for ``off`` and each token kind in ``tokens`` (name → token per id)."""
    common = {"store_url": f"sqlite:///{db}", "base_url": base, "install_conformance": False}
    off = ServerApp(Settings(auth="off", **common))
    smart = ServerApp(
        Settings(auth="smart", **common), keys=JwksFile(str(jwks)), is_revoked=never_revoked
    )
    await off.startup()
    await smart.startup()
    rng = random.Random(1)
    plans: dict[str, list[tuple[str, list[tuple[bytes, bytes]]]]] = {}
    for name, per_id in {"off": tokens["system"], **tokens}.items():
        picks = [rng.randrange(len(ids)) for _ in range(BATCH)]
        plans[name] = [
            (
                f"/fhir/Patient/{ids[i]}",
                [(b"host", b"bench.local"), (b"authorization", f"Bearer {per_id[i]}".encode())],
            )
            for i in picks
        ]
    best = {name: float("inf") for name in plans}
    try:
        for _ in range(batches):
            for name, plan in plans.items():
                app = off if name == "off" else smart
                best[name] = min(best[name], await _batch(app, plan))
    finally:
        await off.shutdown()
        await smart.shutdown()
    return best


def run(
    db: Path, base: str, jwks: Path, ids: list[str], tokens: dict[str, list[str]]
) -> dict[str, float]:
    return asyncio.run(measure(db, base, jwks, ids, tokens, batches=7))
