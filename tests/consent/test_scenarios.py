"""The seed scenarios S1-S7 (DOMAIN.md §3) end to end over the demo data set: the real app with
``FHIR_AUTH=smart`` on every store, the demo loaded through a transaction, and the demo's own
users (auth/demo.py) — clinicians of the region (hospital, psychiatry), the municipality
(health, social) and general practice, citizens and a parent — asking over real HTTP with real
JWTs. Each answer is the exact set of ids the scenario means.

The demo's dates are fixed (dataset/scenarios/scene.py: its 'today' is 2026-11-16) while the
server decides at the real time, so the decision's clock is set to `TODAY` — the day these
tests were written — and the answers do not change as the calendar runs on past the demo's
periods (docs/dataset.md lists them). One test moves it past the parents' permit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

import auth.access.consent
from auth.demo import USERS
from dataset.demo import demo_resources
from fhir_server.app import ServerApp
from fhir_server.compartment import owners
from fhir_server.config import Settings
from tests.api.support import BASE
from tests.auth.conftest import Revocations, Server, TestKeys, bearer, mint
from tests.consent.support import entries
from tests.support.backends import BACKENDS, app_store

pytestmark = [pytest.mark.asyncio(loop_scope="module")]

TODAY = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
"""When the server decides, in these tests (see the module's docstring)."""
ADMIN = mint("system/*.cruds")
CLINICIAN = "openid fhirUser user/*.rs"
CITIZEN = "openid fhirUser patient/*.rs"
FHIR_USER = {u.username: u.fhir_user for u in USERS}

Json = dict[str, Any]
DEMO: dict[str, Json] = {f"{r['resourceType']}/{r['id']}": r for r in demo_resources()}
OWNER = {
    "Patient": "_id",
    "RelatedPerson": "patient",
    "Condition": "subject",
    "Goal": "subject",
    "CareTeam": "subject",
    "CarePlan": "subject",
    "Encounter": "subject",
    "MedicationStatement": "subject",
    "Consent": "patient",
    "ServiceRequest": "subject",
    "Task": "patient",
    "Observation": "subject",
    "Communication": "subject",
}
"""Each type of the demo's citizens' data, and the parameter naming the citizen."""

INGE, EMIL, MIKKEL, KNUD = "demo-s1-citizen", "demo-s2-child", "demo-s3-citizen", "demo-s4-citizen"
BIRTHE, POUL, ELSE = "demo-s5-citizen", "demo-s6-citizen", "demo-s7-citizen"


@pytest.fixture(autouse=True)
def decide_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth.access.consent, "_now", lambda: TODAY)


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    async with _running(str(request.param), tmp_path_factory.mktemp("scenarios")) as server:
        yield server


@pytest.fixture(params=BACKENDS)
async def fresh_demo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Server]:
    async with _running(str(request.param), tmp_path) as server:
        yield server


@asynccontextmanager
async def _running(backend: str, tmp_path: Path) -> AsyncIterator[Server]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'fhir.db'}", auth="smart", install_conformance=False
    )
    revocations = Revocations()
    app = ServerApp(
        settings, app_store(backend), keys=TestKeys(), is_revoked=revocations.is_revoked
    )
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            bundle = {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [
                    {"resource": r, "request": {"method": "PUT", "url": key}}
                    for key, r in DEMO.items()
                ],
            }
            resp = await client.post("", json=bundle, headers=bearer(ADMIN))
            assert resp.status_code == 200, resp.text[:2000]
            yield Server(client, revocations, app)
    finally:
        await app.shutdown()


def clinician(username: str, scope: str = CLINICIAN, **claims: Any) -> str:
    """A demo user's access token as the embedded authorization server issues it."""
    return mint(scope, sub=username, fhirUser=FHIR_USER[username], **claims)


def citizen(username: str) -> str:
    """A citizen's (or a parent's) token: ``patient/`` scopes in their own (child's) context."""
    fhir_user = FHIR_USER[username]
    patient = _patient_of(fhir_user)
    return mint(CITIZEN, sub=username, fhirUser=fhir_user, patient=patient)


def _patient_of(fhir_user: str) -> str:
    if fhir_user.startswith("Patient/"):
        return fhir_user.split("/", 1)[1]
    return str(DEMO[fhir_user]["patient"]["reference"]).split("/", 1)[1]


