"""The demo's cases of cross-sector access (dataset/access_cases.py): the people and consents
exist and conform to their profiles, and the table of who can see what that `fhir-server demo`
prints — the server's own access decision (auth/visibility.py) — is what the cases mean, cell by
cell against a table written by hand.

The demo's dates are fixed (its 'today' is 2026-11-16) and the server decides at the real
time, so the decision's clock is set to `TODAY` (the day the table was written) and, for age
15, to the days around the birthdays."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

import auth.access.consent
from auth.demo import USERS
from auth.identity import sector_of
from auth.visibility import Seen, who_sees_what
from dataset.demo import demo_resources
from dataset.scenarios.scene import DATASET_DATE, age_at
from fhir_server.cli import main
from fhir_server.config import Settings
from fhir_server.services import create_services
from fhir_server.store.factory import make_store
from profiles.validation import Validator

Json = dict[str, Any]
PSY = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY"}


@pytest.fixture(scope="module")
def demo() -> dict[str, Json]:
    return {f"{r['resourceType']}/{r['id']}": r for r in demo_resources()}


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


TODAY = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
"""When the server decides, in these tests (see the module's docstring)."""
CITIZENS = ["Inge", "Emil", "Mikkel", "Knud", "Birthe", "Poul", "Else", "Sofie"]
EXPECTED = """
freja     region               -     -     all   all   -     -     -     -
kirsten   region               -     -     -     all   -     -     -     -
pia       region               -     -     -     -     -     -     -     -
nanna     region-psychiatry    -     all   -     -     -     -     -     all
helle     region-psychiatry    -     all   all   -     -     -     -     -
karen     municipality-health  all   -     -     all   9/11  -     all   -
jan       municipality-health  all   -     -     -     -     -     -     -
kim       municipality-social  -     4/11  -     -     -     -     -     -
niels     municipality-social  -     4/11  -     -     -     -     -     -
marianne  municipality-social  -     -     5/16  -     -     -     -     -
laura     general-practice     all   all   -     all   -     all   -     5/8
anders    general-practice     all   all   -     all   -     -     -     5/8
frida     general-practice     -     -     all   -     9/11  -     all   -
else      citizen              -     -     -     -     -     -     all   -
ella      citizen              -     all   -     -     -     -     -     -
sofie     citizen              -     -     -     -     -     -     -     all
clara     citizen              -     -     -     -     -     -     -     -
"""
"""Who sees what of whom on `TODAY`, by the rules (DOMAIN.md §6, docs/consent.md): ``all``
every resource about the citizen, ``-`` none, ``n/m`` n of the m."""
WITHHELD = [  # a care relationship, and a consent keeps some of the data from them
    "kirsten → Mikkel: -",  # Mikkel blocked the medical ward: its section M3 too
    "karen → Birthe: 9/11",  # Birthe blocked the data of 2019
    "laura → Sofie: 5/8",  # Sofie blocked her psychiatric data for all but psychiatry
    "anders → Poul: -",  # Poul blocked him by name
    "anders → Sofie: 5/8",
    "frida → Birthe: 9/11",
]


@dataclass
class Printed:
    out: str
    rows: dict[str, tuple[str, dict[str, str]]]
    """login → (sector, citizen's name → cell)."""
    db: Path


def _parse(out: str) -> dict[str, tuple[str, dict[str, str]]]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Who can see what"))
    names = lines[start + 1].split()
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("  "):
            break
        login, sector, *cells = line.split()
        rows[login] = (sector, dict(zip(names, cells, strict=True)))
    return rows


@contextmanager
def _deciding_at(moment: datetime) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth.access.consent, "_now", lambda: moment)
        yield


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> Printed:
    """What `fhir-server demo` prints on a fresh store, the decision taken on `TODAY`."""
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as env, _deciding_at(TODAY), redirect_stdout(out):
        env.setenv("FHIR_STORE_URL", f"sqlite:///{db}")
        env.setenv("FHIR_AUTH", "off")
        assert main(["demo", "--no-progress"]) == 0
    return Printed(out.getvalue(), _parse(out.getvalue()), db)


def test_fhir_server_demo_prints_who_can_see_what_from_the_servers_decision(
    printed: Printed,
) -> None:
    assert (
        "Who can see what — the server's access decision at 2026-12-03 12:00 UTC (clinicians "
        "with user/*.rs, citizens and parents with patient/*.rs; no break-the-glass):"
    ) in printed.out
    header = r"^ +Inge +Emil +Mikkel +Knud +Birthe +Poul +Else +Sofie *$"
    assert re.search(header, printed.out, re.M), printed.out
    expected = {}
    for line in EXPECTED.strip().splitlines():
        login, sector, *cells = line.split()
        expected[login] = (sector, dict(zip(CITIZENS, cells, strict=True)))
    assert printed.rows == expected
    assert list(printed.rows) == [u.username for u in USERS]


def test_it_names_where_a_consent_withholds_data_from_a_related_clinician(
    printed: Printed,
) -> None:
    lines = printed.out.splitlines()
    start = lines.index("Where a care relationship holds and the citizen's consent withholds data:")
    listed = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        listed.append(line.strip())
    assert listed == WITHHELD


def _row(printed: Printed, login: str) -> dict[str, str]:
    return printed.rows[login][1]


