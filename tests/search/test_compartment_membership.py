"""One statement of the Patient compartment: for every patient and type of the data set, a
compartment search (``Patient/p1/CarePlan``) finds exactly the resources
`compartment.in_compartment` admits as that patient's — the question access decisions ask of
one resource — on every store."""

from __future__ import annotations

import pytest

from fhir_server import compartment
from tests.search.conftest import Seeded
from tests.search.fixtures import ALL

PATIENTS = sorted(r["id"] for r in ALL if r["resourceType"] == "Patient")
TYPES = sorted({r["resourceType"] for r in ALL if compartment.has_compartment(r["resourceType"])})


@pytest.mark.parametrize("type_", TYPES)
async def test_compartment_search_finds_exactly_the_members(seeded: Seeded, type_: str) -> None:
    for patient in PATIENTS:
        resp = await seeded.client.get(f"Patient/{patient}/{type_}", params={"_count": "1000"})
        assert resp.status_code == 200, resp.text
        found = [e["resource"]["id"] for e in resp.json().get("entry", [])]
        members = sorted(
            r["id"]
            for r in ALL
            if r["resourceType"] == type_ and compartment.in_compartment(type_, r, patient)
        )
        assert found == members, (patient, type_)


def test_membership_reads_references_as_the_index_does() -> None:
    plan = {"resourceType": "CarePlan", "subject": {"reference": "https://x.dk/fhir/Patient/p1"}}
    assert compartment.in_compartment("CarePlan", plan, "p1")
    assert not compartment.in_compartment("CarePlan", plan, "p2")
    assert compartment.in_compartment("Patient", {"id": "p2"}, "p2")
    assert not compartment.has_compartment("Organization")
    assert compartment.params("Practitioner", "CarePlan") == ()


@pytest.mark.parametrize("type_", TYPES)
async def test_owner_search_finds_exactly_the_owned(seeded: Seeded, type_: str) -> None:
    """``<owner_param>=Patient/p`` (``_id=p`` for Patient) finds exactly the resources
    `compartment.owners` says are about ``p``: what consent narrows a search by is what it
    judges one resource by."""
    param = compartment.owner_param(type_)
    assert param is not None
    for patient in PATIENTS:
        value = patient if param == "_id" else f"Patient/{patient}"
        resp = await seeded.client.get(type_, params={param: value, "_count": "1000"})
        assert resp.status_code == 200, resp.text
        found = sorted(e["resource"]["id"] for e in resp.json().get("entry", []))
        owned = sorted(
            r["id"]
            for r in ALL
            if r["resourceType"] == type_ and patient in compartment.owners(type_, r)
        )
        assert found == owned, (patient, type_)
        assert set(owned) <= {
            r["id"]
            for r in ALL
            if r["resourceType"] == type_ and compartment.in_compartment(type_, r, patient)
        }
