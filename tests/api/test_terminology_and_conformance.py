"""The bundled conformance resources are readable and searchable, the CapabilityStatement lists
the profiles and operations, and ValueSet/$expand, ValueSet/$validate-code and
CodeSystem/$lookup answer from the bundled terminology."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import MakeClient
from tests.api.support import assert_outcome

ROLES = "http://faellesforloeb.dk/fhir/ValueSet/ff-careteam-role"
ROLE_CODES = "http://faellesforloeb.dk/fhir/CodeSystem/ff-careteam-role"
MUNICIPALITY = "http://hl7.dk/fhir/core/CodeSystem/dk-core-municipality-codes"
FF_CAREPLAN = "http://faellesforloeb.dk/fhir/StructureDefinition/ff-careplan"


@pytest.fixture
async def installed(make_client: MakeClient) -> httpx.AsyncClient:
    return await make_client(install_conformance=True)


async def test_conformance_resources_are_installed_once(installed: httpx.AsyncClient) -> None:
    found = (await installed.get("StructureDefinition", params={"url": FF_CAREPLAN})).json()
    assert [e["resource"]["id"] for e in found["entry"]] == ["ff-careplan"]
    vs = (await installed.get("ValueSet/ff-careteam-role")).json()
    assert vs["url"] == ROLES
    assert vs["meta"]["versionId"] == "1"
    total = (await installed.get("CodeSystem", params={"_summary": "count"})).json()["total"]
    assert total >= 10
    # the bundled SearchParameters take effect: CareTeam?role=…
    resp = await installed.get("CareTeam", params={"role": f"{ROLE_CODES}|coordinator"})
    assert resp.status_code == 200, resp.text


async def test_capability_statement_lists_profiles_and_operations(
    installed: httpx.AsyncClient,
) -> None:
    cs = (await installed.get("metadata")).json()
    by_type = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert any(p.startswith(FF_CAREPLAN) for p in by_type["CarePlan"]["supportedProfile"])
    assert {
        "name": "validate",
        "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
    } in by_type["CarePlan"]["operation"]
    assert {o["name"] for o in by_type["ValueSet"]["operation"]} == {
        "expand",
        "validate",
        "validate-code",
    }
    assert {o["name"] for o in by_type["CodeSystem"]["operation"]} == {"lookup", "validate"}
    assert "supportedProfile" not in by_type["Goal"]


async def test_expand(client: httpx.AsyncClient) -> None:
    resp = await client.get("ValueSet/$expand", params={"url": ROLES})
    assert resp.status_code == 200, resp.text
    expansion = resp.json()["expansion"]
    codes = {c["code"] for c in expansion["contains"]}
    assert {"coordinator", "patient-responsible-doctor", "relative"} <= codes
    assert expansion["total"] == len(codes)
    resp = await client.get("ValueSet/$expand", params={"url": ROLES, "filter": "coord"})
    assert [c["code"] for c in resp.json()["expansion"]["contains"]] == ["coordinator"]
    paged = (await client.get("ValueSet/$expand", params={"url": ROLES, "count": "2"})).json()
    assert len(paged["expansion"]["contains"]) == 2
    assert_outcome(
        await client.get("ValueSet/$expand", params={"url": "http://example.org/nope"}),
        404,
        "not-found",
    )
    assert_outcome(await client.get("ValueSet/$expand"), 400, "invalid", ["url"])
    assert_outcome(
        await client.get("ValueSet/$expand", params={"url": ROLES, "count": "x"}),
        400,
        "invalid",
        ["count"],
    )


async def test_expand_a_stored_value_set(installed: httpx.AsyncClient) -> None:
    resp = await installed.get("ValueSet/ff-careteam-role/$expand")
    assert resp.status_code == 200, resp.text
    assert resp.json()["url"] == ROLES


async def test_validate_code(client: httpx.AsyncClient) -> None:
    def result(resp: httpx.Response) -> dict[str, object]:
        assert resp.status_code == 200, resp.text
        return {
            p["name"]: next(v for k, v in p.items() if k.startswith("value"))
            for p in resp.json()["parameter"]
        }

    ok = await client.get(
        "ValueSet/$validate-code",
        params={"url": ROLES, "system": ROLE_CODES, "code": "coordinator"},
    )
    assert result(ok)["result"] is True
    bad = await client.get(
        "ValueSet/$validate-code", params={"url": ROLES, "system": ROLE_CODES, "code": "captain"}
    )
    out = result(bad)
    assert out["result"] is False and "captain" in str(out["message"])
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "url", "valueUri": ROLES},
            {"name": "coding", "valueCoding": {"system": ROLE_CODES, "code": "relative"}},
        ],
    }
    assert result(await client.post("ValueSet/$validate-code", json=body))["result"] is True


async def test_lookup(client: httpx.AsyncClient) -> None:
    resp = await client.get("CodeSystem/$lookup", params={"system": MUNICIPALITY, "code": "0101"})
    assert resp.status_code == 200, resp.text
    params = {p["name"]: p for p in resp.json()["parameter"]}
    assert params["display"]["valueString"] == "København"
    assert_outcome(
        await client.get("CodeSystem/$lookup", params={"system": MUNICIPALITY, "code": "9999"}),
        404,
        "not-found",
        ["code"],
    )
    assert_outcome(
        await client.get(
            "CodeSystem/$lookup", params={"system": "http://example.org/x", "code": "a"}
        ),
        404,
        "not-found",
    )


MEDCOM = "http://medcomfhir.dk/ig/terminology"


async def test_medcom_terminology(client: httpx.AsyncClient) -> None:
    """Issue 13: MedCom's code systems and value sets answer like the Danish ones."""
    resp = await client.get(
        "CodeSystem/$lookup",
        params={
            "system": f"{MEDCOM}/CodeSystem/medcom-careCommunication-categoryCodes",
            "code": "decease",
        },
    )
    assert resp.status_code == 200, resp.text
    designations = [p for p in resp.json()["parameter"] if p["name"] == "designation"]
    assert {"name": "value", "valueString": "Dødsfald"} in designations[0]["part"]
    hn = await client.get(
        "ValueSet/$expand",
        params={"url": f"{MEDCOM}/ValueSet/medcom-hospitalNotification-messageActivities"},
    )
    codes = {c["code"] for c in hn.json()["expansion"]["contains"]}
    assert len(codes) == 18 and {"admit-inpatient", "cancel-end-leave-inpatient"} <= codes
    cc = await client.get(
        "ValueSet/$validate-code",
        params={
            "url": f"{MEDCOM}/ValueSet/medcom-careCommunication-messagingActivities",
            "system": f"{MEDCOM}/CodeSystem/medcom-messaging-activityCodes",
            "code": "retract-message",
        },
    )
    assert [p["valueBoolean"] for p in cc.json()["parameter"] if p["name"] == "result"] == [False]


