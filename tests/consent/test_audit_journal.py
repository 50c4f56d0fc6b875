"""Reads' AuditEvents go through the store's deferred journal (docs/audit.md, "Durability"):
answered only once journaled, stored with their index later, and seen at once by every read
of AuditEvents — the citizen's Min log right after the reads lists them all, a read by id, the
history and a ``_revinclude`` of AuditEvent too. The background indexer is stopped in these
tests, so what they read was still in the journal when they asked. Writes' events are stored
in the write's own unit of work. Real HTTP, real tokens, both stores."""

from __future__ import annotations

import pytest

from fhir_server.store.base import SearchQuery
from tests.auth.conftest import ADMIN, Server, mint
from tests.consent.conftest import patients

DOCTOR = mint("user/*.rs", fhirUser="Practitioner/doc")
SYSTEM = mint(ADMIN)
CITIZEN = mint("patient/*.rs", fhirUser="Patient/p1")
READS = 12


@pytest.fixture
async def quiet(server: Server) -> Server:
    """The server without its background indexer: only reads drain the journal."""
    indexer = server.app._indexer
    assert indexer is not None
    indexer.cancel()
    return server


async def _read_lab1(server: Server, times: int) -> None:
    for _ in range(times):
        assert (await server.get("Observation/lab1", DOCTOR)).status_code == 200


async def _journaled(server: Server) -> bool:
    return await server.app.store.has_deferred(("AuditEvent",))


async def test_the_min_log_lists_every_read_at_once(quiet: Server) -> None:
    await _read_lab1(quiet, READS)
    assert await _journaled(quiet)  # answered once journaled, not yet stored
    resp = await quiet.get("AuditEvent?patient=p1&action=R&_total=accurate", CITIZEN)
    assert resp.status_code == 200, resp.text
    bundle = resp.json()
    assert bundle["total"] == READS == len(bundle["entry"])
    assert all(patients(e["resource"]) == ["Patient/p1"] for e in bundle["entry"])
    # stored once each: asking again gives the same events
    again = (await quiet.get("AuditEvent?patient=p1&action=R", CITIZEN)).json()
    ids = sorted(e["resource"]["id"] for e in bundle["entry"])
    assert sorted(e["resource"]["id"] for e in again["entry"]) == ids


async def test_a_journaled_event_reads_by_id_and_in_history(quiet: Server) -> None:
    await _read_lab1(quiet, 1)
    found = (await quiet.get("AuditEvent?patient=p1&action=R", CITIZEN)).json()
    (event_id,) = [e["resource"]["id"] for e in found["entry"]]
    await _read_lab1(quiet, 1)
    assert await _journaled(quiet)
    resp = await quiet.get("AuditEvent/_history?_count=500", SYSTEM)
    assert resp.status_code == 200, resp.text
    history = resp.json()
    in_history = {e["resource"]["id"] for e in history["entry"] if "resource" in e}
    newest = (await quiet.get("AuditEvent?patient=p1&action=R", CITIZEN)).json()
    second = {e["resource"]["id"] for e in newest["entry"]} - {event_id}
    assert len(second) == 1 and second <= in_history
    assert (await quiet.get(f"AuditEvent/{event_id}", CITIZEN)).status_code == 200


async def test_a_revinclude_of_audit_events_sees_the_journal(quiet: Server) -> None:
    await _read_lab1(quiet, 3)
    assert await _journaled(quiet)
    resp = await quiet.get("Patient?_id=p1&_revinclude=AuditEvent:patient", SYSTEM)
    assert resp.status_code == 200, resp.text
    included = [
        e["resource"]
        for e in resp.json()["entry"]
        if e["resource"]["resourceType"] == "AuditEvent" and e["resource"]["action"] == "R"
    ]
    assert len([e for e in included if "Observation/lab1" in str(e["entity"])]) == 3


async def test_a_writes_events_are_stored_with_the_write(quiet: Server) -> None:
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": "Patient/p1"},
    }
    assert (await quiet.send("POST", "Observation", SYSTEM, obs)).status_code == 201
    assert not await _journaled(quiet)
    page = await quiet.app.store.search(SearchQuery("AuditEvent", count=1000))
    assert any(b'"action":"C"' in (s.content or b"") for s in page.items)


async def test_a_transactions_search_of_audit_events_sees_the_journal(quiet: Server) -> None:
    await _read_lab1(quiet, 4)
    assert await _journaled(quiet)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "GET", "url": "AuditEvent?patient=p1&action=R"}}],
    }
    resp = await quiet.send("POST", "", SYSTEM, bundle)
    assert resp.status_code == 200, resp.text
    found = resp.json()["entry"][0]["resource"]
    assert len(found.get("entry", [])) == 4
