"""Item 7, consent decisions as IHE BALP AuthZ-Consent AuditEvents (medcom-consent-audit.md
B.5): one per patient and request, with the Consents that decided as entities — when a
break-the-glass overrides a block or a missing relationship, when a citizen's consent withholds
what a related clinician asked for (a read refused, a search narrowed), and when a non-health
party is admitted by a disclosure-permit; the break-the-glass ones in the citizen's Min log.
A plain permitted access records none. Real HTTP, real tokens, both stores."""

from __future__ import annotations

import time
from typing import Any

import pytest

from auth.audit import events as ev
from fhir_server.config import Settings
from fhir_server.services import create_services
from tests.auth.conftest import Server, mint
from tests.consent.conftest import audit_events, new_events, patients
from tests.consent.support import entries, get
from tests.consent.world import CLINICIAN, PRINCIPALS

pytestmark = [pytest.mark.asyncio(loop_scope="package")]

REASON = "Bevidstløs ved indlæggelse; kan ikke spørges"
AUTHZ = ev.BALP + "AuthZconsent"


def _btg(fhir_user: str, patient: str) -> str:
    return mint(
        CLINICIAN,
        fhirUser=fhir_user,
        patient=patient,
        purpose_of_use="EMERGENCY",
        btg_reason=REASON,
        btg_until=int(time.time() + 600),
    )


def _authz(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if AUTHZ in e.get("meta", {}).get("profile", [])]


def _consents(event: dict[str, Any]) -> list[str]:
    return sorted(e["what"]["reference"] for e in event["entity"] if e["type"] == ev.CONSENT_TYPE)


def _subtypes(event: dict[str, Any]) -> list[str]:
    return [c["code"] for c in event["subtype"]]


async def _events_of(world: Server, url: str, token: str, status: int) -> list[dict[str, Any]]:
    before = await audit_events(world)
    resp = await get(world, url, token)
    assert resp.status_code == status, resp.text[:300]
    return await new_events(world, before)


async def test_btg_past_a_missing_relationship(world: Server) -> None:
    token = _btg("Practitioner/other-doc", "anna")  # no relationship with anna, not blocked
    events = await _events_of(world, "Patient/anna", token, 200)
    [authz] = _authz(events)
    assert patients(authz) == ["Patient/anna"]
    assert _subtypes(authz) == ["AuthZ-Consent", "110127"]
    assert authz["type"]["code"] == "110113" and authz["action"] == "E"
    assert authz["outcome"] == "0"
    assert authz["outcomeDesc"] == "Break-the-glass overrides no care relationship"
    assert authz["purposeOfEvent"] == [{"coding": [ev.BTG], "text": REASON}]
    assert _consents(authz) == []
    agents = {a["type"]["coding"][0]["code"] for a in authz["agent"]}
    assert agents == {"IRCP", "110150", "authserver"}
    # shown in the citizen's Min log
    log = await get(world, "AuditEvent?patient=anna&_count=500", PRINCIPALS["anna"].token)
    assert f"AuditEvent/{authz['id']}" in entries(log.json())


async def test_btg_past_the_citizens_block_names_the_block(world: Server) -> None:
    token = _btg("Practitioner/ward-doc2", "anna")  # anna blocked ward-doc2
    events = await _events_of(world, "CarePlan?patient=Patient/anna", token, 200)
    [authz] = _authz(events)
    assert patients(authz) == ["Patient/anna"]
    assert authz["outcomeDesc"].startswith("Break-the-glass overrides")
    assert "block" in authz["outcomeDesc"]
    assert _consents(authz) == ["Consent/block-anna-doc2"]


async def test_a_related_clinicians_read_refused_by_consent(world: Server) -> None:
    # jens blocked home nursing's view of his medication; the nurse cares for him
    nurse = PRINCIPALS["nurse"].token
    events = await _events_of(world, "MedicationStatement/ms-jens", nurse, 404)
    [authz] = _authz(events)
    assert patients(authz) == ["Patient/jens"]
    assert authz["outcome"] == "4"
    assert _subtypes(authz) == ["AuthZ-Consent"]
    assert _consents(authz) == ["Consent/block-jens-home-meds"]


async def test_a_related_clinicians_search_narrowed_by_consent(world: Server) -> None:
    # dorte withholds private-marked and psychiatric data from all but her GP
    nurse = PRINCIPALS["nurse"].token
    events = await _events_of(world, "Observation?patient=Patient/dorte", nurse, 200)
    [authz] = _authz(events)
    assert patients(authz) == ["Patient/dorte"]
    assert authz["outcome"] == "0"
    assert "part of" in authz["outcomeDesc"]
    assert _consents(authz) == ["Consent/block-dorte-psy", "Consent/block-dorte-r"]


async def test_a_non_health_party_admitted_by_a_disclosure_permit(world: Server) -> None:
    ppr = PRINCIPALS["ppr"].token
    events = await _events_of(world, "CarePlan/cp-emil", ppr, 200)
    [authz] = _authz(events)
    assert patients(authz) == ["Patient/emil"]
    assert authz["outcome"] == "0"
    assert authz["outcomeDesc"] == "Admitted by the citizen's disclosure-permit"
    assert _consents(authz) == ["Consent/permit-emil-ppr"]


async def test_a_plain_permitted_access_records_no_consent_decision(world: Server) -> None:
    for who, url in (("nurse", "CarePlan/cp-anna"), ("gp", "Observation?patient=Patient/anna")):
        events = await _events_of(world, url, PRINCIPALS[who].token, 200)
        assert events and _authz(events) == [], who
    # nor does a refusal nobody's consent decided (no relationship)
    events = await _events_of(world, "CarePlan/cp-anna", PRINCIPALS["other"].token, 404)
    assert _authz(events) == []


async def test_consent_decisions_are_valid_r4_audit_events(world: Server) -> None:
    """Each kind of decision made here (not relying on other tests' events), then every
    AuthZ-Consent event checked against R4."""
    await _events_of(world, "Observation?patient=Patient/dorte", PRINCIPALS["nurse"].token, 200)
    await _events_of(world, "CarePlan/cp-emil", PRINCIPALS["ppr"].token, 200)
    check_resource = create_services(Settings()).checks.check_resource
    events = _authz(await audit_events(world))
    assert events
    for event in events:
        check_resource("AuditEvent", {k: v for k, v in event.items() if k != "meta"})
