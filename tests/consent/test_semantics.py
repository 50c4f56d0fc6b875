"""§42a and §§17, 41-43 of sundhedsloven as tables (DOMAIN.md §6): which care relationships the
data shows and when they end, blocks and their combinations, a permit overriding a block, nested
exceptions, non-health permits, age 15 both ways and custody — each row one principal reading
one resource through real HTTP with a real token, on every store.

Who manages a citizen's consents (the citizen from 15, a parent with custody before) is a table
too; its writes are blocks of other-doc, who has no relationship with anyone, so they change
nothing the other tables and the leak suite see.

A row that may not see answers as an id that never existed would (404 ``not-found``), and a
search by its id finds nothing; a row that may see reads it and finds it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.auth.conftest import Server, bearer, mint
from tests.consent.support import found, get
from tests.consent.world import ADMIN, KINDS, NEVER, PRINCIPALS, consent, period, ref

pytestmark = [pytest.mark.asyncio(loop_scope="package")]


@dataclass(frozen=True)
class Row:
    who: str
    key: str
    sees: bool
    why: str

    def __str__(self) -> str:
        return f"{self.who} {'sees' if self.sees else 'not'} {self.key}: {self.why}"


RELATIONSHIPS = [Row("sem-doc", f"Patient/{k.patient}", k.doc, k.why) for k in KINDS] + [
    Row("sem-boss", f"Patient/{k.patient}", k.boss, f"the parent hospital's doctor; {k.why}")
    for k in KINDS
    if k.doc
]

BLOCKS = [
    Row("ward2", "Observation/obs-anna", False, "a block of a named clinician (authorisation id)"),
    Row("ward", "Observation/obs-anna", True, "the blocked doctor's colleague on the same ward"),
    Row("ward", "Patient/bent", False, "a block of a hospital (SOR) covers its sub-unit ward"),
    Row("ward", "Observation/obs-bent", False, "... and all the citizen's data"),
    Row("ward2", "Patient/bent", True, "a treatment-permit for a named doctor overrides it"),
    Row("ward2", "Observation/obs-bent", True, "... for all the citizen's data"),
    Row("gp", "Observation/obs-clara-19", False, "a data-period block (2019)"),
    Row("gp", "Observation/obs-clara-24", True, "data outside the blocked period"),
    Row("gp", "Patient/clara", True, "the Patient has no clinical date"),
    Row("clara", "Observation/obs-clara-19", True, "the citizen's own block never hides her own"),
    Row("gp", "Observation/obs-dorte-r", False, "a block of v3-Confidentiality R data"),
    Row("nurse", "Observation/obs-dorte-psy", False, "a block of psychiatry (ActCode PSY)"),
    Row("gp", "Observation/obs-dorte-psy", True, "a nested permit: the GP is the exception"),
    Row("nurse", "Observation/obs-dorte", True, "unlabelled data stays visible"),
    Row("nurse", "MedicationStatement/ms-jens", False, "actor AND class: home nursing's meds"),
    Row("nurse", "Observation/obs-jens", True, "... other classes are not blocked"),
    Row("gp", "MedicationStatement/ms-jens", True, "an ended, a future, an inactive block"),
    Row("other", "Patient/jens", False, "no relationship, no block: still nothing"),
]

NON_HEALTH = [
    Row("ppr", "Patient/emil", True, "a parent's disclosure-permit naming Patient, in period"),
    Row("ppr", "CarePlan/cp-emil", True, "... and CarePlan"),
    Row("ppr", "Observation/obs-emil", False, "a class the permit does not name"),
    Row("ppr", "CareTeam/ct-emil", False, "care-team membership grants non-health nothing"),
    Row("ppr", "CarePlan/cp-frida", False, "a permit whose period has ended"),
    Row("ppr", "Patient/anna", False, "no permit"),
    Row("psych", "Observation/obs-emil", True, "region psychiatry, the plan's author"),
]

AGE_AND_CUSTODY = [
    Row("mor-emil", "Observation/obs-emil", True, "a parent with custody of a child of 10"),
    Row("far-emil", "Patient/emil", False, "a parent without custody (no PARAUTH)"),
    Row("mor-ida", "CarePlan/cp-ida", True, "the child turns 15 tomorrow: the parent acts"),
    Row("mor-ida", "Patient/ida", True, "... for all of it"),
    Row("far-hanne", "CarePlan/cp-hanne", False, "turned 15 today: the parent's access ends"),
    Row("far-hanne", "Patient/hanne", False, "... for all of it"),
    Row("mor-gustav", "Patient/gustav", False, "16 and blocked his mother"),
    Row("far-gustav", "CarePlan/cp-gustav", True, "16 and permitted his father his plan"),
    Row("far-gustav", "Observation/obs-gustav", False, "... and nothing else"),
    Row("gustav", "Observation/obs-gustav", True, "the young person's own data"),
]

TABLE = RELATIONSHIPS + BLOCKS + NON_HEALTH + AGE_AND_CUSTODY


@pytest.mark.parametrize("row", TABLE, ids=str)
async def test_semantics(world: Server, row: Row) -> None:
    token = PRINCIPALS[row.who].token
    type_, id_ = row.key.split("/", 1)
    read = await get(world, row.key, token)
    ids, total = await found(world, f"{type_}?_id={id_}&_total=accurate", token)
    if row.sees:
        assert read.status_code == 200, read.text[:300]
        assert (ids, total) == ([row.key], 1)
        return
    never = await get(world, f"{type_}/{NEVER}", token)
    assert read.status_code == never.status_code == 404, read.text[:300]
    assert read.json()["issue"][0]["code"] == never.json()["issue"][0]["code"]
    assert (ids, total) == ([], 0)


def _block(pid: str, by: str) -> dict[str, Any]:
    out = consent(
        "x",
        pid,
        "block",
        {
            "type": "deny",
            "period": period("2024-01-01"),
            "actor": [{"role": {"text": "x"}, "reference": ref("Practitioner/other-doc")}],
        },
        by=by,
    )
    del out["id"]
    return out


MANAGERS = [
    pytest.param("Patient/gustav", "gustav", True, id="gustav (16) himself"),
    pytest.param("Patient/hanne", "hanne", True, id="hanne (15 today) herself"),
    pytest.param("Patient/ida", "ida", False, id="ida (15 tomorrow) herself"),
    pytest.param("Patient/emil", "emil", False, id="emil (10) himself"),
    pytest.param("RelatedPerson/mor-emil", "emil", True, id="emil's mother (custody)"),
    pytest.param("RelatedPerson/far-emil", "emil", False, id="emil's father (no custody)"),
    pytest.param("RelatedPerson/mor-gustav", "gustav", False, id="gustav's mother (he is 16)"),
    pytest.param("RelatedPerson/mor-ida", "ida", True, id="ida's mother (ida is 14)"),
    pytest.param("RelatedPerson/far-hanne", "hanne", False, id="hanne's father (hanne is 15)"),
]
CONSENT_WRITER = "openid fhirUser patient/*.rs patient/Consent.cruds"


@pytest.mark.parametrize("fhir_user,pid,allowed", MANAGERS)
async def test_who_manages_a_citizens_consents(
    world: Server, fhir_user: str, pid: str, allowed: bool
) -> None:
    """The citizen manages their own consents from 15; a parent with custody before that."""
    token = mint(CONSENT_WRITER, fhirUser=fhir_user, patient=pid)
    count = f"Consent?patient={pid}&_summary=count"
    before = (await get(world, count, ADMIN)).json()["total"]
    resp = await world.client.post("Consent", json=_block(pid, fhir_user), headers=bearer(token))
    after = (await get(world, count, ADMIN)).json()["total"]
    if allowed:
        assert resp.status_code == 201, resp.text[:300]
        assert after == before + 1
    else:
        assert resp.status_code in (403, 404, 422), resp.text[:300]
        assert resp.json()["resourceType"] == "OperationOutcome"
        assert after == before
