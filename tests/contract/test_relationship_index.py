"""The care relationship index on every store, kept through real writes (HTTP through the ASGI
app, ``FHIR_AUTH=off``) and asked through the store's own methods: what a write starts, changes
and ends; a failed transaction leaves no rows; recorded relationships outlive updates and
reindexing; ``reindex_type`` (``fhir-server reindex``) rebuilds the derived rows; and every
SQLite look-up is a search of the table's keys."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.access import UNRESTRICTED
from fhir_server.app import ServerApp
from fhir_server.care_relationships import PATIENT_CREATOR
from fhir_server.config import Settings
from fhir_server.interactions.context import Context
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.services import create_services
from fhir_server.store.base import Store, UnitOfWork
from fhir_server.store.factory import make_store
from fhir_server.store.sqlite import relationships as sqlite_relationships
from fhir_server.store.sqlite.store import SqliteStore
from tests.api.support import BASE
from tests.support.backends import BACKENDS, app_store
from tests.support.targets import store_targets

NOW = "2026-06-01T12:00:00Z"
HOME = "Organization/home-care"
GP = "Organization/gp-clinic"


@pytest.fixture(params=BACKENDS)
async def server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Store]]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / f'fhir-{uuid.uuid4().hex[:8]}.db'}",
        auth="off",
        required_profiles={},
        install_conformance=False,
    )
    app = ServerApp(settings, store=app_store(str(request.param)))
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield client, app.store
    finally:
        await app.shutdown()


def ref(text: str) -> dict[str, str]:
    return {"reference": text}


def plan(patient: str, status: str = "active", **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "status": status,
        "intent": "plan",
        "subject": ref(f"Patient/{patient}"),
        "activity": [{"detail": {"status": "scheduled", "performer": [ref(HOME)]}}],
        **more,
    }


async def put(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    await store_targets(client, {**body, "id": path.split("/")[1]})  # what it references
    response = await client.put(path, json={**body, "id": path.split("/")[1]})
    assert response.status_code in (200, 201), response.text


async def related(store: Store, *holders: str, at: str = NOW) -> set[str]:
    return await store.related_patients(list(holders), at)


async def test_a_write_starts_changes_and_ends_a_relationship(
    server: tuple[httpx.AsyncClient, Store],
) -> None:
    client, store = server
    await put(client, "CarePlan/cp1", plan("p1"))
    await put(client, "CarePlan/cp2", plan("p2", author=ref("Organization/kommune")))
    assert await related(store, HOME) == {"p1", "p2"}
    assert await related(store, "Organization/kommune") == {"p2"}
    assert await store.is_related("p1", [HOME], NOW)
    assert await store.is_related("p1", ["Practitioner/x", HOME], NOW)
    assert not await store.is_related("p1", ["Organization/kommune"], NOW)
    assert not await store.is_related("p1", [], NOW)
    assert await related(store) == set()

    await put(client, "CarePlan/cp1", plan("p1", status="completed"))  # the care ended
    assert await related(store, HOME) == {"p2"}
    await put(client, "CarePlan/cp1", plan("p1"))  # and took up again
    assert await related(store, HOME) == {"p1", "p2"}
    await put(client, "CarePlan/cp2", plan("p3"))  # a plan moved to another citizen
    assert await related(store, HOME) == {"p1", "p3"}
    assert await related(store, "Organization/kommune") == set()

    assert (await client.delete("CarePlan/cp1")).status_code in (200, 204)
    assert await related(store, HOME) == {"p3"}
    assert not await store.is_related("p1", [HOME], NOW)


async def test_periods_bound_the_relationship(server: tuple[httpx.AsyncClient, Store]) -> None:
    client, store = server
    team = {
        "resourceType": "CareTeam",
        "status": "active",
        "subject": ref("Patient/p1"),
        "period": {"start": "2026-01-01"},
        "participant": [
            {"member": ref("Practitioner/nurse"), "period": {"end": "2026-03-31"}},
            {"member": ref("Practitioner/ot"), "period": {"start": "2026-04-01"}},
        ],
        "managingOrganization": [ref(HOME)],
    }
    await put(client, "CareTeam/t1", team)
    for at, nurse, ot in (
        ("2025-12-31T23:59:59Z", False, False),
        ("2026-01-01T00:00:00Z", True, False),
        ("2026-03-31T23:59:59Z", True, False),  # the end day is part of the period
        ("2026-04-01T00:00:00Z", False, True),
        (NOW, False, True),
    ):
        assert await store.is_related("p1", ["Practitioner/nurse"], at) is nurse, at
        assert await store.is_related("p1", ["Practitioner/ot"], at) is ot, at
        assert await related(store, HOME, at=at) == (set() if at < "2026" else {"p1"})


async def test_a_created_patient_relates_to_its_gp(
    server: tuple[httpx.AsyncClient, Store],
) -> None:
    """The id is the server's, given inside the unit of work: the rows carry it."""
    client, store = server
    created = {"resourceType": "Patient", "generalPractitioner": [ref(GP)]}
    await store_targets(client, created)  # the GP must exist
    response = await client.post("Patient", json=created)
    assert response.status_code == 201
    pid = response.json()["id"]
    assert await related(store, GP) == {pid}
    await put(client, f"Patient/{pid}", {"resourceType": "Patient", "id": pid})  # GP removed
    assert await related(store, GP) == set()


