"""A transaction Bundle that MongoDB makes retry is decided again from the start, through the real
interaction layer (HTTP through the ASGI app) on the MongoDB store.

A real replica set answers a transaction whose document another writer changed first with a
WriteConflict (``TransientTransactionError``), and the store runs the whole unit of work again.
Conditional creates lock their resource type (a write to the ``locks`` collection), which is
where racing deciders collide. The stand-in makes that happen exactly where a test wants it
(``inject_write_conflict``), in its snapshot-isolation mode, so the other writer really commits
in between. A retry must start from the Bundle as the client sent it: an entry the failed attempt
changed (a conditional create that found no match and got an id, a reference resolved to that
id) must be matched and resolved again, against what the other writer committed meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from fhir_server.store.base import UnitOfWork, in_transaction
from fhir_server.store.mongo.schema import LOCKS
from fhir_server.store.mongo.store import MongoStore
from tests.support.backends import make_store
from tests.support.mongo_standin import AsyncMongoStandIn

CPR = "urn:oid:1.2.208.176.1.2"
NUMBER = "0101017777"
PATIENT_URL = "urn:uuid:0b6f5c52-0000-4000-8000-00000000aaaa"


@dataclass
class Server:
    client: httpx.AsyncClient
    store: MongoStore
    standin: AsyncMongoStandIn


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'unused.db'}",
        auth="off",
        required_profiles={},
        install_conformance=False,
    )
    store = make_store("mongo-standin", snapshot_isolation=True)
    assert isinstance(store, MongoStore) and isinstance(store.client, AsyncMongoStandIn)
    app = ServerApp(settings, store=store)
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/fhir") as http:
            yield Server(http, store, store.client)
    finally:
        await app.shutdown()


def _patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": CPR, "value": NUMBER}],
        "name": [{"family": "Retry"}],
    }


async def test_a_retried_transaction_matches_its_conditional_create_again(server: Server) -> None:
    """The first attempt finds no Patient with the number and gives the entry an id; locking
    Practitioner for the next conditional create, it meets a WriteConflict from a writer
    elsewhere that has committed that Patient meanwhile. The retry must find the other
    writer's Patient (200, no second Patient) and point the Observation at it."""

    async def other_writer() -> None:
        async def work(uow: UnitOfWork) -> None:
            await uow.write("Patient", "elsewhere", {**_patient(), "id": "elsewhere"}, method="PUT")

        await in_transaction(server.store, work)

    # the first lock (Patient) goes through, the second (Practitioner) conflicts
    server.standin.inject_write_conflict(LOCKS, after=1, before=other_writer)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": PATIENT_URL,
                "resource": _patient(),
                "request": {
                    "method": "POST",
                    "url": "Patient",
                    "ifNoneExist": f"identifier={CPR}|{NUMBER}",
                },
            },
            {
                "resource": {
                    "resourceType": "Practitioner",
                    "identifier": [{"system": "urn:test:staff", "value": "d1"}],
                },
                "request": {
                    "method": "POST",
                    "url": "Practitioner",
                    "ifNoneExist": "identifier=urn:test:staff|d1",
                },
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "pulse"},
                    "subject": {"reference": PATIENT_URL},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    resp = await server.client.post("", json=bundle)
    assert server.standin.injected == []  # the conflict happened: the transaction was retried
    assert resp.status_code == 200, resp.text
    patient, practitioner, observation = (e["response"] for e in resp.json()["entry"])
    assert patient["status"] == "200 OK"
    assert practitioner["status"] == "201 Created"
    assert patient["location"].startswith("Patient/elsewhere/_history/1")
    assert observation["status"] == "201 Created"
    made = await server.client.get(observation["location"].split("/_history")[0])
    assert made.json()["subject"] == {"reference": "Patient/elsewhere"}
    found = await server.client.get("Patient", params={"identifier": f"{CPR}|{NUMBER}"})
    assert [e["resource"]["id"] for e in found.json().get("entry", [])] == ["elsewhere"]


@pytest.mark.parametrize("how", ["create", "transaction"])
async def test_a_transient_conflict_on_a_create_is_retried(server: Server, how: str) -> None:
    """A create whose insert meets a transient WriteConflict (a primary step-down, another
    writer's commit) is retried like any unit of work, not answered 500: only a duplicate id
    means the server-made id exists after all."""
    server.standin.inject_write_conflict("resources")
    if how == "create":
        resp = await server.client.post("Patient", json=_patient())
    else:
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [{"resource": _patient(), "request": {"method": "POST", "url": "Patient"}}],
        }
        resp = await server.client.post("", json=bundle)
    assert resp.status_code in (200, 201), resp.text
    found = await server.client.get("Patient", params={"_total": "accurate"})
    assert found.json()["total"] == 1