def test_a_named_block_hides_everything_from_that_doctor_only(printed: Printed) -> None:
    assert _row(printed, "anders")["Poul"] == "-"
    assert _row(printed, "laura")["Poul"] == "all"


def test_a_site_block_reaches_the_sub_unit_and_a_named_permit_overrides_it(
    printed: Printed,
) -> None:
    assert _row(printed, "kirsten")["Mikkel"] == "-"
    assert _row(printed, "kirsten")["Knud"] == "all"  # the ward's relationship is hers too
    assert _row(printed, "freja")["Mikkel"] == "all"


def test_without_a_relationship_a_clinician_sees_no_citizen(printed: Printed) -> None:
    assert set(_row(printed, "pia").values()) == {"-"}


def test_non_health_actors_see_only_what_a_permit_names(printed: Printed) -> None:
    for login, citizen in (("kim", "Emil"), ("niels", "Emil"), ("marianne", "Mikkel")):
        assert [n for n, cell in _row(printed, login).items() if cell != "-"] == [citizen]


def test_parents_see_a_child_under_15_and_not_a_16_year_old_who_blocked_them(
    printed: Printed,
) -> None:
    assert [n for n, cell in _row(printed, "ella").items() if cell != "-"] == ["Emil"]
    assert _row(printed, "ella")["Emil"] == "all"
    assert set(_row(printed, "clara").values()) == {"-"}
    assert [n for n, cell in _row(printed, "sofie").items() if cell != "-"] == ["Sofie"]


async def _seen(
    printed: Printed, users: list[str], patients: list[str], at: datetime
) -> dict[str, dict[str, Seen]]:
    """`auth.visibility.who_sees_what` — what the CLI prints — on the printed store, at ``at``,
    with every resource's ids."""
    settings = Settings(store_url=f"sqlite:///{printed.db}", auth="off")
    services = create_services(settings)
    store = make_store(settings, services.indexer)
    await store.open()
    try:
        with _deciding_at(at):
            found = await who_sees_what(
                store,
                services.params,
                [(u.username, u.fhir_user) for u in USERS if u.username in users],
                patients,
                TYPES,
            )
    finally:
        await store.close()
    return found.seen


TYPES = ["Patient", "RelatedPerson", "Condition", "Goal", "CareTeam", "CarePlan", "Encounter",
         "MedicationStatement", "Consent", "ServiceRequest", "Task", "Observation",
         "Communication"]  # fmt: skip


def _all(demo: dict[str, Json], patient: str) -> list[str]:
    from fhir_server.compartment import owners

    return sorted(k for k, r in demo.items() if patient in owners(r["resourceType"], r))


async def test_a_data_period_block_hides_that_years_data_from_every_clinician(
    printed: Printed, demo: dict[str, Json]
) -> None:
    hidden = ["Condition/demo-s5-alcohol", "Encounter/demo-s5-alcohol-treatment"]
    expected = sorted(set(_all(demo, "demo-s5-citizen")) - set(hidden))
    seen = await _seen(printed, ["frida", "karen"], ["demo-s5-citizen"], TODAY)
    for login in ("frida", "karen"):
        assert list(seen[login]["demo-s5-citizen"].visible) == expected, login


async def test_the_psychiatry_block_hides_psychiatric_records_from_all_but_psychiatry(
    printed: Printed, demo: dict[str, Json]
) -> None:
    psychiatric = [
        "Condition/demo-teen-condition",
        "Encounter/demo-teen-bua-visit",
        "MedicationStatement/demo-teen-medication",
    ]
    everything = _all(demo, "demo-teen-citizen")
    seen = await _seen(printed, ["laura", "nanna"], ["demo-teen-citizen"], TODAY)
    assert list(seen["laura"]["demo-teen-citizen"].visible) == sorted(
        set(everything) - set(psychiatric)
    )
    assert list(seen["nanna"]["demo-teen-citizen"].visible) == everything


async def test_the_ppr_worker_sees_exactly_the_plan_team_and_goals_of_the_permit(
    printed: Printed,
) -> None:
    seen = await _seen(printed, ["kim"], ["demo-s2-child"], TODAY)
    assert list(seen["kim"]["demo-s2-child"].visible) == [
        "CarePlan/demo-s2-careplan",
        "CareTeam/demo-s2-careteam",
        "Goal/demo-s2-goal-child",
        "Goal/demo-s2-goal-parents",
    ]


async def test_age_15_both_ways(printed: Printed) -> None:
    """At 14, before her blocks, Sofie's mother saw everything; Emil's mother stops seeing his
    data the day he turns 15 (4 May 2028)."""
    at_14 = await _seen(printed, ["clara"], ["demo-teen-citizen"], datetime(2024, 6, 1, tzinfo=UTC))
    assert at_14["clara"]["demo-teen-citizen"].short == "all"
    day_before = datetime(2028, 5, 3, 12, tzinfo=UTC)
    assert (await _seen(printed, ["ella"], ["demo-s2-child"], day_before))["ella"][
        "demo-s2-child"
    ].short == "all"
    birthday = datetime(2028, 5, 4, 12, tzinfo=UTC)
    assert (await _seen(printed, ["ella"], ["demo-s2-child"], birthday))["ella"][
        "demo-s2-child"
    ].short == "-"
