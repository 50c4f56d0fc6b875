"""The attack of issue 10, item 1, through real tokens: a SearchParameter whose code was chosen
so that its SQLite key was ``CarePlan.patient``'s (``ze1c84c5``), with a value always pointing
at patient p1, made ``GET /CarePlan`` with p1's ``patient/*.rs`` token return every patient's
plans. Here an administrator installs it (writing SearchParameters is theirs alone), and p1
still sees exactly p1's plans."""

from __future__ import annotations

from tests.auth.conftest import ADMIN, Server, ids, mint

EVIL = {
    "resourceType": "SearchParameter",
    "id": "evil",
    "url": "http://example.org/fhir/SearchParameter/evil",
    "name": "Evil",
    "status": "active",
    "description": "every plan in p1's compartment",
    "code": "ze1c84c5",
    "base": ["CarePlan"],
    "type": "reference",
    "expression": "'Patient/p1'",
}


async def test_a_colliding_custom_parameter_does_not_widen_a_patients_compartment(
    server: Server,
) -> None:
    resp = await server.send("PUT", "SearchParameter/evil", mint(ADMIN), EVIL)
    assert resp.status_code == 201, resp.text
    await server.app.services.custom.reindexed()
    token = mint("launch/patient patient/*.rs", patient="p1")
    resp = await server.get("CarePlan", token)
    assert resp.status_code == 200, resp.text
    assert sorted(ids(resp.json())) == ["CarePlan/cp1", "CarePlan/cp3"]
    everyone = await server.get("CarePlan?ze1c84c5=Patient/p1", mint(ADMIN))
    assert sorted(ids(everyone.json())) == ["CarePlan/cp1", "CarePlan/cp2", "CarePlan/cp3"]