async def test_a_failed_transaction_leaves_no_rows(
    server: tuple[httpx.AsyncClient, Store],
) -> None:
    client, store = server
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:8c3c1f3e-5a4e-4f4b-9a55-2f6b1a0c0001",
                "resource": plan("p1"),
                "request": {"method": "POST", "url": "CarePlan"},
            },
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "p9",
                    "generalPractitioner": [ref(GP)],
                },
                "request": {"method": "PUT", "url": "Patient/p9", "ifMatch": 'W/"4"'},
            },
        ],
    }
    for entry in bundle["entry"]:
        await store_targets(client, entry["resource"])
    response = await client.post("", json=bundle)
    assert response.status_code in (409, 412), response.text
    assert await related(store, HOME) == set()
    assert await related(store, GP) == set()
    assert (await client.get("CarePlan")).json().get("total", 0) == 0

    bundle["entry"] = bundle["entry"][:1]  # the same, without the failing entry
    assert (await client.post("", json=bundle)).status_code == 200
    assert await related(store, HOME) == {"p1"}


async def test_a_unit_of_work_sees_its_own_relationships_and_rolls_them_back(
    server: tuple[httpx.AsyncClient, Store],
) -> None:
    client, store = server
    await put(client, "Patient/p1", {"resourceType": "Patient"})

    class Refused(Exception):
        pass

    with pytest.raises(Refused):
        async with store.transaction() as uow:
            await uow.write("CarePlan", "cp1", plan("p1"), method="PUT")
            await uow.relate("p1", "Organization/creator", PATIENT_CREATOR, "2026-01-01")
            assert await uow.related_patients([HOME], NOW) == {"p1"}
            assert await uow.is_related("p1", ["Organization/creator"], NOW)
            raise Refused  # e.g. access refusing what was written
    assert await related(store, HOME, "Organization/creator") == set()


async def test_a_recorded_relationship_lasts_until_the_patient_is_deleted(
    server: tuple[httpx.AsyncClient, Store],
) -> None:
    client, store = server
    await put(client, "Patient/p1", {"resourceType": "Patient", "generalPractitioner": [ref(GP)]})
    async with store.transaction() as uow:
        await uow.relate("p1", "Organization/creator", PATIENT_CREATOR, "2026-05-01T10:00:00Z")
        await uow.relate("p1", "Organization/creator", PATIENT_CREATOR, "2026-05-01T10:00:00Z")
        with pytest.raises(LookupError):
            await uow.relate("nobody", "Organization/creator", PATIENT_CREATOR, NOW)
    creator = ["Organization/creator"]
    assert not await store.is_related("p1", creator, "2026-05-01T09:59:59Z")
    assert await store.is_related("p1", creator, NOW)

    await put(client, "Patient/p1", {"resourceType": "Patient", "active": True})  # an update
    assert await store.is_related("p1", creator, NOW)
    assert await related(store, GP) == set()
    await _reindex_everything(store)
    assert await store.is_related("p1", creator, NOW)
    assert await related(store, *creator) == {"p1"}  # recorded once

    assert (await client.delete("Patient/p1")).status_code in (200, 204)
    assert not await store.is_related("p1", creator, NOW)
    await put(client, "Patient/p1", {"resourceType": "Patient"})  # re-created: a new start
    assert not await store.is_related("p1", creator, NOW)


async def _reindex_everything(store: Store) -> None:
    """What ``fhir-server reindex`` does."""
    for type_ in sorted(SERVED_TYPES):
        async for _ in store.reindex_type(type_, batch=2):
            pass


