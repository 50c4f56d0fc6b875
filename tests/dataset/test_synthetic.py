"""The synthetic generator: deterministic, conforming, varied, loadable by `fhir-server load`."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from dataset import identifiers as ids
from dataset.build import TYPE_ORDER
from dataset.synthetic import build_world, resources, write
from fhir_server.cli import main
from fhir_server.search.extract import index_resource
from fhir_server.search.terms import SearchQuery
from fhir_server.store.sqlite.store import SqliteStore
from tests.dataset.profile_contract import check_all, references
from tests.support.r4b_models import check_structure

Json = dict[str, Any]


@pytest.fixture(scope="module")
def synthetic() -> list[Json]:
    return list(resources(140, 11))  # every scenario 20 times


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    write(tmp_path / "a", 30, 7)
    write(tmp_path / "b", 30, 7)
    write(tmp_path / "c", 30, 8)
    a, b, c = (_files(tmp_path / x) for x in "abc")
    assert a == b
    assert a.keys() == c.keys()
    assert all(a[name] != c[name] for name in a if "Patient" in name or "CarePlan" in name)


def test_one_file_per_type_in_an_order_where_references_point_backwards(tmp_path: Path) -> None:
    counts = write(tmp_path, 21, 2)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"{TYPE_ORDER.index(t) + 1:02d}-{t}.ndjson" for t in TYPE_ORDER]
    seen: set[str] = set()
    lines = 0
    for name in names:  # the order `fhir-server load DIR` reads them in
        for line in (tmp_path / name).read_bytes().splitlines():
            resource = orjson.loads(line)
            lines += 1
            for ref in references(resource):
                assert ref in seen, f"{name}: {resource['id']} refers ahead to {ref}"
            seen.add(f"{resource['resourceType']}/{resource['id']}")
    assert lines == sum(counts.values())


def test_generated_data_conforms_and_every_reference_resolves(synthetic: list[Json]) -> None:
    assert check_all(synthetic) == []


def test_generated_data_is_structurally_valid_r4(synthetic: list[Json]) -> None:
    for resource in synthetic:
        check_structure(resource["resourceType"], resource)


def test_no_two_people_share_a_cpr_number(synthetic: list[Json]) -> None:
    cprs = [
        i["value"]
        for r in synthetic
        for i in r.get("identifier", [])
        if i["system"] == ids.CPR_SYSTEM
    ]
    people = [r for r in synthetic if r["resourceType"] in ("Patient", "RelatedPerson")]
    assert len(cprs) == len(people) == len(set(cprs))


def test_scenarios_repeat_with_variation(synthetic: list[Json]) -> None:
    types = Counter(r["resourceType"] for r in synthetic)
    assert types["Patient"] == 140 and types["CarePlan"] == 100  # S2-S5 and S7 have a plan
    categories = Counter(
        c["code"] for r in synthetic if r["resourceType"] == "CarePlan"
        for cat in r["category"] for c in cat["coding"]
    )  # fmt: skip
    assert categories["child-youth-psychiatry"] == 20
    assert categories["iv-treatment-at-home"] == 20
    assert {r["priority"] for r in synthetic if r["resourceType"] == "ServiceRequest"} == {
        "routine",
        "asap",
    }
    consents = [r for r in synthetic if r["resourceType"] == "Consent"]
    assert {c["provision"]["type"] for c in consents} == {"permit", "deny"}
    s2 = [c for c in consents if c["patient"]["reference"].endswith("-child")]
    s2_by = {c["performer"][0]["reference"].split("/")[0] for c in s2}
    assert s2_by == {"Patient", "RelatedPerson"}  # 15 and over consent themselves
    atc = {
        c["code"] for r in synthetic if r["resourceType"] == "MedicationStatement"
        for c in r["medicationCodeableConcept"]["coding"]
    }  # fmt: skip
    assert len(atc) >= 20
    changes = {
        x["valueCode"] for r in synthetic if r["resourceType"] == "MedicationStatement"
        for x in r["extension"][0]["extension"] if x["url"] == "type"
    }  # fmt: skip
    assert changes == {"new", "changed", "paused", "discontinued", "unchanged"}
    assert len({r["name"][0]["text"] for r in synthetic if r["resourceType"] == "Patient"}) > 100


def test_the_world_grows_with_the_number_of_citizens() -> None:
    small, _ = build_world(7, 1)
    assert len(small.municipalities) == 1 and len(small.regions) == 1
    large, directory = build_world(100_000, 1)
    assert len(large.municipalities) == 98
    assert sorted(large.regions) == ["DK-81", "DK-82", "DK-83", "DK-84", "DK-85"]
    assert all(len(clinics) == 1 for clinics in large.clinics.values())
    assert check_all(directory) == []
    many, _ = build_world(600_000, 1)
    assert all(len(clinics) == 5 for clinics in many.clinics.values())


async def _count(db: Path) -> Counter[str]:
    store = SqliteStore(str(db), index_resource)
    await store.open()
    try:
        return Counter({t: await store.count(SearchQuery(t)) for t in TYPE_ORDER})
    finally:
        await store.close()


def test_generate_then_load_loads_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "synthetic"
    assert main(["generate", "--patients", "35", "--seed", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    written = sum(1 for p in out.iterdir() for _ in p.read_bytes().splitlines())
    assert f"wrote {written} resources for 35 citizens (seed 4) to {out}" in printed

    db = tmp_path / "fhir.db"
    monkeypatch.setenv("FHIR_STORE_URL", f"sqlite:///{db}")
    # the generated files reference backwards only: they load with the server's check on too
    assert main(["load", "--no-progress", "--referential-integrity", str(out)]) == 0
    assert f"loaded {written}, failed 0" in capsys.readouterr().out
    stored = asyncio.run(_count(db))
    assert stored["Patient"] == 35 and sum(stored.values()) == written


def test_generate_refuses_a_patient_count_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["generate", "--patients", "0"])
    assert exit_.value.code == 2
    assert "--patients: must be at least 1, not 0" in capsys.readouterr().err


def test_every_generated_resource_validates_against_its_profile() -> None:
    """The real validator, with the profiles the server requires by default: no errors in the
    demo set or in a synthetic set covering every scenario several times."""
    import itertools

    from dataset.demo import demo_resources
    from dataset.synthetic import resources
    from fhir_server.config import Settings
    from profiles.validation import Validator

    validator = Validator.default()
    required = Settings().required_profiles
    checked = 0
    for r in itertools.chain(demo_resources(), resources(30, 7)):
        t = r["resourceType"]
        issues = validator.validate(r, profiles=[required[t]] if t in required else [])
        assert [i for i in issues if i.severity == "error"] == [], (t, r.get("id"))
        checked += 1
    assert checked > 400
