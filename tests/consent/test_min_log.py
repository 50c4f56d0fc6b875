"""Item 8, "Min log": ``AuditEvent?patient=<me>`` with a citizen's (or parent's) token lists
who accessed their data — person, organization, sector, what, when, why — hides what FUT labels
``NotCitizen`` / ``NotGuardian``, and shows a citizen only their own log. Both stores."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from auth.audit import events as ev
from fhir_server.store.base import in_transaction
from tests.auth.conftest import ADMIN, Server, mint
from tests.consent.conftest import audit_events, patients, user_agent

DOCTOR = mint("user/*.rs", fhirUser="Practitioner/doc")
CITIZEN = mint("patient/*.rs", fhirUser="Patient/p1")
OTHER_CITIZEN = mint("patient/*.rs", fhirUser="Patient/p2")
MOTHER = mint("patient/*.rs", fhirUser="RelatedPerson/mother")


async def _log(server: Server, token: str, patient: str = "p1") -> list[dict[str, Any]]:
    resp = await server.get(f"AuditEvent?patient={patient}&_total=accurate", token)
    assert resp.status_code == 200, resp.text
    bundle = resp.json()
    entries = [e["resource"] for e in bundle.get("entry", [])]
    assert bundle["total"] == len(entries)
    return entries


async def _labelled(server: Server, patient: str, label: str) -> str:
    """An internal AuditEvent about ``patient`` as the server writes one (clients cannot)."""
    actor = ev.Actor(subject="ops", client_id="ops-tool")
    access = ev.Access(ev.READ, "read", "Patient", patient, labels=(label,))
    event = ev.audit_event(actor, access, "http://testserver/fhir", "2024-01-01T00:00:00Z")
    id_ = str(uuid.uuid4())

    async def write(uow: Any) -> None:
        await uow.write("AuditEvent", id_, event, method="POST", minted=True)

    await in_transaction(server.app.store, write)
    return id_


async def test_the_citizen_sees_who_read_what_when_and_for_which_organization(
    server: Server,
) -> None:
    assert (await server.get("Observation/lab1", DOCTOR)).status_code == 200
    reads = [e for e in await _log(server, CITIZEN) if e["action"] == "R"]
    assert len(reads) == 1
    entry = reads[0]
    assert patients(entry) == ["Patient/p1"]
    user = user_agent(entry)
    assert user["who"]["reference"] == "Practitioner/doc"
    assert user["role"][0]["coding"][0] == {"system": ev.SECTOR, "code": "region"}
    assert user["extension"][0]["valueReference"]["reference"] == "Organization/ward"
    assert [e["what"]["reference"] for e in entry["entity"]] == [
        "Patient/p1",
        "Observation/lab1",
    ]
    assert entry["recorded"] and entry["outcome"] == "0"


async def test_reading_the_log_adds_nothing_the_citizen_sees(server: Server) -> None:
    first = await _log(server, CITIZEN)
    again = await _log(server, CITIZEN)
    assert [e["id"] for e in again] == [e["id"] for e in first]
    internal = [e for e in await audit_events(server) if e.get("outcomeDesc") == "AuditEvent"]
    assert internal and all(
        {c["code"] for c in e["meta"]["security"]} == {ev.NOT_CITIZEN, ev.NOT_GUARDIAN}
        for e in internal
    )


async def test_the_citizens_own_look_ups_are_kept_in_their_log(server: Server) -> None:
    assert (await server.get("Observation/lab1", CITIZEN)).status_code == 200
    own = [e for e in await _log(server, CITIZEN) if e["action"] == "R"]
    assert [user_agent(e)["altId"] for e in own] == ["Patient/p1"]


async def test_a_citizens_refused_probe_of_other_data_is_not_in_their_log(
    server: Server,
) -> None:
    """A citizen who asks for another patient's resource gets 404 (as for an unknown id);
    the refusal is recorded about that patient, and nothing of it shows in the citizen's own
    log — else the log would tell which ids exist."""
    before = await _log(server, CITIZEN)
    assert (await server.get("Observation/lab2", CITIZEN)).status_code == 404
    assert (await server.get("Observation/nothing", CITIZEN)).status_code == 404
    assert await _log(server, CITIZEN) == before
    refused = [e for e in await _log(server, mint(ADMIN), "p2") if e["outcome"] == "4"]
    assert [user_agent(e)["altId"] for e in refused] == ["Patient/p1"]


async def test_labels_hide_entries_from_the_citizen_and_from_a_parent(server: Server) -> None:
    not_citizen = await _labelled(server, "p1", ev.NOT_CITIZEN)
    not_guardian = await _labelled(server, "p1", ev.NOT_GUARDIAN)
    citizen = {e["id"] for e in await _log(server, CITIZEN)}
    mother = {e["id"] for e in await _log(server, MOTHER)}
    admin = {e["id"] for e in await _log(server, mint(ADMIN))}
    assert not_citizen not in citizen and not_guardian in citizen
    assert not_guardian not in mother and not_citizen in mother
    assert {not_citizen, not_guardian} <= admin
    assert (await server.get(f"AuditEvent/{not_citizen}", CITIZEN)).status_code == 404
    assert (await server.get(f"AuditEvent/{not_guardian}", MOTHER)).status_code == 404
    assert (await server.get(f"AuditEvent/{not_guardian}", CITIZEN)).status_code == 200


async def test_a_citizen_sees_only_their_own_log(server: Server) -> None:
    assert (await server.get("Observation/lab2", DOCTOR)).status_code == 200
    about_p2 = [e for e in await _log(server, mint(ADMIN), "p2") if e["action"] == "R"]
    assert about_p2
    assert await _log(server, CITIZEN, "p2") == []
    resp = await server.get(f"AuditEvent/{about_p2[0]['id']}", CITIZEN)
    assert resp.status_code == 404
    assert await _log(server, OTHER_CITIZEN, "p1") == []


@pytest.mark.parametrize("reason", ["unconscious, acute admission"])
def test_an_emergency_override_is_marked(reason: str) -> None:
    """Break-the-glass (h/actor sets the principal's reason): DICOM 110127 among the subtypes,
    ``v3-ActReason#BTG`` with the stated reason as the purpose — what the Min log shows."""
    actor = ev.Actor(subject="doc", person="Practitioner/doc", btg_reason=reason)
    access = ev.Access(ev.READ, "read", "Observation", "p1", data=("Observation/lab1",))
    event = ev.audit_event(actor, access, "http://testserver/fhir", "2024-01-01T00:00:00Z")
    assert ev.EMERGENCY_OVERRIDE in event["subtype"]
    assert event["purposeOfEvent"] == [{"coding": [ev.BTG], "text": reason}]
    assert user_agent(event)["purposeOfUse"] == [{"coding": [ev.BTG], "text": reason}]
