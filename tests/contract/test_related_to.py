"""The care relationship criterion (`RelatedTo`) on every store: the resources about a patient
some holder has a care relationship with at an instant, joined from the relationship index in
the store's own query — exactly what the owner parameter among `related_patients` matches, in
searches, counts, pages, groups (OR'ed with a patient, negated) and inside a unit of work;
relationship periods bound it; and SQLite's plan searches the relationship table's key from
the holders, never scans it. Data written through real HTTP (``FHIR_AUTH=off``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.app import ServerApp
from fhir_server.compartment import owner_param
from fhir_server.config import Settings
from fhir_server.search.terms import (
    ANY,
    Criterion,
    Filter,
    FilterGroup,
    RelatedTo,
    SearchQuery,
    TokenValue,
    owner_filter,
)
from fhir_server.store.base import Store
from fhir_server.store.factory import make_store
from fhir_server.store.sqlite.query import compile_count, compile_search, compile_width
from fhir_server.store.sqlite.store import SqliteStore
from tests.api.support import BASE
from tests.support.backends import BACKENDS, app_store
from tests.support.targets import store_targets

HOME = "Organization/home-care"
OTHER = "Organization/other"
NURSE = "Practitioner/nurse"
OT = "Practitioner/ot"
NOW = "2026-06-01T12:00:00.000000Z"
FEBRUARY = "2026-02-10T12:00:00.000000Z"
DECEMBER = "2025-12-31T23:59:59.000000Z"
ACTIVE = Filter("status", "token", (TokenValue(ANY, "active"),))


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


def plan(patient: str, performer: str = HOME, status: str = "active", **more: Any) -> Any:
    return {
        "resourceType": "CarePlan",
        "status": status,
        "intent": "plan",
        "subject": ref(f"Patient/{patient}"),
        "activity": [{"detail": {"status": "scheduled", "performer": [ref(performer)]}}],
        **more,
    }


def observation(patient: str) -> Any:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": ref(f"Patient/{patient}"),
    }


async def put(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    await store_targets(client, {**body, "id": path.split("/")[1]})  # what it references
    response = await client.put(path, json={**body, "id": path.split("/")[1]})
    assert response.status_code in (200, 201), response.text


async def world(client: httpx.AsyncClient) -> None:
    """p1: home care's plan, and a care team whose nurse left at the end of March and whose
    OT joined in April; p2: home care's plan and a completed one; p3: another unit's plan;
    p4: home care's plan for January and February only; p5: nothing. An Observation each."""
    for n in range(1, 6):
        await put(client, f"Patient/p{n}", {"resourceType": "Patient"})
        await put(client, f"Observation/o{n}", observation(f"p{n}"))
    await put(client, "CarePlan/cp1", plan("p1"))
    await put(client, "CarePlan/cp2", plan("p2"))
    await put(client, "CarePlan/cp2-old", plan("p2", status="completed"))
    await put(client, "CarePlan/cp3", plan("p3", OTHER))
    period = {"start": "2026-01-01", "end": "2026-02-28"}
    await put(client, "CarePlan/cp4", plan("p4", period=period))
    team = {
        "resourceType": "CareTeam",
        "status": "active",
        "subject": ref("Patient/p1"),
        "period": {"start": "2026-01-01"},
        "participant": [
            {"member": ref(NURSE), "period": {"end": "2026-03-31"}},
            {"member": ref(OT), "period": {"start": "2026-04-01"}},
        ],
    }
    await put(client, "CareTeam/t1", team)


async def ids(store: Store, type_: str, *criteria: Criterion, count: int = 2) -> list[str]:
    """Every match, page by page (``count`` a page), in the store's order."""
    query = SearchQuery(type_, list(criteria), count=count)
    out: list[str] = []
    while True:
        page = await store.search(query)
        out += [s.id for s in page.items]
        if page.next_cursor is None:
            return out
        query.after_id = page.next_cursor


def related(type_: str, *holders: str, at: str = NOW) -> RelatedTo:
    param = owner_param(type_)
    assert param is not None
    return RelatedTo(param, holders, at)


async def test_it_matches_the_resources_of_related_patients_with_exact_pages_and_counts(
    server: tuple[httpx.AsyncClient, Store],
) -> None:
    client, store = server
    await world(client)
    for type_, holders, at, expected in (
        ("CarePlan", (HOME,), NOW, ["cp1", "cp2", "cp2-old"]),  # any plan of a related patient
        ("CarePlan", (HOME,), FEBRUARY, ["cp1", "cp2", "cp2-old", "cp4"]),
        ("CarePlan", (HOME, OTHER), NOW, ["cp1", "cp2", "cp2-old", "cp3"]),
        ("CarePlan", (OTHER,), NOW, ["cp3"]),
        ("CarePlan", ("Organization/nobody",), NOW, []),
        ("CarePlan", (), NOW, []),  # no holder: nothing
        ("Observation", (HOME,), NOW, ["o1", "o2"]),
        ("Observation", (NURSE,), FEBRUARY, ["o1"]),
        ("Observation", (NURSE,), NOW, []),  # the nurse's participation ended
        ("Observation", (OT,), NOW, ["o1"]),
        ("Patient", (HOME,), FEBRUARY, ["p1", "p2", "p4"]),  # ``_id`` for a Patient
        ("Patient", (OT, OTHER), NOW, ["p1", "p3"]),
    ):
        criterion = related(type_, *holders, at=at)
        found = await ids(store, type_, criterion)
        assert found == expected, (type_, holders, at)
        # the same as the owner parameter among the related patients the index lists
        patients = await store.related_patients(list(holders), at)
        listed = owner_filter(criterion.param, patients)
        assert found == await ids(store, type_, listed), (type_, holders, at)
        assert await store.count(SearchQuery(type_, [criterion])) == len(expected)
        assert await ids(store, type_, criterion, count=50) == expected


