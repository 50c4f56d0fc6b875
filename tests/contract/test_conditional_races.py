"""Conditional creates racing through the real interaction layer (HTTP through the ASGI app) on
every backend: whatever criteria each racer sends, a resource that matches them is created once.

SQLite serializes writers; MongoDB runs transactions concurrently on snapshots, so racers that
decide "no match yet" must conflict even when their criteria texts differ. On the stand-in this
needs its snapshot-isolation mode (``tests/support/mongo_standin.py``), which reports write
conflicts as a real server does; with the serial mode the race could not happen at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from tests.contract.conftest import BACKENDS, make_backend

CPR = "urn:oid:1.2.208.176.1.2"
RACERS = 16
NUMBER = "0101015555"
CRITERIA = [
    f"identifier={CPR}|{NUMBER}",
    f"identifier={CPR}|{NUMBER}&family=Racer",
    "family=Racer",
    "name=Racer&birthdate=1970-01-01",
]
"""Four different criteria texts, each matching the one Patient the racers want to exist."""


@pytest.fixture(params=BACKENDS)
async def client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'unused.db'}",
        auth="off",
        required_profiles={},
        install_conformance=False,
    )
    app = ServerApp(settings, store=await make_backend(request.param, tmp_path))
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/fhir") as http:
            yield http
    finally:
        await app.shutdown()


def _racer() -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": CPR, "value": NUMBER}],
        "name": [{"family": "Racer"}],
        "birthDate": "1970-01-01",
    }


async def test_racing_conditional_creates_with_different_criteria_make_one_resource(
    client: httpx.AsyncClient,
) -> None:
    async def one(n: int) -> httpx.Response:
        headers = {"If-None-Exist": CRITERIA[n % len(CRITERIA)]}
        return await client.post("Patient", json=_racer(), headers=headers)

    responses = await asyncio.gather(*(one(n) for n in range(RACERS)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (RACERS - 1) + [201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    found = (await client.get("Patient", params={"identifier": f"{CPR}|{NUMBER}"})).json()
    assert len(found.get("entry", [])) == 1
