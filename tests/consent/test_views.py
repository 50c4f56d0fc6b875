"""Each principal's whole view, exactly (world.PRINCIPALS): every search across citizens —
the home-nursing unit's ``CarePlan?status=active`` — counts, pages, system search, history at
type and system level, and the SMART patient picker answer exactly the ids the principal may
see, on every store; one-row pages never come back empty or short while rows remain."""

from __future__ import annotations

import httpx
import pytest

from tests.auth.conftest import Server
from tests.consent.conftest import SMART_USERS
from tests.consent.support import found, get, pages, patient_data
from tests.consent.world import BY_ID, PATIENT_DATA, PRINCIPALS, SECRET_CODE, Who
from tests.smart.support import BASE as SMART_BASE
from tests.smart.support import Authorization, Browser

pytestmark = [pytest.mark.asyncio(loop_scope="package")]

principals = pytest.mark.parametrize("who", list(PRINCIPALS.values()), ids=list(PRINCIPALS))


def _of_type(who: Who, type_: str) -> set[str]:
    return {k for k in who.sees if k.startswith(type_ + "/")}


@principals
async def test_search_every_type(world: Server, who: Who) -> None:
    for type_ in PATIENT_DATA:
        expected = _of_type(who, type_)
        ids, total = await found(world, f"{type_}?_total=accurate&_count=500", who.token)
        assert sorted(ids) == sorted(expected), type_
        assert total == len(expected), type_
        count = (await get(world, f"{type_}?_summary=count", who.token)).json()
        assert count["total"] == len(expected), type_
        assert not count.get("entry"), type_


@principals
async def test_active_care_plans_across_citizens(world: Server, who: Who) -> None:
    expected = {k for k in _of_type(who, "CarePlan") if BY_ID[k]["status"] == "active"}
    ids, total = await found(world, "CarePlan?status=active&_total=accurate", who.token)
    assert (sorted(ids), total) == (sorted(expected), len(expected))


@principals
@pytest.mark.parametrize("type_", ["Patient", "Observation", "CarePlan"])
async def test_one_row_pages(world: Server, who: Who, type_: str) -> None:
    """Following ``next`` with ``_count=1``: one page per visible row, each with exactly one
    row (an empty or missing page would count the hidden ones), and nothing else."""
    expected = _of_type(who, type_)
    got = await pages(world, f"{type_}?_count=1", who.token)
    if not expected:
        assert got == [[]]
        return
    assert [len(p) for p in got] == [1] * len(expected), got
    assert sorted(k for p in got for k in p) == sorted(expected)


@principals
async def test_system_search(world: Server, who: Who) -> None:
    ids, _ = await found(world, f"?_type={','.join(PATIENT_DATA)}&_count=500", who.token)
    assert sorted(ids) == sorted(who.sees)


@principals
async def test_type_and_system_history(world: Server, who: Who) -> None:
    """History lists only versions of what the principal may see (every resource here has one
    version)."""
    for type_ in ("Patient", "Observation", "CarePlan", "Encounter"):
        ids, _ = await found(world, f"{type_}/_history?_count=500", who.token)
        assert sorted(ids) == sorted(_of_type(who, type_)), type_
    ids, _ = await found(world, "_history?_count=1000", who.token)
    assert sorted(patient_data(ids)) == sorted(who.sees) and len(patient_data(ids)) == len(
        [k for k in ids if k in who.sees]
    )


@principals
async def test_chain_and_has_through_a_hidden_resource(world: Server, who: Who) -> None:
    """obs-dorte is derived from the private obs-dorte-r: a chain or ``_has`` through the
    hidden one matches nothing, exactly as a code nobody has."""
    chain = "Observation?derived-from:Observation.code={}&_total=accurate"
    has = "Patient?_has:Observation:subject:code={}&_total=accurate"
    both = {"Observation/obs-dorte", "Observation/obs-dorte-r"} <= who.sees
    assert await found(world, chain.format(f"{SECRET_CODE}|secret"), who.token) == (
        (["Observation/obs-dorte"], 1) if both else ([], 0)
    )
    assert await found(world, chain.format(f"{SECRET_CODE}|nobody"), who.token) == ([], 0)
    dorte = {"Patient/dorte", "Observation/obs-dorte-r"} <= who.sees
    assert await found(world, has.format(f"{SECRET_CODE}|secret"), who.token) == (
        (["Patient/dorte"], 1) if dorte else ([], 0)
    )


@pytest.mark.parametrize("username", list(SMART_USERS))
async def test_patient_picker_lists_related_patients_only(world: Server, username: str) -> None:
    """The standalone launch's patient picker (a clinician's ``launch/patient``) lists only the
    citizens the clinician may see."""
    who = {"gp": "gp", "other": "other", "nurse": "nurse"}[username]
    expected = sorted(k.split("/")[1] for k in PRINCIPALS[who].sees if k.startswith("Patient/"))
    scope = "launch/patient openid fhirUser patient/*.rs"
    transport = httpx.ASGITransport(app=world.app)  # OAuth wants https or localhost
    async with httpx.AsyncClient(transport=transport, base_url=SMART_BASE) as client:
        browser = Browser(client)
        start = await browser.start(Authorization("picker-app", scope))
        page = await browser.login(start, username)
    assert page.status_code == 200, page.text[:500]
    listed = sorted(part.split('"', 1)[0] for part in page.text.split('name="patient" value="')[1:])
    assert listed == expected[:25]
