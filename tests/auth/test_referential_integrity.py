"""Referential integrity (issue 14 item 5) reveals nothing the writer may not read: a reference
to a resource hidden from the writer is answered exactly as one to an id no resource ever had,
and a refused delete names no referrer the caller may not read. docs/security.md, "Referential
integrity and existence". Real tokens, real HTTP, both stores."""

from __future__ import annotations

from typing import Any

from tests.auth.conftest import Server, issue, mint
from tests.auth.test_existence import NEVER, plan, same

P1 = mint(
    "launch/patient patient/Patient.rs patient/CarePlan.cruds patient/Observation.rs",
    patient="p1",
)
ADMIN = mint("system/*.cruds")


def based_on(target: str) -> dict[str, Any]:
    return {**plan("p1"), "basedOn": [{"reference": f"CarePlan/{target}"}]}


async def test_a_hidden_target_is_answered_as_an_absent_one(server: Server) -> None:
    """p1's app probing ids of p2's CarePlans: cp2 exists, never-was does not; both 400."""
    hidden = await server.send("POST", "CarePlan", P1, based_on("cp2"))
    never = await server.send("POST", "CarePlan", P1, based_on(NEVER))
    assert never.status_code == 400
    assert issue(never)["code"] == "processing"
    assert issue(never)["expression"] == ["CarePlan.basedOn[0]"]
    same(hidden, never)
    # with two references, the issues come in the body's order whichever is hidden
    two = {**plan("p1"), "basedOn": [{"reference": "CarePlan/cp2"}, {"reference": "CarePlan/x"}]}
    swapped = {**two, "basedOn": [{"reference": "CarePlan/y"}, {"reference": "CarePlan/x"}]}
    hidden = await server.send("POST", "CarePlan", P1, two)
    never = await server.send("POST", "CarePlan", P1, swapped)
    assert [i["expression"] for i in never.json()["issue"]] == [
        ["CarePlan.basedOn[0]"],
        ["CarePlan.basedOn[1]"],
    ]
    assert [i["expression"] for i in hidden.json()["issue"]] == [
        ["CarePlan.basedOn[0]"],
        ["CarePlan.basedOn[1]"],
    ]
    # in a transaction too
    bundles = [
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [{"resource": based_on(t), "request": {"method": "POST", "url": "CarePlan"}}],
        }
        for t in ("cp2", NEVER)
    ]
    hidden = await server.send("POST", "", P1, bundles[0])
    never = await server.send("POST", "", P1, bundles[1])
    assert never.status_code == 400
    same(hidden, never)
    # a target the writer may read is fine
    resp = await server.send("POST", "CarePlan", P1, based_on("cp1"))
    assert resp.status_code == 201, resp.text


async def test_a_refused_delete_names_only_readable_referrers(server: Server) -> None:
    # cp2 (p2's) is referenced by cp3 (p1's): the administrator is told which
    resp = await server.send("DELETE", "CarePlan/cp2", ADMIN)
    assert resp.status_code == 409, resp.text
    assert "CarePlan/cp3" in issue(resp)["diagnostics"]
    # p2's plan referencing p1's cp1 is hidden from p1: p1 is refused without its id
    other = {**plan("p2", "cp-p2"), "basedOn": [{"reference": "CarePlan/cp1"}]}
    assert (await server.send("PUT", "CarePlan/cp-p2", ADMIN, other)).status_code == 201
    resp = await server.send("DELETE", "CarePlan/cp1", P1)
    assert resp.status_code == 409, resp.text
    assert "cp-p2" not in resp.text
    assert "referenced by resources" in issue(resp)["diagnostics"]
    assert (await server.get("CarePlan/cp1", ADMIN)).status_code == 200
