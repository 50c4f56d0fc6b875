"""``$everything`` through the one access seam, over real HTTP with real tokens on both stores:
every principal of the consent world gets exactly the record it may see of every citizen (a
blocked clinician's holds nothing blocked, a citizen's token only their own), a record it may
not see at all answers exactly as one that never existed, pages never reveal hidden rows, and
one call is one audit record about its patient."""

from __future__ import annotations

from typing import Any

import pytest

from tests.auth.conftest import Server
from tests.consent.conftest import audit_events, new_events, patients
from tests.consent.support import entries, get, indistinguishable, never_swaps, pages, patient_data
from tests.consent.world import BY_ID, CASE_IDS, CASES, NEVER, PRINCIPALS, Case, of

CITIZENS = sorted(k.split("/", 1)[1] for k in BY_ID if k.startswith("Patient/"))
NAMED = [c for c in CITIZENS if not c.startswith("rk-")]
"""The citizens with blocks and permits; the ``rk-`` ones differ by care relationship only (to
sem-doc and sem-boss), so only those two principals ask for them."""


def _asked(who: str) -> list[str]:
    return CITIZENS if who.startswith("sem-") else NAMED


@pytest.mark.parametrize("name", PRINCIPALS)
async def test_every_principal_gets_exactly_what_it_may_see(world: Server, name: str) -> None:
    who = PRINCIPALS[name]
    for pid in _asked(who.name):
        visible = of(pid) & who.sees
        resp = await get(world, f"Patient/{pid}/$everything?_count=500", who.token)
        if f"Patient/{pid}" not in visible:
            assert resp.status_code == 404, (who.name, pid, resp.text[:300])
            continue
        assert resp.status_code == 200, (who.name, pid, resp.text[:300])
        found = entries(resp.json())
        assert len(found) == len(set(found)), (who.name, pid)
        assert patient_data(found) == visible, (who.name, pid)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_what_is_hidden_is_never_in_it(world: Server, case: Case) -> None:
    token = case.principal.token
    resp = await get(world, f"Patient/{case.patient}/$everything", token)
    never = await get(world, f"Patient/{NEVER}/$everything", token)
    if f"Patient/{case.patient}" not in case.visible:  # the record itself is hidden: unknown
        indistinguishable(resp, never, never_swaps(case.patient), case.strict)
        return
    assert resp.status_code == 200, resp.text[:300]
    found = set(entries(resp.json()))
    assert patient_data(found) == case.visible
    assert not found & case.hidden
    for type_ in ("Observation", "MedicationStatement", "Encounter"):  # _type alone, too
        url = f"Patient/{case.patient}/$everything?_type={type_}"
        typed = entries((await get(world, url, token)).json())
        assert set(typed) == {k for k in case.visible if k.startswith(type_ + "/")}


async def test_pages_of_a_partly_blocked_record_hide_no_gaps(world: Server) -> None:
    gp = PRINCIPALS["gp"]  # clara blocks her 2019 data: the gp sees the rest
    visible = of("clara") & gp.sees
    assert of("clara") - visible  # something is hidden
    split = await pages(world, "Patient/clara/$everything?_count=3", gp.token)
    flat = [k for page in split for k in page]
    assert len(flat) == len(set(flat))
    assert patient_data(flat) == visible
    assert len(split) > 1
    # no short or empty page where a row is hidden
    assert all(len(page) == 3 for page in split[:-1]) and 0 < len(split[-1]) <= 3


async def test_a_citizens_token_reaches_only_their_own_record(world: Server) -> None:
    anna = PRINCIPALS["anna"]
    own = await get(world, "Patient/anna/$everything", anna.token)
    assert own.status_code == 200
    assert patient_data(entries(own.json())) == of("anna")
    other = await get(world, "Patient/bent/$everything", anna.token)
    never = await get(world, f"Patient/{NEVER}/$everything", anna.token)
    indistinguishable(other, never, never_swaps("bent"))
    enc = next(k for k in of("bent") if k.startswith("Encounter/"))
    hidden = await get(world, f"{enc}/$everything", anna.token)
    absent = await get(world, f"Encounter/{NEVER}/$everything", anna.token)
    indistinguishable(hidden, absent, {enc.split("/", 1)[1]: NEVER})


@pytest.mark.parametrize("name", PRINCIPALS)
async def test_encounter_everything_is_filtered_alike(world: Server, name: str) -> None:
    who = PRINCIPALS[name]
    for key in sorted(k for k in BY_ID if k.startswith("Encounter/")):
        pid = BY_ID[key]["subject"]["reference"].split("/", 1)[1]
        resp = await get(world, f"{key}/$everything", who.token)
        if key not in who.sees:
            assert resp.status_code == 404, (who.name, key)
            continue
        assert resp.status_code == 200, (who.name, key, resp.text[:300])
        found = set(patient_data(entries(resp.json())))
        assert key in found
        assert found <= of(pid) & who.sees, (who.name, key)


def _operations(events: list[dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    """(outcome, the operation, the patients) of each event."""
    return [(e["outcome"], e["subtype"][-1]["code"], patients(e)) for e in events]


async def test_one_call_is_audited_once(world: Server) -> None:
    gp = PRINCIPALS["gp"]
    before = await audit_events(world)
    resp = await get(world, "Patient/anna/$everything?_count=2", gp.token)
    assert resp.status_code == 200
    events = await new_events(world, before)
    assert _operations(events) == [("0", "$everything", ["Patient/anna"])]
    before = await audit_events(world)
    nxt = next(ln["url"] for ln in resp.json()["link"] if ln["relation"] == "next")
    assert (await get(world, nxt.split("/fhir/", 1)[1], gp.token)).status_code == 200
    assert _operations(await new_events(world, before)) == [("0", "$everything", ["Patient/anna"])]
    before = await audit_events(world)  # a record it may not see: one refusal
    other = PRINCIPALS["other"]
    assert (await get(world, "Patient/anna/$everything", other.token)).status_code == 404
    assert [o for o, _, _ in _operations(await new_events(world, before))] == ["4"]