async def search(server: Server, url: str, token: str) -> list[str]:
    """``Type/id`` of what a search answers (every page), sorted."""
    out: list[str] = []
    while url:
        resp = await server.client.get(url, headers=bearer(token))
        assert resp.status_code == 200, (url, resp.text[:500])
        body = resp.json()
        out += entries(body)
        url = next((ln["url"] for ln in body.get("link", []) if ln["relation"] == "next"), "")
        url = url.removeprefix(BASE + "/")
    return sorted(out)


async def outcome(server: Server, url: str, token: str) -> list[str]:
    """The issue codes of the OperationOutcome a search answers with (``search.mode``
    outcome), if any."""
    resp = await server.client.get(url, headers=bearer(token))
    assert resp.status_code == 200, resp.text[:500]
    return [
        i["code"]
        for e in resp.json().get("entry", [])
        if e["resource"]["resourceType"] == "OperationOutcome"
        for i in e["resource"]["issue"]
    ]


async def seen(server: Server, patient: str, token: str) -> list[str]:
    """Everything of ``patient``'s data a search of each type finds for ``token``."""
    out: list[str] = []
    for type_, param in OWNER.items():
        value = patient if param == "_id" else f"Patient/{patient}"
        out += await search(server, f"{type_}?{param}={value}&_count=100", token)
    return sorted(out)


def data_of(patient: str) -> list[str]:
    """Every resource of the demo about ``patient`` (the Patient itself, or what its
    ``patient``/``subject`` names)."""
    return sorted(k for k, r in DEMO.items() if patient in owners(r["resourceType"], r))


async def status(server: Server, url: str, token: str) -> int:
    return (await server.client.get(url, headers=bearer(token))).status_code


# ---- S1 preventive sick visit ---------------------------------------------------------------


async def test_s1_the_municipality_and_the_gp_see_the_citizen_of_the_preventive_visit(
    demo: Server,
) -> None:
    requests = ["ServiceRequest/demo-s1-services-request", "ServiceRequest/demo-s1-visit-request"]
    medication = [f"MedicationStatement/demo-s1-medication-{n}" for n in range(1, 6)]
    # the acute function nurse who asked for the visit, and home nursing: the GP's request
    # for municipal services names Aarhus Kommune, the parent of both units
    for nurse in ("jan", "karen"):
        token = clinician(nurse)
        assert await search(demo, f"ServiceRequest?subject=Patient/{INGE}", token) == requests
        assert await search(demo, f"MedicationStatement?subject=Patient/{INGE}", token) == (
            medication
        )
        assert await seen(demo, INGE, token) == data_of(INGE)
    # the GP who accepted (Task) and made the visit
    laura = clinician("laura")
    assert await search(demo, f"Task?patient=Patient/{INGE}", laura) == [
        "Task/demo-s1-services-task",  # and the request for services she sent the municipality
        "Task/demo-s1-visit-task",
    ]
    assert await search(demo, "Communication?category=carecoordination", laura) == [
        "Communication/demo-s1-care-communication",
        "Communication/demo-s6-course-ended",
    ]
    assert await seen(demo, INGE, laura) == data_of(INGE)


async def test_s1_an_unrelated_hospital_doctor_sees_nothing_of_the_citizen(demo: Server) -> None:
    pia = clinician("pia")
    assert await seen(demo, INGE, pia) == []
    assert await status(demo, f"Patient/{INGE}", pia) == 404
    assert await status(demo, "ServiceRequest/demo-s1-visit-request", pia) == 404
    resp = await demo.client.get("ServiceRequest?_summary=count", headers=bearer(pia))
    assert resp.json()["total"] == 0
    assert await outcome(demo, f"ServiceRequest?subject=Patient/{INGE}", pia) == []


# ---- S2 child and youth psychiatry ----------------------------------------------------------

EMIL_PERMITTED = [
    "CarePlan/demo-s2-careplan",
    "CareTeam/demo-s2-careteam",
    "Goal/demo-s2-goal-child",
    "Goal/demo-s2-goal-parents",
]


