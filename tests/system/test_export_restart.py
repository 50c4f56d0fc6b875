"""A bulk export survives its server: SIGKILL a real ``fhir-server serve`` process in the middle
of an export, start another on the same SQLite file, and the job goes on from its saved
progress to a manifest whose file holds every resource exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import orjson

from fhir_server.search.extract import index_resource
from fhir_server.store.sqlite.store import SqliteStore
from tests.system.servers import Launcher

PATIENTS = 3000
ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


async def _seed(db: Path) -> None:
    store = SqliteStore(str(db), index_resource)
    await store.open()
    try:
        async with store.transaction() as uow:
            for i in range(PATIENTS):
                patient = {"resourceType": "Patient", "id": f"p{i:05d}", "active": True}
                await uow.write("Patient", patient["id"], patient, method="PUT")
    finally:
        await store.close()


async def _status(client: httpx.AsyncClient, url: str) -> httpx.Response:
    return await client.get(url, headers={"Accept": "application/json"})


async def test_an_export_goes_on_after_the_server_is_killed(tmp_path: Path) -> None:
    db = tmp_path / "fhir.db"
    await _seed(db)
    env = {
        "FHIR_EXPORT_PAGE_SIZE": "5",
        "FHIR_EXPORT_LEASE_SECONDS": "1",
        "FHIR_EXPORT_DIR": str(tmp_path / "exports"),
    }
    with Launcher(db, env) as launcher:
        first = launcher.start()
        async with httpx.AsyncClient(base_url=first.base + "/", timeout=30) as client:
            resp = await client.get("$export?_type=Patient", headers=ASYNC)
            assert resp.status_code == 202, resp.text
            status = resp.headers["content-location"].removeprefix(first.base + "/")
            for _ in range(2000):  # until some pages are written
                resp = await _status(client, status)
                assert resp.status_code == 202, "the export ended before the kill"
                if "0 types done, 0 resources" not in resp.headers["x-progress"]:
                    break
                await asyncio.sleep(0.005)
        first.kill()
        partial = list((tmp_path / "exports").rglob("Patient.ndjson"))
        assert len(partial) == 1 and partial[0].stat().st_size > 0

        second = launcher.start()
        async with httpx.AsyncClient(base_url=second.base + "/", timeout=30) as client:
            for _ in range(3000):
                resp = await _status(client, status)
                if resp.status_code == 200:
                    break
                assert resp.status_code == 202, resp.text
                await asyncio.sleep(0.02)
            assert resp.status_code == 200, "the export did not finish after the restart"
            manifest = resp.json()
            assert [(o["type"], o["count"]) for o in manifest["output"]] == [("Patient", PATIENTS)]
            url = manifest["output"][0]["url"].split("/fhir/", 1)[1]
            got = await client.get(url, headers={"Accept": "application/fhir+ndjson"})
            assert got.status_code == 200
        ids = [orjson.loads(line)["id"] for line in got.content.splitlines()]
        assert sorted(ids) == [f"p{i:05d}" for i in range(PATIENTS)]  # each exactly once