async def test_relationship_periods_bound_it(server: tuple[httpx.AsyncClient, Store]) -> None:
    client, store = server
    await world(client)
    for at, nurse, ot in (
        (DECEMBER, [], []),  # before the team's period
        ("2026-01-01T00:00:00.000000Z", ["cp1"], []),
        ("2026-03-31T23:59:59.000000Z", ["cp1"], []),  # the end day is part of the period
        ("2026-04-01T00:00:00.000000Z", [], ["cp1"]),
        (NOW, [], ["cp1"]),
    ):
        assert await ids(store, "CarePlan", related("CarePlan", NURSE, at=at)) == nurse, at
        assert await ids(store, "CarePlan", related("CarePlan", OT, at=at)) == ot, at
    home = related("CarePlan", HOME, at=DECEMBER)  # cp4's period had not begun
    assert await ids(store, "CarePlan", home) == ["cp1", "cp2", "cp2-old"]
    assert await ids(store, "CarePlan", related("CarePlan", HOME, at="2026-03-01T00:00:00Z")) == [
        "cp1",
        "cp2",
        "cp2-old",
    ]


async def test_it_combines_with_filters_and_groups(
    server: tuple[httpx.AsyncClient, Store],
) -> None:
    """As consent narrows a search: related OR the break-the-glass patient, AND NOT what a
    patient's consent excludes; each with the search's own filters, counts exact."""
    client, store = server
    await world(client)
    home = related("CarePlan", HOME)
    owner = home.param
    or_p3 = FilterGroup(((home,), (owner_filter(owner, ["p3"]),)))
    completed = Filter("status", "token", (TokenValue(ANY, "completed"),))
    not_p2_old = FilterGroup(((owner_filter(owner, ["p2"]), completed),), negate=True)
    for criteria, expected in (
        ((home, ACTIVE), ["cp1", "cp2"]),
        ((ACTIVE, home), ["cp1", "cp2"]),
        ((or_p3,), ["cp1", "cp2", "cp2-old", "cp3"]),
        ((or_p3, ACTIVE), ["cp1", "cp2", "cp3"]),
        ((home, not_p2_old), ["cp1", "cp2"]),
        ((FilterGroup(((home,),), negate=True),), ["cp3", "cp4"]),
        ((home, FilterGroup(((owner_filter(owner, ["p1", "p2"]),),), negate=True)), []),
    ):
        assert await ids(store, "CarePlan", *criteria) == expected, criteria
        query = SearchQuery("CarePlan", list(criteria))
        assert await store.count(query) == len(expected), criteria


async def test_a_unit_of_work_sees_its_own_relationships(
    server: tuple[httpx.AsyncClient, Store],
) -> None:
    client, store = server
    await put(client, "Patient/p1", {"resourceType": "Patient"})
    await put(client, "Observation/o1", observation("p1"))
    async with store.transaction() as uow:
        await uow.write("CarePlan", "cp1", plan("p1"), method="PUT")
        page = await uow.search(SearchQuery("Observation", [related("Observation", HOME)]))
        assert [s.id for s in page.items] == ["o1"]
    assert await ids(store, "Observation", related("Observation", HOME)) == ["o1"]


async def test_sqlite_joins_the_relationship_table_by_its_key(tmp_path: Path) -> None:
    """Driving (few matches) it starts from each holder's range of the relationship table's
    primary key and looks each patient's references up by value; probing (walking the type in
    id order) it tests the candidate's own reference, then that patient's relationship with each
    holder, by key; never a scan of either table."""
    store = make_store(Settings(store_url=f"sqlite:///{tmp_path / 'q.db'}"))
    assert isinstance(store, SqliteStore)
    await store.open()
    try:
        db = store.writer
        query = SearchQuery("CarePlan", [ACTIVE, related("CarePlan", HOME, NURSE)])
        width = compile_width(query)
        assert width is not None
        plans = {
            "drive": compile_search(query, True),
            "walk": compile_search(query, False),
            "count": compile_count(query),
            "width": width,
            "patient": compile_search(SearchQuery("Patient", [related("Patient", HOME)])),
        }
        details = {
            name: [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", args)]
            for name, (sql, args) in plans.items()
        }
    finally:
        await store.close()
    for lines in details.values():
        assert not [d for d in lines if d.startswith("SCAN") and "subquery" not in d], details
    for name in ("drive", "count", "width"):
        lines = details[name]
        holder = lines.index("SEARCH c USING PRIMARY KEY (holder=?)")
        target = [d for d in lines if "idx_reference_by_target (p=? AND rid=?" in d]
        assert target and lines.index(target[0]) > holder, (name, lines)
    assert "SEARCH c USING PRIMARY KEY (holder=? AND patient=? AND lo<?)" in details["walk"]
    assert "SEARCH c USING PRIMARY KEY (holder=?)" in details["patient"]
