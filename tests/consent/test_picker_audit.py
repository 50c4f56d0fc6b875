"""Item 7 for the SMART patient picker: a listing of patients shows their names (and birth
dates) to the signed-in clinician before any token exists, so it is audited as a search is —
one PatientQuery per patient shown (the user, their organization and sector, the app as the
client), in each patient's Min log; a break-the-glass listing (every citizen) is marked as
one. Real HTTP (the authorization server's pages), both stores."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from auth.audit import events as ev
from tests.auth.conftest import Server
from tests.consent.conftest import audit_events, new_events, patients, user_agent
from tests.consent.world import PRINCIPALS
from tests.smart.support import BASE as SMART_BASE
from tests.smart.support import Authorization, Browser

pytestmark = [pytest.mark.asyncio(loop_scope="package")]

SCOPE = "launch/patient openid fhirUser patient/*.rs"


def _listed(page: httpx.Response) -> list[str]:
    return sorted(part.split('"', 1)[0] for part in page.text.split('name="patient" value="')[1:])


async def _picker(world: Server, username: str, **extra: str) -> tuple[list[str], list[Any]]:
    before = await audit_events(world)
    transport = httpx.ASGITransport(app=world.app)  # OAuth wants https or localhost
    async with httpx.AsyncClient(transport=transport, base_url=SMART_BASE) as client:
        browser = Browser(client)
        start = await browser.start(Authorization("picker-app", SCOPE, extra=extra))
        page = await browser.login(start, username)
    assert page.status_code == 200, page.text[:500]
    return _listed(page), await new_events(world, before)


async def test_a_picker_listing_is_one_patient_query_per_patient_shown(world: Server) -> None:
    listed, events = await _picker(world, "nurse")
    expected = sorted(k.split("/")[1] for k in PRINCIPALS["nurse"].sees if k.startswith("Patient/"))
    assert listed == expected
    queries = [e for e in events if e["meta"]["profile"] == [ev.BALP + "PatientQuery"]]
    assert sorted(p for e in queries for p in patients(e)) == [f"Patient/{p}" for p in listed]
    assert len(queries) == len(listed)  # one each
    for event in queries:
        assert event["action"] == "E" and event["outcome"] == "0"
        assert event["subtype"][0]["code"] == "search-type"
        user = user_agent(event)
        assert user["who"]["reference"] == "PractitionerRole/nurse-role"
        assert user["role"][0]["coding"][0]["code"] == "municipality-health"
        client = next(a for a in event["agent"] if a["type"]["coding"][0]["code"] == "110153")
        assert client["who"]["identifier"]["value"] == "picker-app"
        query = next(e for e in event["entity"] if e["role"]["code"] == "24")
        assert base64.b64decode(query["query"]).decode().startswith("Patient?")
    # in the patient's own Min log
    anna = PRINCIPALS["anna"].token
    log = await world.client.get(
        "AuditEvent?patient=anna&_count=500", headers={"Authorization": f"Bearer {anna}"}
    )
    ids = {e["resource"]["id"] for e in log.json().get("entry", [])}
    assert any(e["id"] in ids for e in queries if patients(e) == ["Patient/anna"])


async def test_a_listing_without_patients_is_one_query_without_one(world: Server) -> None:
    listed, events = await _picker(world, "other")  # no relationship with anybody
    assert listed == []
    queries = [e for e in events if e["action"] == "E" and "entity" in e]
    assert [patients(e) for e in queries] == [[]]
    assert queries[0]["meta"]["profile"] == [ev.BALP + "Query"]


async def test_a_break_the_glass_listing_is_marked_as_one(world: Server) -> None:
    reason = "Bevidstløs ved indlæggelse; kan ikke spørges"
    listed, events = await _picker(world, "other", purpose_of_use="BTG", btg_reason=reason)
    assert listed  # every citizen, not only related ones
    queries = [e for e in events if e["meta"]["profile"] == [ev.BALP + "PatientQuery"]]
    assert sorted(p for e in queries for p in patients(e)) == [f"Patient/{p}" for p in listed]
    for event in queries:
        assert [c["code"] for c in event["subtype"]] == ["search-type", "110127"]
        assert event["purposeOfEvent"] == [{"coding": [ev.BTG], "text": reason}]