@pytest.mark.parametrize("worker", ["kim", "niels"])
async def test_s2_ppr_and_family_services_see_only_what_the_parents_permit(
    demo: Server, worker: str
) -> None:
    token = clinician(worker)
    assert await seen(demo, EMIL, token) == EMIL_PERMITTED
    for hidden in ("Patient/demo-s2-child", "Condition/demo-s2-condition"):
        assert await status(demo, hidden, token) == 404
    assert await search(demo, "CarePlan?_total=accurate", token) == ["CarePlan/demo-s2-careplan"]
    assert await search(
        demo, "CarePlan?_id=demo-s2-careplan&_include=CarePlan:care-team&_include=CarePlan:goal",
        token,
    ) == EMIL_PERMITTED  # fmt: skip
    # the plan's diagnosis is psychiatric data, not in the permit
    assert await search(demo, "CarePlan?_include=CarePlan:condition", token) == [
        "CarePlan/demo-s2-careplan"
    ]
    for other in (INGE, MIKKEL, KNUD, BIRTHE, POUL, ELSE):
        assert await seen(demo, other, token) == [], other


async def test_s2_after_the_permits_year_ppr_sees_nothing(
    demo: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    end = DEMO["Consent/demo-s2-consent"]["provision"]["period"]["end"]
    assert end == "2027-11-16"
    last_day = datetime(2027, 11, 16, 23, 0, tzinfo=UTC)
    monkeypatch.setattr(auth.access.consent, "_now", lambda: last_day)
    assert await seen(demo, EMIL, clinician("kim")) == EMIL_PERMITTED
    day_after = datetime(2027, 11, 17, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(auth.access.consent, "_now", lambda: day_after)
    kim = clinician("kim")
    assert await seen(demo, EMIL, kim) == []
    assert await status(demo, "CarePlan/demo-s2-careplan", kim) == 404


async def test_s2_the_childs_psychiatrist_and_gp_see_the_plan_and_everything_else(
    demo: Server,
) -> None:
    for username in ("nanna", "laura"):  # BUA's doctor; Emil's GP (in the care team)
        token = clinician(username)
        assert await search(
            demo, "CarePlan?_id=demo-s2-careplan&_include=CarePlan:care-team", token
        ) == ["CarePlan/demo-s2-careplan", "CareTeam/demo-s2-careteam"]
        assert await seen(demo, EMIL, token) == data_of(EMIL), username
    assert "Condition/demo-s2-condition" in data_of(EMIL)


async def test_s2_a_parent_with_custody_reads_the_childs_plan(demo: Server) -> None:
    ella = citizen("ella")  # Emil's mother, parental authority; Emil is 13
    assert await seen(demo, EMIL, ella) == data_of(EMIL)
    assert await seen(demo, INGE, ella) == []


# ---- S3 one citizen - one shared course -----------------------------------------------------


async def test_s3_the_team_sees_the_course_the_job_centre_what_mikkel_permits(
    demo: Server,
) -> None:
    assert await seen(demo, MIKKEL, clinician("helle")) == data_of(MIKKEL)  # outreach team
    assert await seen(demo, MIKKEL, clinician("frida")) == data_of(MIKKEL)  # his GP
    marianne = clinician("marianne")  # job centre: only his disclosure permit's classes
    assert await seen(demo, MIKKEL, marianne) == [
        "CarePlan/demo-s3-careplan",
        "CareTeam/demo-s3-careteam",
        "Goal/demo-s3-goal-1",
        "Goal/demo-s3-goal-2",
        "Goal/demo-s3-goal-3",
    ]


async def test_s3_a_referral_to_a_ward_mikkel_blocked_opens_only_the_doctor_he_permits(
    demo: Server,
) -> None:
    # his psychiatrist referred him to the medical ward (active): the ward is related, but
    # he blocked the ward (and so its section M3) and permits one named doctor there
    kirsten = clinician("kirsten")
    assert await seen(demo, MIKKEL, kirsten) == []
    assert "suppressed" in await outcome(demo, f"CarePlan?subject=Patient/{MIKKEL}", kirsten)
    assert await seen(demo, MIKKEL, clinician("freja")) == data_of(MIKKEL)


# ---- S4 discharge home ----------------------------------------------------------------------


async def test_s4_the_discharge_gives_ward_gp_and_home_nursing_the_citizen(demo: Server) -> None:
    for username in ("freja", "kirsten", "anders", "laura", "karen"):
        assert await seen(demo, KNUD, clinician(username)) == data_of(KNUD), username
    # the hand-overs not accepted yet that the clinic sees: Knud's to the GP and to home
    # nursing, Inge's request for services the clinic sent the municipality (docs/handover.md)
    assert await search(demo, "Task?status=requested", clinician("anders")) == [
        "Task/demo-s1-services-task",
        "Task/demo-s4-handover-task",
        "Task/demo-s4-home-nursing-task",
    ]
    # home nursing's open requests: Knud's follow-up and Birthe's IV treatment (S5)
    karen = clinician("karen")
    url = "ServiceRequest?performer=Organization/demo-aarhus-home-nursing&status=active"
    assert await search(demo, url, karen) == [
        "ServiceRequest/demo-s4-home-nursing-request",
        "ServiceRequest/demo-s5-iv-request",
    ]
    assert await seen(demo, KNUD, clinician("pia")) == []
    assert await search(demo, url, clinician("pia")) == []


# ---- S5 IV treatment at home ----------------------------------------------------------------

BIRTHE_2019 = ["Condition/demo-s5-alcohol", "Encounter/demo-s5-alcohol-treatment"]


async def test_s5_home_nursing_and_the_responsible_hospital_doctor_see_the_iv_course(
    demo: Server,
) -> None:
    ward_doctor = mint(
        CLINICIAN, fhirUser="PractitionerRole/demo-midt-infection-ward-doctor-1-role"
    )
    karen = clinician("karen")
    for token in (karen, ward_doctor, clinician("frida")):
        found = await seen(demo, BIRTHE, token)
        # Birthe blocked the data of 2019 (an alcohol course) for everyone
        assert found == sorted(set(data_of(BIRTHE)) - set(BIRTHE_2019))
        assert "suppressed" in await outcome(demo, f"Condition?subject=Patient/{BIRTHE}", token)
    assert await search(demo, f"Task?patient=Patient/{BIRTHE}", karen) == ["Task/demo-s5-iv-task"]
    team = await demo.client.get(f"CareTeam?subject=Patient/{BIRTHE}", headers=bearer(karen))
    responsible = [
        p["member"]["reference"]
        for p in team.json()["entry"][0]["resource"]["participant"]
        if p["role"][0]["coding"][0]["code"] == "patient-responsible-doctor"
    ]
    assert responsible == ["PractitionerRole/demo-midt-infection-ward-doctor-1-role"]


# ---- S6 referral to the municipal acute function --------------------------------------------


async def test_s6_the_gp_sees_the_results_and_the_blocked_colleague_nothing(demo: Server) -> None:
    laura = clinician("laura")
    assert await search(demo, f"Communication?subject=Patient/{POUL}", laura) == [
        "Communication/demo-s6-course-ended",
        "Communication/demo-s6-results",
    ]
    assert await seen(demo, POUL, laura) == data_of(POUL)
    anders = clinician("anders")  # same clinic, blocked by Poul by name
    assert await seen(demo, POUL, anders) == []
    assert await status(demo, f"Patient/{POUL}", anders) == 404
    assert "suppressed" in await outcome(demo, f"Communication?subject=Patient/{POUL}", anders)
    # the acute function's course has ended (request, task, visit completed): no relationship
    assert await seen(demo, POUL, clinician("jan")) == []


async def test_s6_a_new_referral_gives_the_acute_function_the_citizen(fresh_demo: Server) -> None:
    jan = clinician("jan")
    assert await status(fresh_demo, f"Patient/{POUL}", jan) == 404
    referral = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "priority": "asap",
        "code": {"text": "Akutfunktionen: vurdering i hjemmet"},
        "subject": {"reference": f"Patient/{POUL}"},
        "authoredOn": "2026-12-03T09:00:00+01:00",
        "requester": {"reference": FHIR_USER["laura"]},
        "performer": [{"reference": "Organization/demo-aarhus-acute-function"}],
    }
    laura = clinician("laura", "openid fhirUser user/*.rs user/ServiceRequest.c")
    resp = await fresh_demo.client.post("ServiceRequest", json=referral, headers=bearer(laura))
    assert resp.status_code == 201, resp.text
    new = f"ServiceRequest/{resp.json()['id']}"
    assert await status(fresh_demo, f"Patient/{POUL}", jan) == 200
    # the referral hands itself over to the acute function by a Task (docs/handover.md)
    (handover,) = await search(fresh_demo, f"Task?focus={new}", jan)
    assert await seen(fresh_demo, POUL, jan) == sorted([*data_of(POUL), new, handover])
    assert await seen(fresh_demo, POUL, clinician("pia")) == []


# ---- S7 the citizen's view ------------------------------------------------------------------


async def test_s7_the_citizen_reads_her_plan_team_medication_and_open_requests(
    demo: Server,
) -> None:
    else_ = citizen("else")
    assert await search(
        demo, "CarePlan?_include=CarePlan:care-team&_include=CarePlan:goal", else_
    ) == [
        "CarePlan/demo-s7-careplan",
        "CareTeam/demo-s7-careteam",
        "Goal/demo-s7-goal-daughter",
        "Goal/demo-s7-goal-own",
    ]
    assert await search(demo, "MedicationStatement?status=active", else_) == [
        "MedicationStatement/demo-s7-medication-1",
        "MedicationStatement/demo-s7-medication-2",
        "MedicationStatement/demo-s7-medication-3",
    ]
    assert await search(demo, "ServiceRequest?status=active", else_) == [
        "ServiceRequest/demo-s7-memory-clinic-request"
    ]
    assert await seen(demo, ELSE, else_) == data_of(ELSE)
    for other in (INGE, EMIL, MIKKEL, KNUD, BIRTHE, POUL):
        assert await seen(demo, other, else_) == [], other
        assert await status(demo, f"Patient/{other}", else_) == 404


async def test_s7_her_daughter_sees_what_else_permits(demo: Server) -> None:
    daughter = mint(CITIZEN, fhirUser="RelatedPerson/demo-s7-daughter", patient=ELSE)
    assert await seen(demo, ELSE, daughter) == [
        "CarePlan/demo-s7-careplan",
        "CareTeam/demo-s7-careteam",
        "Goal/demo-s7-goal-daughter",
        "Goal/demo-s7-goal-own",
        "MedicationStatement/demo-s7-medication-1",
        "MedicationStatement/demo-s7-medication-2",
        "MedicationStatement/demo-s7-medication-3",
        "ServiceRequest/demo-s7-memory-clinic-request",
    ]


async def test_s7_min_log_lists_who_looked_including_a_break_the_glass(
    fresh_demo: Server,
) -> None:
    frida = clinician("frida")  # Else's GP
    assert await status(fresh_demo, "CarePlan/demo-s7-careplan", frida) == 200
    btg = clinician(
        "pia", patient=ELSE, purpose_of_use="EMERGENCY",
        btg_reason="Bevidstløs ved indlæggelse; kan ikke spørges",
    )  # fmt: skip
    assert await status(fresh_demo, f"Patient/{ELSE}", btg) == 200
    resp = await fresh_demo.client.get(
        f"AuditEvent?patient=Patient/{ELSE}&_count=100", headers=bearer(citizen("else"))
    )
    assert resp.status_code == 200, resp.text
    events = [e["resource"] for e in resp.json().get("entry", [])]
    who = {
        a["who"]["reference"]
        for ev in events
        for a in ev["agent"]
        if a.get("requestor") and "reference" in a.get("who", {})
    }
    assert {FHIR_USER["frida"], FHIR_USER["pia"]} <= who
    emergency = [
        ev
        for ev in events
        if any(p.get("code") == "110127" for p in ev.get("type", {}).get("coding", []) or [])
        or any(
            c.get("code") in ("BTG", "EMERGENCY")
            for a in ev["agent"]
            for pou in a.get("purposeOfUse", [])
            for c in pou.get("coding", [])
        )
    ]
    assert emergency, events
    assert "1908381922" not in resp.text  # her CPR number never appears in her log
    # her log is hers: another citizen's token sees none of it
    other = mint(CITIZEN, fhirUser="Patient/demo-s1-citizen", patient=INGE)
    resp = await fresh_demo.client.get(f"AuditEvent?patient=Patient/{ELSE}", headers=bearer(other))
    assert resp.status_code in (200, 403)
    assert resp.status_code == 403 or entries(resp.json()) == []