async def test_reindex_rebuilds_the_derived_rows(server: tuple[httpx.AsyncClient, Store]) -> None:
    client, store = server
    for n in range(3):
        await put(client, f"CarePlan/cp{n}", plan(f"p{n}"))
    await put(client, "Patient/p0", {"resourceType": "Patient", "generalPractitioner": [ref(GP)]})
    async with store.transaction() as uow:  # as if written by a server that derived nothing
        for type_, id_ in [("CarePlan", f"cp{n}") for n in range(3)] + [("Patient", "p0")]:
            current = await uow.read(type_, id_)
            assert current is not None
            await uow.reindex(current, None, [])
    assert await related(store, HOME, GP) == set()
    await _reindex_everything(store)
    assert await related(store, HOME) == {"p0", "p1", "p2"}
    assert await related(store, GP) == {"p0"}


async def test_absolute_references_to_the_configured_base_count(tmp_path: Path) -> None:
    base = "https://fhir.example.dk/fhir"
    settings = Settings(store_url=f"sqlite:///{tmp_path / 'b.db'}", base_url=base + "/")
    store = make_store(settings)
    assert store.base_url == base
    await store.open()
    try:
        body = plan("p1", author=ref(f"{base}/Organization/k"))
        body["contributor"] = [ref("https://other.example/fhir/Organization/o")]
        async with store.transaction() as uow:
            await uow.write("CarePlan", "cp1", body, method="PUT")
        assert await related(store, "Organization/k") == {"p1"}
        assert await related(store, "Organization/o") == set()
    finally:
        await store.close()


async def test_sqlite_look_ups_are_key_searches(tmp_path: Path) -> None:
    """The plans SQLite chooses (docs/implementation/relationships.md): a search of the primary
    key per holder, never a scan of the table."""
    store = make_store(Settings(store_url=f"sqlite:///{tmp_path / 'q.db'}"))
    assert isinstance(store, SqliteStore)
    await store.open()
    try:
        db = store.writer
        holders = [HOME, "Practitioner/x"]
        plans = {
            "related_patients": sqlite_relationships.related_patients_sql(holders, NOW),
            "is_related": sqlite_relationships.is_related_sql("p1", holders, NOW),
            "many holders": sqlite_relationships.related_patients_sql(
                [f"Organization/o{n}" for n in range(60)], NOW
            ),
            "replace": (
                "SELECT holder, patient, lo, hi, kind FROM care_relationship"
                " WHERE rk = ? AND recorded = 0",
                [1],
            ),
        }
        details = {
            name: [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", args)]
            for name, (sql, args) in plans.items()
        }
    finally:
        await store.close()
    table = [d for ds in details.values() for d in ds if "care_relationship" in d]
    assert table and all(d.startswith("SEARCH") for d in table), details
    assert "USING PRIMARY KEY (holder=?)" in details["related_patients"][0]
    assert "USING PRIMARY KEY (holder=? AND patient=?" in details["is_related"][0]
    assert "care_relationship_by_source (rk=? AND recorded=?)" in details["replace"][0]


async def test_an_older_sqlite_file_derives_its_relationships_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    store = make_store(Settings(store_url=f"sqlite:///{path}"))
    await store.open()
    async with store.transaction() as uow:
        await uow.write("CarePlan", "cp1", plan("p1"), method="PUT")
    await store.close()
    conn = sqlite3.connect(path)  # what a schema-4 server left behind
    conn.execute("DROP TABLE care_relationship")
    conn.execute("PRAGMA user_version=4")
    conn.commit()
    conn.close()

    store = make_store(Settings(store_url=f"sqlite:///{path}"))
    await store.open()
    try:
        assert await related(store, HOME) == {"p1"}
    finally:
        await store.close()


async def test_the_context_asks_the_unit_of_work_under_way(
    server: tuple[httpx.AsyncClient, Store],
) -> None:
    """What the access layer reads through (`Context` is its `Reader`): inside a write, the
    unit of work's own rows; outside, the committed ones; recording needs a unit of work."""
    client, store = server
    await put(client, "Patient/p1", {"resourceType": "Patient"})
    ctx = Context(store, Settings(), UNRESTRICTED, BASE, services=create_services(Settings()))
    with pytest.raises(RuntimeError):
        await ctx.relate("p1", "Organization/creator", PATIENT_CREATOR, NOW)

    await store_targets(client, {**plan("p1"), "id": "cp1"})

    async def work(uow: UnitOfWork) -> tuple[set[str], bool]:
        await uow.write("CarePlan", "cp1", plan("p1"), method="PUT")
        await ctx.relate("p1", "Organization/creator", PATIENT_CREATOR, "2026-01-01")
        return await ctx.related_patients([HOME], NOW), await ctx.is_related(
            "p1", ["Organization/creator"], NOW
        )

    assert await ctx.write(work) == ({"p1"}, True)
    assert await ctx.related_patients([HOME, "Organization/creator"], NOW) == {"p1"}
    assert await ctx.is_related("p1", ["Organization/creator"], NOW)
