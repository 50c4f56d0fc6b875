"""A ``patient/`` token sees and changes only its patient's compartment: another patient's
CarePlan is not readable, searchable, includable, in history, in a transaction's GET entries, or
matchable by a conditional update — and nothing in the answers reveals that it exists."""

from __future__ import annotations

import pytest

from tests.auth.conftest import Server, delete_cp2, ids, issue, mint

SCOPES = (
    "launch/patient patient/Patient.rs patient/CarePlan.cruds patient/Practitioner.rs"
    " patient/Observation.rs patient/Medication.rs"
)
ADMIN = mint("system/*.cruds")


@pytest.fixture
def p1() -> str:
    return mint(SCOPES, patient="p1")


def plan(patient: str, id_: str | None = None) -> dict[str, object]:
    out: dict[str, object] = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient}"},
    }
    return {**out, "id": id_} if id_ else out


async def test_read_own_and_not_another(server: Server, p1: str) -> None:
    assert (await server.get("CarePlan/cp1", p1)).status_code == 200
    assert (await server.get("Patient/p1", p1)).status_code == 200
    for url in ("CarePlan/cp2", "Patient/p2", "CarePlan/cp2/_history/1", "CarePlan/cp2/_history"):
        resp = await server.get(url, p1)
        assert resp.status_code == 404, url  # as if it did not exist
        assert issue(resp)["code"] == "not-found"


async def test_a_deletion_of_anothers_resource_is_not_revealed(server: Server, p1: str) -> None:
    await delete_cp2(server)
    assert (await server.get("CarePlan/cp2", p1)).status_code == 404  # not 410
    assert (await server.get("CarePlan/cp2", ADMIN)).status_code == 410


async def test_resources_outside_any_compartment(server: Server, p1: str) -> None:
    """patient/Medication.rs and patient/Practitioner.rs grant those shared resources."""
    assert (await server.get("Medication/med", p1)).status_code == 200
    assert (await server.get("Practitioner/doc", p1)).status_code == 200


async def test_search_and_total(server: Server, p1: str) -> None:
    resp = await server.get("CarePlan?_total=accurate", p1)
    assert resp.status_code == 200
    assert sorted(ids(resp.json())) == ["CarePlan/cp1", "CarePlan/cp3"]
    assert resp.json()["total"] == 2
    count = await server.get("CarePlan?_summary=count", p1)
    assert count.json()["total"] == 2
    assert ids((await server.get("CarePlan?_id=cp2", p1)).json()) == []
    assert ids((await server.get("Patient", p1)).json()) == ["Patient/p1"]
    assert ids((await server.get("Patient/p2/CarePlan", p1)).json()) == []
    own = await server.get("Patient/p1/CarePlan", p1)
    assert sorted(ids(own.json())) == ["CarePlan/cp1", "CarePlan/cp3"]


async def test_paging_stays_exact(server: Server, p1: str) -> None:
    first = (await server.get("CarePlan?_count=1&_total=accurate", p1)).json()
    assert first["total"] == 2 and len(ids(first)) == 1
    after = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = (await server.get(after.removeprefix("http://testserver/fhir/"), p1)).json()
    assert ids(second) != ids(first) and len(ids(second)) == 1
    assert not any(link["relation"] == "next" for link in second["link"])


async def test_include_leaves_out_what_the_token_may_not_see(server: Server, p1: str) -> None:
    resp = await server.get("CarePlan?_id=cp3&_include=CarePlan:replaces", p1)
    assert ids(resp.json()) == ["CarePlan/cp3"]  # cp2 is another patient's
    admin = await server.get("CarePlan?_id=cp3&_include=CarePlan:replaces", ADMIN)
    assert ids(admin.json()) == ["CarePlan/cp3", "CarePlan/cp2"]


async def test_revinclude_leaves_out_what_the_token_may_not_see(server: Server, p1: str) -> None:
    url = "Practitioner?_id=doc&_revinclude=Patient:general-practitioner"
    assert ids((await server.get(url, p1)).json()) == ["Practitioner/doc", "Patient/p1"]
    assert sorted(ids((await server.get(url, ADMIN)).json())) == [
        "Patient/p1",
        "Patient/p2",
        "Practitioner/doc",
    ]


async def test_chains_and_has_reach_only_visible_resources(server: Server, p1: str) -> None:
    """Inner searches see what the token sees: p2's data cannot be probed through them."""
    resp = await server.get("Practitioner?_has:Patient:general-practitioner:_id=p2", p1)
    assert ids(resp.json()) == []
    resp = await server.get("Practitioner?_has:Patient:general-practitioner:_id=p1", p1)
    assert ids(resp.json()) == ["Practitioner/doc"]


