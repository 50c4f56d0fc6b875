"""The demo data set: what it holds, that it conforms, and `fhir-server demo` on a fresh store."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import httpx
import pytest

from dataset.demo import EXAMPLES, demo_resources
from fhir_server.app import ServerApp
from fhir_server.cli import main
from fhir_server.config import Settings
from tests.api.support import BASE, ids
from tests.dataset.profile_contract import check_all
from tests.support.r4b_models import check_structure

Json = dict[str, Any]


@pytest.fixture(scope="module")
def demo() -> list[Json]:
    return demo_resources()


def _by_key(resources: list[Json]) -> dict[str, Json]:
    return {f"{r['resourceType']}/{r['id']}": r for r in resources}


def test_demo_set_is_the_same_on_every_build(demo: list[Json]) -> None:
    assert demo_resources() == demo


def test_demo_set_has_one_citizen_per_scenario_with_readable_ids(demo: list[Json]) -> None:
    patients = sorted(r["id"] for r in demo if r["resourceType"] == "Patient")
    assert patients == [
        "demo-s1-citizen",
        "demo-s2-child",
        "demo-s3-citizen",
        "demo-s4-citizen",
        "demo-s5-citizen",
        "demo-s6-citizen",
        "demo-s7-citizen",
        "demo-teen-citizen",  # the access cases' 16-year-old (dataset/access_cases.py)
    ]
    keys = _by_key(demo)
    for key in (
        "CarePlan/demo-s2-careplan",
        "CareTeam/demo-s2-careteam",
        "RelatedPerson/demo-s2-mother",
        "Consent/demo-s2-consent",
        "ServiceRequest/demo-s1-visit-request",
        "Task/demo-s4-handover-task",
        "Encounter/demo-s4-admission",
        "ServiceRequest/demo-s5-iv-request",
        "Communication/demo-s6-results",
        "Consent/demo-s3-block",
        "Organization/demo-midt-bua",
        "Organization/demo-aarhus-ppr",
        "Organization/demo-aarhus-gp-1",
    ):
        assert key in keys, key
    assert keys["Patient/demo-s2-child"]["name"][0]["text"] == "Emil Kjær"


def test_demo_set_conforms_and_every_reference_resolves(demo: list[Json]) -> None:
    assert check_all(demo) == []


def test_every_demo_resource_is_structurally_valid_r4(demo: list[Json]) -> None:
    for resource in demo:
        check_structure(resource["resourceType"], resource)


def test_conformance_checks_catch_broken_resources(demo: list[Json]) -> None:
    """The helper the tests rely on does fail: one broken rule per resource type."""
    broken = copy.deepcopy(demo)
    keys = _by_key(broken)
    del keys["CareTeam/demo-s2-careteam"]["name"]
    keys["CarePlan/demo-s2-careplan"]["activity"][0]["detail"]["performer"] = []
    keys["ServiceRequest/demo-s1-visit-request"]["priority"] = "urgent"
    keys["Patient/demo-s2-child"]["identifier"][0]["value"] = "3002134213"
    keys["MedicationStatement/demo-s4-medication-1"]["dosage"] = [{"sequence": 1}]
    keys["Consent/demo-s3-block"]["provision"]["period"] = {}
    keys["Organization/demo-midt-bua"]["identifier"][0]["value"] = "1234567890"
    keys["Goal/demo-s2-goal-child"]["subject"]["reference"] = "Patient/nobody"
    keys["CareTeam/demo-s5-careteam"]["participant"][1]["role"][0]["coding"][0]["code"] = "member"
    keys["Consent/demo-s2-consent"]["provision"]["period"]["end"] = "2030-01-01"
    keys["Consent/demo-s7-consent"]["policyRule"]["coding"][0]["code"] = "block"
    problems = check_all(broken)
    for expected in (
        "CareTeam/demo-s2-careteam: name 1..1",
        "CarePlan/demo-s2-careplan: activity[0] needs detail with status and performer 1..*",
        "ServiceRequest/demo-s1-visit-request: priority must be routine or asap, is 'urgent'",
        "Patient/demo-s2-child: invalid urn:oid:1.2.208.176.1.2 identifier '3002134213'",
        "MedicationStatement/demo-s4-medication-1: dosage 1..* each with text",
        "Consent/demo-s3-block: a deny provision needs period.start",
        "Organization/demo-midt-bua: invalid urn:oid:1.2.208.176.1.1 identifier '1234567890'",
        "Goal/demo-s2-goal-child: unresolved reference Patient/nobody",
        "CareTeam/demo-s5-careteam: exactly one coordinator (ff-careteam warning), has 0",
        "Consent/demo-s2-consent: a disclosure permit lasts at most a year (period start and end)",
        "Consent/demo-s7-consent: policyRule (ff-consent-policy) ['block'] must match "
        "provision.type",
    ):
        assert expected in problems, (expected, problems)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "demo.db"
    monkeypatch.setenv("FHIR_STORE_URL", f"sqlite:///{path}")
    return path


async def _get(db: Path, *paths: str) -> list[httpx.Response]:
    app = ServerApp(Settings(store_url=f"sqlite:///{db}", auth="off"))
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            return [await client.get(p) for p in paths]
    finally:
        await app.shutdown()


def test_fhir_server_demo_then_read_the_s2_careplan_with_its_careteam(
    db: Path, demo: list[Json], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"{len(demo)} resources, {len(demo)} written, 0 already loaded unchanged" in out
    assert "/fhir/CarePlan?_id=demo-s2-careplan&_include=CarePlan:care-team" in out

    search, read = asyncio.run(
        _get(
            db,
            "CarePlan?_id=demo-s2-careplan&_include=CarePlan:care-team",
            "CarePlan/demo-s2-careplan",
        )
    )
    assert search.status_code == 200, search.text
    bundle = search.json()
    assert ids(bundle) == ["demo-s2-careplan", "demo-s2-careteam"]
    assert [e["search"]["mode"] for e in bundle["entry"]] == ["match", "include"]
    team = bundle["entry"][1]["resource"]
    assert team["managingOrganization"] == [
        {
            "reference": "Organization/demo-midt-bua",
            "display": _by_key(demo)["Organization/demo-midt-bua"]["name"],
        }
    ]
    assert read.status_code == 200
    assert read.json()["careTeam"][0]["reference"] == "CareTeam/demo-s2-careteam"


def test_fhir_server_demo_twice_writes_nothing_the_second_time(
    db: Path, demo: list[Json], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--no-progress"]) == 0
    assert main(["demo", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"{len(demo)} resources, 0 written, {len(demo)} already loaded unchanged" in out
    (read, patients) = asyncio.run(_get(db, "CarePlan/demo-s2-careplan", "Patient?_count=100"))
    assert read.json()["meta"]["versionId"] == "1"
    assert len(ids(patients.json())) == 8


def test_every_example_the_demo_prints_finds_something(db: Path) -> None:
    assert main(["demo", "--no-progress"]) == 0
    responses = asyncio.run(_get(db, *(query for _, query in EXAMPLES)))
    for (title, query), resp in zip(EXAMPLES, responses, strict=True):
        assert resp.status_code == 200, (query, resp.text)
        matches = [e for e in resp.json().get("entry", []) if e["search"]["mode"] == "match"]
        assert matches, (title, query)


async def test_the_server_accepts_every_demo_resource_over_http(
    tmp_path: Path, demo: list[Json]
) -> None:
    app = ServerApp(Settings(store_url=f"sqlite:///{tmp_path / 'put.db'}", auth="off"))
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            for resource in demo:
                url = f"{resource['resourceType']}/{resource['id']}"
                resp = await client.put(url, json=resource)
                assert resp.status_code == 201, (url, resp.text)
    finally:
        await app.shutdown()
