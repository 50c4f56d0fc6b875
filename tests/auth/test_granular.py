"""Query-filtered scopes and the ONC (g)(10) "limited scopes" and "granular scopes" checks as the
Inferno test kit runs them: a token limited to some types, and a token whose Observation access
is narrowed to a category (SMART v2 ``patient/Observation.rs?category=…``)."""

from __future__ import annotations

from tests.auth.conftest import Server, ids, issue, mint

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
LAB = f"category={CATEGORY}|laboratory"
VITAL = f"category={CATEGORY}|vital-signs"


def observation(patient: str, code: str) -> dict[str, object]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": code}]}],
        "code": {"text": "pulse"},
        "subject": {"reference": f"Patient/{patient}"},
    }


async def test_limited_scopes_refuse_the_types_not_granted(server: Server) -> None:
    """(g)(10) limited scopes: the patient approved only Patient and Observation."""
    token = mint("launch/patient openid fhirUser patient/Patient.read patient/Observation.read",
                 patient="p1", fhirUser="Patient/p1")  # fmt: skip
    assert (await server.get("Patient/p1", token)).status_code == 200
    assert (await server.get("Observation?patient=p1", token)).status_code == 200
    for url in ("CarePlan?patient=p1", "CarePlan/cp1", "Medication/med", "Practitioner/doc"):
        resp = await server.get(url, token)
        assert resp.status_code == 403, url
        assert issue(resp)["code"] == "forbidden"


async def test_granular_scope_filters_search_results(server: Server) -> None:
    """(g)(10) granular scopes: a search returns only the categories granted, also when the
    search asks for others, and _total counts only those."""
    token = mint(f"patient/Patient.rs patient/Observation.rs?{LAB}", patient="p1")
    resp = await server.get("Observation?patient=p1&_total=accurate", token)
    assert ids(resp.json()) == ["Observation/lab1"] and resp.json()["total"] == 1
    asked = await server.get(f"Observation?patient=p1&{VITAL}", token)
    assert ids(asked.json()) == []
    assert (await server.get("Observation/lab1", token)).status_code == 200
    assert (await server.get("Observation/vital1", token)).status_code == 404
    assert (await server.get("Observation/lab2", token)).status_code == 404  # p2's


async def test_two_granular_scopes_combine(server: Server) -> None:
    token = mint(f"patient/Observation.rs?{LAB} patient/Observation.rs?{VITAL}", patient="p1")
    resp = await server.get("Observation?_total=accurate", token)
    assert sorted(ids(resp.json())) == ["Observation/lab1", "Observation/vital1"]
    assert resp.json()["total"] == 2


async def test_user_granular_scope_pushes_its_query(server: Server) -> None:
    token = mint(f"user/Observation.rs?{LAB}", fhirUser="Practitioner/doc")
    resp = await server.get("Observation?_total=accurate", token)
    assert sorted(ids(resp.json())) == ["Observation/lab1", "Observation/lab2"]
    assert resp.json()["total"] == 2


async def test_v1_and_v2_tokens_see_the_same(server: Server) -> None:
    v1 = mint("patient/Observation.read patient/CarePlan.read", patient="p1")
    v2 = mint("patient/Observation.rs patient/CarePlan.rs", patient="p1")
    for url in ("Observation", "CarePlan", "CarePlan/_history"):
        one = await server.get(url, v1)
        two = await server.get(url, v2)
        assert one.status_code == two.status_code == 200
        assert sorted(ids(one.json())) == sorted(ids(two.json()))


async def test_granular_write_is_checked_as_written(server: Server) -> None:
    token = mint(f"patient/Observation.cu?{VITAL}", patient="p1")
    ok = await server.send("POST", "Observation", token, observation("p1", "vital-signs"))
    assert ok.status_code == 201
    refused = await server.send("POST", "Observation", token, observation("p1", "laboratory"))
    assert refused.status_code == 403 and issue(refused)["code"] == "forbidden"
    admin = mint("system/Observation.rs")
    resp = await server.get("Observation?category=laboratory&_total=accurate", admin)
    assert resp.json()["total"] == 2  # lab1 and lab2 only: the refused write was rolled back


async def test_granular_include(server: Server) -> None:
    """An included resource must match the scope's query too."""
    token = mint(f"patient/Patient.rs patient/Observation.rs?{LAB}", patient="p1")
    resp = await server.get("Patient?_id=p1&_revinclude=Observation:subject", token)
    assert ids(resp.json()) == ["Patient/p1", "Observation/lab1"]