async def test_history_leaves_out_other_patients(server: Server, p1: str) -> None:
    resp = await server.get("CarePlan/_history", p1)
    assert sorted(e["fullUrl"].rsplit("/", 1)[1] for e in resp.json()["entry"]) == ["cp1", "cp3"]
    system = await server.get("_history", p1)
    urls = {e["fullUrl"].removeprefix("http://testserver/fhir/") for e in system.json()["entry"]}
    assert "CarePlan/cp2" not in urls and "Patient/p2" not in urls
    assert {"CarePlan/cp1", "Patient/p1", "Medication/med"} <= urls


async def test_transaction_get_entries(server: Server, p1: str) -> None:
    def bundle(kind: str, url: str) -> dict[str, object]:
        return {
            "resourceType": "Bundle",
            "type": kind,
            "entry": [{"request": {"method": "GET", "url": url}}],
        }

    resp = await server.send("POST", "", p1, bundle("transaction", "CarePlan/cp2"))
    assert resp.status_code == 404
    ok = await server.send("POST", "", p1, bundle("transaction", "CarePlan?_id=cp1,cp2"))
    inner = ok.json()["entry"][0]["resource"]
    assert ids(inner) == ["CarePlan/cp1"]
    batch = await server.send("POST", "", p1, bundle("batch", "CarePlan/cp2"))
    assert batch.json()["entry"][0]["response"]["status"] == "404 Not Found"


async def test_writes_must_stay_in_the_compartment(server: Server, p1: str) -> None:
    created = await server.send("POST", "CarePlan", p1, plan("p1"))
    assert created.status_code == 201
    refused = await server.send("POST", "CarePlan", p1, plan("p2"))
    assert refused.status_code == 403 and issue(refused)["code"] == "forbidden"
    moved = await server.send("PUT", "CarePlan/cp1", p1, plan("p2", "cp1"))
    assert moved.status_code == 403
    # another patient's resource is answered as an id never used (tests/auth/test_existence.py)
    taken = await server.send("PUT", "CarePlan/cp2", p1, plan("p1", "cp2"))
    assert taken.status_code == 405  # the token may not choose ids it does not see
    assert (await server.send("DELETE", "CarePlan/cp2", p1)).status_code == 204  # as absent
    patch = [{"op": "replace", "path": "/status", "value": "revoked"}]
    patched = await server.client.patch(
        "CarePlan/cp2",
        json=patch,
        headers={"Authorization": f"Bearer {p1}", "Content-Type": "application/json-patch+json"},
    )
    assert patched.status_code == 404
    unchanged = (await server.get("CarePlan/cp2", ADMIN)).json()
    assert unchanged["meta"]["versionId"] == "1"
    assert unchanged["subject"] == {"reference": "Patient/p2"}
    mine = await server.get("CarePlan?subject=Patient/p2&_total=accurate", ADMIN)
    assert mine.json()["total"] == 1  # the refused create left nothing behind


async def test_conditional_update_cannot_match_anothers_resource(server: Server, p1: str) -> None:
    resp = await server.send("PUT", "CarePlan?_id=cp2", p1, plan("p1"))
    # cp2 is invisible to the token, so nothing matched: a new plan in p1's compartment
    assert resp.status_code == 201 and resp.json()["id"] != "cp2"
    refused = await server.send("PUT", "CarePlan?_id=cp2", p1, plan("p2"))
    assert refused.status_code == 403
    unchanged = (await server.get("CarePlan/cp2", ADMIN)).json()
    assert unchanged["meta"]["versionId"] == "1"


async def test_conditional_delete_and_create_do_not_see_anothers(server: Server, p1: str) -> None:
    gone = await server.send("DELETE", "CarePlan?_id=cp2", p1)
    assert gone.status_code == 204
    assert (await server.get("CarePlan/cp2", ADMIN)).status_code == 200  # untouched
    made = await server.send("POST", "CarePlan", p1, plan("p1"), **{"If-None-Exist": "_id=cp2"})
    assert made.status_code == 201 and made.json()["id"] != "cp2"


async def test_the_citizen_is_their_own_patient(server: Server) -> None:
    """No ``patient`` claim: the citizen's own Patient (fhirUser) is the compartment, and
    their ``user/`` scopes reach only their own data too."""
    citizen = mint("patient/CarePlan.rs user/Observation.rs", fhirUser="Patient/p1")
    assert ids((await server.get("CarePlan", citizen)).json()) == ["CarePlan/cp1", "CarePlan/cp3"]
    assert ids((await server.get("Observation", citizen)).json()) == [
        "Observation/lab1",
        "Observation/vital1",
    ]
    relative = mint("user/CarePlan.rs", fhirUser="RelatedPerson/mother")
    assert (await server.get("CarePlan/cp2", relative)).status_code == 404
    assert (await server.get("CarePlan/cp1", relative)).status_code == 200


async def test_patient_scopes_without_a_patient_grant_nothing(server: Server) -> None:
    token = mint("patient/CarePlan.rs", fhirUser="Practitioner/doc")
    resp = await server.get("CarePlan", token)
    assert resp.status_code == 403
