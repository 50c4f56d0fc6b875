"""Break-the-glass (værdispring, sundhedsloven §42a): a health professional's token with
purpose of use EMERGENCY and a reason opens one citizen — the patient in the token's context —
past a missing relationship and past the citizen's blocks, until it lapses; it opens no one
else. And what a clinician *with* a relationship is told when a block narrows its view: that
information is withheld and break-the-glass is possible (a warning), while a clinician without
one is told nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.auth.conftest import Server, mint
from tests.consent.support import found, get
from tests.consent.world import ANNA, CLINICIAN, PRINCIPALS

pytestmark = [pytest.mark.asyncio(loop_scope="package")]


def _btg(fhir_user: str, patient: str, seconds: float = 600, **more: Any) -> str:
    return mint(
        CLINICIAN,
        fhirUser=fhir_user,
        patient=patient,
        purpose_of_use="EMERGENCY",
        btg_reason="Bevidstløs ved indlæggelse; kan ikke spørges",
        btg_until=int(time.time() + seconds),
        **more,
    )


def _of(ids: frozenset[str], type_: str) -> list[str]:
    return sorted(i for i in ids if i.startswith(type_ + "/"))


async def test_btg_opens_the_citizen_in_context_without_a_relationship(world: Server) -> None:
    token = _btg("Practitioner/other-doc", "anna")  # no relationship with anna
    for type_ in ("CarePlan", "Observation", "MedicationStatement", "Encounter"):
        ids, total = await found(world, f"{type_}?_total=accurate", token)
        assert sorted(ids) == _of(ANNA, type_) and total == len(_of(ANNA, type_)), type_
    assert (await get(world, "Patient/anna", token)).status_code == 200
    # one citizen: everybody else stays hidden
    assert (await get(world, "Patient/bent", token)).status_code == 404
    assert (await found(world, "CarePlan?patient=Patient/bent", token))[0] == []


async def test_btg_overrides_the_citizens_block(world: Server) -> None:
    # anna blocked ward-doc2 by authorisation id: normally it sees nothing of hers
    blocked = PRINCIPALS["ward2"].token
    assert (await found(world, "CarePlan?patient=Patient/anna", blocked))[0] == []
    token = _btg("Practitioner/ward-doc2", "anna")
    ids, _ = await found(world, "CarePlan?patient=Patient/anna", token)
    assert sorted(ids) == _of(ANNA, "CarePlan")


async def test_a_lapsed_btg_opens_nothing(world: Server) -> None:
    token = _btg("Practitioner/other-doc", "anna", seconds=-5)
    assert (await get(world, "Patient/anna", token)).status_code == 404
    assert (await found(world, "Observation?patient=Patient/anna", token))[0] == []


async def test_btg_is_refused_for_non_health_and_citizens(world: Server) -> None:
    for fhir_user, patient in (
        ("PractitionerRole/ppr-role", "emil"),  # municipal social services (PPR)
        ("Patient/anna", "anna"),
        ("RelatedPerson/mor-emil", "emil"),
    ):
        resp = await get(world, "Patient/emil", _btg(fhir_user, patient))
        assert resp.status_code == 401, (fhir_user, resp.text)
        assert resp.json()["resourceType"] == "OperationOutcome"


async def test_a_related_clinician_is_told_that_information_is_withheld(world: Server) -> None:
    # the GP is clara's, and clara blocked her 2019 data: the GP sees the rest and a warning
    resp = await get(world, "Observation?patient=Patient/clara", PRINCIPALS["gp"].token)
    outcomes = [
        e["resource"]
        for e in resp.json().get("entry", [])
        if e["resource"]["resourceType"] == "OperationOutcome"
    ]
    assert len(outcomes) == 1
    [issue] = outcomes[0]["issue"]
    assert issue["severity"] == "warning" and issue["code"] == "suppressed"
    assert "break-the-glass" in issue["diagnostics"]
    assert "clara" not in issue["diagnostics"] and "expression" not in issue  # not whose, nor what
    # a clinician without a relationship is told nothing at all
    resp = await get(world, "Observation?patient=Patient/clara", PRINCIPALS["other"].token)
    assert resp.json().get("entry", []) == []
