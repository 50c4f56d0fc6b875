"""The demo's cases of cross-sector access (dataset/access_cases.py): the people and consents
exist, conform to their profiles, and the demo's expectation of who can see what
(dataset/expected_access.py) — which `fhir-server demo` prints — is what the cases mean."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from auth.demo import USERS
from auth.identity import sector_of
from dataset.demo import demo_resources
from dataset.expected_access import Cell, who_sees_what
from dataset.scenarios.scene import DATASET_DATE, age_at
from fhir_server.cli import main
from profiles.validation import Validator

Json = dict[str, Any]
PSY = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY"}
LOGINS = [(u.username, u.fhir_user) for u in USERS]


@pytest.fixture(scope="module")
def demo() -> dict[str, Json]:
    return {f"{r['resourceType']}/{r['id']}": r for r in demo_resources()}


@pytest.fixture(scope="module")
def seen(demo: dict[str, Json]) -> dict[str, dict[str, Cell]]:
    return who_sees_what(list(demo.values()), LOGINS, DATASET_DATE)


NEW = (
    "Organization/demo-midt-medical-ward-m3",
    "Practitioner/demo-midt-medical-ward-m3-nurse-1",
    "PractitionerRole/demo-midt-medical-ward-m3-nurse-1-role",
    "ServiceRequest/demo-s3-ecg-request",
    "Consent/demo-s6-block-doctor",
    "Condition/demo-s5-alcohol",
    "Encounter/demo-s5-alcohol-treatment",
    "Consent/demo-s5-block-period",
    "Patient/demo-teen-citizen",
    "RelatedPerson/demo-teen-mother",
    "Condition/demo-teen-condition",
    "Encounter/demo-teen-bua-visit",
    "MedicationStatement/demo-teen-medication",
    "CareTeam/demo-teen-careteam",
    "Consent/demo-teen-block-mother",
    "Consent/demo-teen-block-psychiatry",
)


def test_the_cases_people_and_consents_exist_and_validate_against_their_profiles(
    demo: dict[str, Json],
) -> None:
    validator = Validator.default()
    for key in NEW:
        resource = demo[key]
        claimed = resource.get("meta", {}).get("profile", [])
        issues = validator.validate(resource, profiles=claimed)
        assert [i.message for i in issues if i.severity in ("error", "warning")] == [], key


def test_the_blocks_name_what_they_block(demo: dict[str, Json]) -> None:
    doctor = demo["Practitioner/demo-aarhus-gp-1-doctor-2"]
    named = demo["Consent/demo-s6-block-doctor"]["provision"]
    assert named["type"] == "deny"
    assert named["actor"][0]["reference"]["reference"] == "Practitioner/demo-aarhus-gp-1-doctor-2"
    assert (
        named["actor"][0]["reference"]["identifier"]
        == (doctor["qualification"][0]["identifier"][0])
    )
    period = demo["Consent/demo-s5-block-period"]["provision"]
    assert period["dataPeriod"] == {"start": "2019-01-01", "end": "2019-12-31"}
    assert "actor" not in period  # nobody may see that year
    psychiatry = demo["Consent/demo-teen-block-psychiatry"]["provision"]
    assert psychiatry["securityLabel"] == [PSY]
    assert psychiatry["provision"][0]["type"] == "permit"  # the exception: psychiatry itself
    assert psychiatry["provision"][0]["actor"][0]["reference"]["reference"] == (
        "Organization/demo-midt-psychiatry"
    )
    mother = demo["Consent/demo-teen-block-mother"]
    assert mother["performer"] == [
        {"reference": "Patient/demo-teen-citizen", "display": "Sofie Bach"}
    ]
    assert mother["provision"]["actor"][0]["reference"]["reference"] == (
        "RelatedPerson/demo-teen-mother"
    )


def test_the_ppr_permit_for_emil_runs_a_year_from_the_demos_today(demo: dict[str, Json]) -> None:
    consent = demo["Consent/demo-s2-consent"]
    assert consent["policyRule"]["coding"][0]["code"] == "disclosure-permit"
    assert consent["provision"]["period"] == {"start": "2026-11-16", "end": "2027-11-16"}
    actors = [a["reference"]["reference"] for a in consent["provision"]["actor"]]
    assert "Organization/demo-aarhus-ppr" in actors


def test_sofie_is_16_and_her_mother_holds_parental_authority(demo: dict[str, Json]) -> None:
    birth = date.fromisoformat(demo["Patient/demo-teen-citizen"]["birthDate"])
    assert age_at(birth, DATASET_DATE) == 16
    codes = {c["code"] for c in demo["RelatedPerson/demo-teen-mother"]["relationship"][0]["coding"]}
    assert codes == {"MTH", "PARAUTH"}


def test_psychiatric_records_carry_the_psy_label_and_shared_plans_do_not(
    demo: dict[str, Json],
) -> None:
    labelled = sorted(k for k, r in demo.items() if PSY in r.get("meta", {}).get("security", []))
    assert labelled == [
        "Condition/demo-s2-condition",
        "Condition/demo-s3-condition",
        "Condition/demo-teen-condition",
        "Encounter/demo-s2-bua-visit",
        "Encounter/demo-s3-outreach-visit",
        "Encounter/demo-teen-bua-visit",
        "MedicationStatement/demo-s2-medication",
        "MedicationStatement/demo-s3-medication",
        "MedicationStatement/demo-teen-medication",
        "Observation/demo-s3-weight",
    ]


def _chain(demo: dict[str, Json], org: str) -> list[Json]:
    out = []
    while org:
        out.append(demo[org])
        org = demo[org].get("partOf", {}).get("reference")
    return out


def test_every_demo_user_is_in_the_data_and_clinicians_cover_every_sector(
    demo: dict[str, Json],
) -> None:
    sectors = {}
    for user in USERS:
        assert user.fhir_user in demo, user.username
        if user.organization:
            role = demo[user.fhir_user]
            assert role["organization"]["reference"] == user.organization
            sectors[user.username] = sector_of(_chain(demo, user.organization))
    assert {sectors[u] for u in ("freja", "kirsten", "pia")} == {"region"}
    # region-psychiatry once the actor's sector knows psychiatric units (Organization.type)
    assert {sectors[u] for u in ("nanna", "helle")} <= {"region", "region-psychiatry"}
    assert {sectors[u] for u in ("karen", "jan")} == {"municipality-health"}
    assert {sectors[u] for u in ("kim", "niels", "marianne")} == {"municipality-social"}
    assert {sectors[u] for u in ("laura", "anders", "frida")} == {"general-practice"}
    types = {c["code"] for c in demo["Organization/demo-midt-bua"]["type"][0]["coding"]}
    assert types == {"CAPC"}


def _visible(seen: dict[str, dict[str, Cell]], login: str, patient: str) -> list[str]:
    return sorted(seen[login][patient].visible)


def _all(demo: dict[str, Json], patient: str) -> list[str]:
    from fhir_server.compartment import owners

    return sorted(k for k, r in demo.items() if patient in owners(r["resourceType"], r))


def test_a_named_block_hides_everything_from_that_doctor_only(
    demo: dict[str, Json], seen: dict[str, dict[str, Cell]]
) -> None:
    assert _visible(seen, "anders", "demo-s6-citizen") == []
    assert "Consent/demo-s6-block-doctor" in seen["anders"]["demo-s6-citizen"].why
    assert _visible(seen, "laura", "demo-s6-citizen") == _all(demo, "demo-s6-citizen")


def test_a_site_block_reaches_the_sub_unit_and_a_named_permit_overrides_it(
    demo: dict[str, Json], seen: dict[str, dict[str, Cell]]
) -> None:
    assert _visible(seen, "kirsten", "demo-s3-citizen") == []
    assert "Consent/demo-s3-block" in seen["kirsten"]["demo-s3-citizen"].why
    assert _visible(seen, "kirsten", "demo-s4-citizen") == _all(demo, "demo-s4-citizen")
    assert _visible(seen, "freja", "demo-s3-citizen") == _all(demo, "demo-s3-citizen")
    assert "Consent/demo-s3-permit-doctor" in seen["freja"]["demo-s3-citizen"].why


def test_without_a_relationship_a_clinician_sees_no_citizen(
    seen: dict[str, dict[str, Cell]],
) -> None:
    assert {c.short for c in seen["pia"].values()} == {"-"}


def test_a_data_period_block_hides_that_years_data_from_every_clinician(
    demo: dict[str, Json], seen: dict[str, dict[str, Cell]]
) -> None:
    hidden = ["Condition/demo-s5-alcohol", "Encounter/demo-s5-alcohol-treatment"]
    expected = sorted(set(_all(demo, "demo-s5-citizen")) - set(hidden))
    assert _visible(seen, "frida", "demo-s5-citizen") == expected
    assert _visible(seen, "karen", "demo-s5-citizen") == expected


def test_the_psychiatry_block_hides_psychiatric_records_from_all_but_psychiatry(
    demo: dict[str, Json], seen: dict[str, dict[str, Cell]]
) -> None:
    psychiatric = [
        "Condition/demo-teen-condition",
        "Encounter/demo-teen-bua-visit",
        "MedicationStatement/demo-teen-medication",
    ]
    everything = _all(demo, "demo-teen-citizen")
    assert _visible(seen, "laura", "demo-teen-citizen") == sorted(
        set(everything) - set(psychiatric)
    )
    assert _visible(seen, "nanna", "demo-teen-citizen") == everything


def test_non_health_actors_see_only_what_a_permit_names(
    seen: dict[str, dict[str, Cell]],
) -> None:
    emil = [
        "CarePlan/demo-s2-careplan",
        "CareTeam/demo-s2-careteam",
        "Goal/demo-s2-goal-child",
        "Goal/demo-s2-goal-parents",
    ]
    assert _visible(seen, "kim", "demo-s2-child") == emil
    assert _visible(seen, "niels", "demo-s2-child") == emil
    assert [p for p, c in seen["kim"].items() if c.visible] == ["demo-s2-child"]
    assert [p for p, c in seen["marianne"].items() if c.visible] == ["demo-s3-citizen"]


def test_parents_see_a_child_under_15_and_not_a_16_year_old_who_blocked_them(
    demo: dict[str, Json], seen: dict[str, dict[str, Cell]]
) -> None:
    assert _visible(seen, "ella", "demo-s2-child") == _all(demo, "demo-s2-child")
    assert _visible(seen, "clara", "demo-teen-citizen") == []
    assert "Consent/demo-teen-block-mother" in seen["clara"]["demo-teen-citizen"].why
    assert _visible(seen, "sofie", "demo-teen-citizen") == _all(demo, "demo-teen-citizen")
    assert [p for p, c in seen["sofie"].items() if c.visible] == ["demo-teen-citizen"]


def test_age_15_both_ways(demo: dict[str, Json]) -> None:
    """At 14, before her blocks, Sofie's mother saw everything; Emil's mother stops seeing his
    data the day he turns 15."""
    resources = list(demo.values())
    at_14 = who_sees_what(resources, LOGINS, date(2024, 6, 1))
    assert at_14["clara"]["demo-teen-citizen"].short == "all"
    day_before = who_sees_what(resources, LOGINS, date(2028, 5, 3))
    assert day_before["ella"]["demo-s2-child"].short == "all"
    at_15 = who_sees_what(resources, LOGINS, date(2028, 5, 4))
    assert at_15["ella"]["demo-s2-child"].short == "-"


def test_fhir_server_demo_prints_who_can_see_what(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FHIR_STORE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("FHIR_AUTH", "off")
    assert main(["demo", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Who can see what — the demo's expectation at 2026-11-16" in out
    header = r"^ +Inge +Emil +Mikkel +Knud +Birthe +Poul +Else +Sofie *$"
    assert re.search(header, out, re.M), out
    for row in (
        r"^  anders +general-practice +all +all +- +all +- +- +- +5/8 *$",
        r"^  kim +municipality-social +- +4/11 +- +- +- +- +- +- *$",
        r"^  kirsten +region +- +- +- +all +- +- +- +- *$",
        r"^  clara +citizen +- +- +- +- +- +- +- +- *$",
    ):
        assert re.search(row, out, re.M), (row, out)
    assert "  anders → Poul: - (GP; Consent/demo-s6-block-doctor)" in out