async def test_expand_in_danish_with_designations(client: httpx.AsyncClient) -> None:
    """Citizen apps ask for the Danish words: ``displayLanguage`` picks a concept's designation
    in that language for ``display`` (the CodeSystem's display where it has none), and
    ``includeDesignations`` lists them; a filter matches the Danish word too."""
    params = {"url": ROLES, "displayLanguage": "da", "filter": "tovholder"}
    resp = await client.get("ValueSet/$expand", params=params)
    assert resp.status_code == 200, resp.text
    expansion = resp.json()["expansion"]
    [coordinator] = expansion["contains"]
    assert (coordinator["code"], coordinator["display"]) == ("coordinator", "Tovholder")
    assert "designation" not in coordinator
    assert {"name": "displayLanguage", "valueCode": "da"} in expansion["parameter"]
    resp = await client.get(
        "ValueSet/$expand", params={"url": ROLES, "includeDesignations": "true"}
    )
    entry = next(c for c in resp.json()["expansion"]["contains"] if c["code"] == "coordinator")
    assert entry["display"] == "Coordinator"
    assert entry["designation"] == [{"language": "da", "value": "Tovholder"}]
    assert_outcome(
        await client.get("ValueSet/$expand", params={"url": ROLES, "includeDesignations": "x"}),
        400,
        "invalid",
        ["includeDesignations"],
    )
