"""Search result features over HTTP on both stores: chains, _has, _include/_revinclude, _total,
_summary, _elements, lenient handling, _sort and signed cursors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.support import assert_outcome

ORG = {"resourceType": "Organization", "id": "o1", "name": "Aarhus Kommune"}
PATIENTS = [
    {"id": "p1", "family": "Søgaard", "born": "1980-01-01", "org": True},
    {"id": "p2", "family": "Hansen", "born": "1975", "org": False},
    {"id": "p3", "family": "Andersen", "born": None, "org": False},
    {"id": "p4", "family": "Østergård", "born": "1990-05-05", "org": True},
]


def _patient(p: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Patient",
        "id": p["id"],
        "name": [{"family": p["family"]}],
    }
    if p["born"]:
        out["birthDate"] = p["born"]
    if p["org"]:
        out["managingOrganization"] = {"reference": "Organization/o1"}
    return out


def _plan(id_: str, patient: str, status: str) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "id": id_,
        "status": status,
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient}"},
    }


@pytest.fixture
async def data(client: httpx.AsyncClient) -> httpx.AsyncClient:
    resources = [ORG, *(_patient(p) for p in PATIENTS)]
    resources += [
        _plan("c1", "p1", "active"),
        _plan("c2", "p2", "draft"),
        _plan("c3", "p4", "active"),
    ]
    resources.append(
        {
            "resourceType": "Observation",
            "id": "ob1",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": "Patient/p2"},
        }
    )
    for r in resources:
        resp = await client.put(f"{r['resourceType']}/{r['id']}", json=r)
        assert resp.status_code == 201, resp.text
    return client


async def _get(client: httpx.AsyncClient, url: str, **kw: Any) -> dict[str, Any]:
    resp = await client.get(url, **kw)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def _ids(bundle: dict[str, Any], mode: str = "match") -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


async def test_chained_parameters_several_levels(data: httpx.AsyncClient) -> None:
    assert _ids(await _get(data, "CarePlan?subject:Patient.name=søg")) == ["c1"]
    assert _ids(await _get(data, "CarePlan?patient.organization.name=aarhus")) == ["c1", "c3"]
    assert _ids(await _get(data, "CarePlan?patient.organization.name=odense")) == []
    assert_outcome(await data.get("CarePlan?subject.shoe=1"), 400, "invalid", ["subject.shoe"])
    assert_outcome(await data.get("CarePlan?status.name=x"), 400, "invalid", ["status.name"])


async def test_reverse_chaining_has(data: httpx.AsyncClient) -> None:
    assert _ids(await _get(data, "Patient?_has:Observation:patient:code=8867-4")) == ["p2"]
    assert _ids(await _get(data, "Patient?_has:CarePlan:subject:status=active")) == ["p1", "p4"]
    nested = "Organization?_has:Patient:organization:_has:CarePlan:subject:status=active"
    assert _ids(await _get(data, nested)) == ["o1"]
    assert_outcome(await data.get("Patient?_has:CarePlan:status:x=1"), 400, "invalid")


async def test_include_and_revinclude(data: httpx.AsyncClient) -> None:
    found = await _get(data, "CarePlan?status=active&_include=CarePlan:subject")
    assert _ids(found) == ["c1", "c3"] and _ids(found, "include") == ["p1", "p4"]
    found = await _get(
        data, "CarePlan?_id=c1&_include=CarePlan:subject&_include:iterate=Patient:organization"
    )
    assert _ids(found, "include") == ["p1", "o1"]
    found = await _get(
        data, "CarePlan?_id=c1&_include=CarePlan:subject&_include=Patient:organization"
    )
    assert _ids(found, "include") == ["p1"]  # without :iterate only the matches' references
    found = await _get(data, "Patient?_id=p1,p2&_revinclude=CarePlan:subject")
    assert _ids(found) == ["p1", "p2"] and sorted(_ids(found, "include")) == ["c1", "c2"]
    found = await _get(data, "CarePlan?_id=c2&_include=*")
    assert _ids(found, "include") == ["p2"]
    assert_outcome(
        await data.get("CarePlan?_include=CarePlan:status"), 400, "invalid", ["_include"]
    )


async def test_total_summary_and_elements(data: httpx.AsyncClient) -> None:
    found = await _get(data, "CarePlan?status=active&_total=accurate")
    assert found["total"] == 2 and _ids(found) == ["c1", "c3"]
    assert "total" not in await _get(data, "CarePlan?status=active&_total=none")
    counted = await _get(data, "CarePlan?_summary=count")
    assert counted["total"] == 3 and not counted.get("entry")
    found = await _get(data, "Patient?_id=p1&_elements=birthDate")
    resource = found["entry"][0]["resource"]
    assert "name" not in resource and resource["birthDate"] == "1980-01-01"
    assert any(t["code"] == "SUBSETTED" for t in resource["meta"]["tag"])
    assert_outcome(await data.get("CarePlan?_total=lots"), 400, "invalid", ["_total"])


async def test_lenient_handling_reports_what_it_ignored(data: httpx.AsyncClient) -> None:
    assert_outcome(await data.get("CarePlan?shoe=1&status=active"), 400, "invalid", ["shoe"])
    found = await _get(
        data, "CarePlan?shoe=1&status=active", headers={"Prefer": "handling=lenient"}
    )
    assert _ids(found) == ["c1", "c3"]
    outcome = next(e for e in found["entry"] if e["search"]["mode"] == "outcome")["resource"]
    assert outcome["issue"][0]["expression"] == ["shoe"]
    assert found["link"][0]["url"].endswith("CarePlan?status=active")


async def _walk(client: httpx.AsyncClient, url: str) -> list[str]:
    out: list[str] = []
    next_url: str | None = url
    while next_url:
        page = await _get(client, next_url)
        out += _ids(page)
        next_url = next((x["url"] for x in page["link"] if x["relation"] == "next"), None)
    return out


async def test_sort_with_keyset_paging(data: httpx.AsyncClient) -> None:
    assert await _walk(data, "Patient?_sort=birthdate&_count=1") == ["p2", "p1", "p4", "p3"]
    assert await _walk(data, "Patient?_sort=-birthdate&_count=3") == ["p4", "p1", "p2", "p3"]
    assert await _walk(data, "Patient?_sort=family&_count=2") == ["p3", "p2", "p1", "p4"]
    assert await _walk(data, "CarePlan?_sort=status,-_id&_count=1") == ["c3", "c1", "c2"]
    assert_outcome(await data.get("Patient?_sort=shoe"), 400, "invalid", ["_sort"])


async def test_pages_do_not_shift_when_data_changes(data: httpx.AsyncClient) -> None:
    first = await _get(data, "Patient?_sort=family&_count=2")
    assert _ids(first) == ["p3", "p2"]
    await data.put(
        "Patient/p0", json={"resourceType": "Patient", "id": "p0", "name": [{"family": "Aabel"}]}
    )
    nxt = next(x["url"] for x in first["link"] if x["relation"] == "next")
    assert _ids(await _get(data, nxt)) == ["p1", "p4"]


async def test_cursors_are_signed_and_bound_to_their_search(data: httpx.AsyncClient) -> None:
    first = await _get(data, "Patient?_sort=family&_count=2")
    nxt = next(x["url"] for x in first["link"] if x["relation"] == "next")
    assert_outcome(
        await data.get(nxt.replace("_sort=family", "_sort=birthdate")), 400, "invalid", ["_cursor"]
    )
    assert_outcome(await data.get(nxt[:-4] + "AAAA"), 400, "invalid", ["_cursor"])
    assert_outcome(await data.get("Patient?_cursor=p2"), 400, "invalid", ["_cursor"])


async def test_compartment_search(data: httpx.AsyncClient) -> None:
    assert _ids(await _get(data, "Patient/p1/CarePlan")) == ["c1"]
    assert _ids(await _get(data, "Patient/p2/CarePlan?status=draft")) == ["c2"]
    assert _ids(await _get(data, "Patient/p2/CarePlan?status=active")) == []
    assert _ids(await _get(data, "Patient/p2/Observation")) == ["ob1"]
    assert _ids(await _get(data, "Patient/p9/CarePlan")) == []
    assert _ids(await _get(data, "Patient/p1/Patient")) == ["p1"]
    found = await _get(data, "Patient/p1/CarePlan?_include=CarePlan:subject")
    assert _ids(found, "include") == ["p1"]
    assert found["link"][0]["url"].endswith("/Patient/p1/CarePlan?_include=CarePlan%3Asubject")
    assert_outcome(await data.get("Patient/p1/Organization"), 404, "not-found")


async def test_total_by_default_when_cheap(data: httpx.AsyncClient) -> None:
    """As HAPI: the first page that holds the whole result says how many; one that does not,
    and later pages, say it only when asked; ``_summary=count``, ``_count=0`` and fhirpy's
    ``_totalMethod=count`` always count."""
    assert (await _get(data, "CarePlan?status=active"))["total"] == 2
    assert (await _get(data, "CarePlan?status=cancelled"))["total"] == 0
    first = await _get(data, "CarePlan?_count=2")
    assert "total" not in first and len(first["entry"]) == 2
    after = next(link["url"] for link in first["link"] if link["relation"] == "next")
    last = await _get(data, after.split("/fhir/", 1)[1])
    assert _ids(last) == ["c3"] and "total" not in last
    assert (await _get(data, "CarePlan?_count=2&_total=accurate"))["total"] == 3
    assert (await _get(data, "CarePlan?_count=2&_total=estimate"))["total"] == 3
    for counted in ("CarePlan?_count=0", "CarePlan?_count=0&_totalMethod=count"):
        found = await _get(data, counted)
        assert found["total"] == 3 and not found.get("entry"), counted
    assert (await _get(data, "CarePlan?_count=1&_totalMethod=count"))["total"] == 3
    assert "total" not in await _get(data, "CarePlan?_totalMethod=none")
    assert_outcome(await data.get("CarePlan?_totalMethod=lots"), 400, "invalid", ["_totalMethod"])
    assert (await _get(data, "?_type=CarePlan,Organization"))["total"] == 4
    assert "total" not in await _get(data, "?_type=CarePlan,Organization&_count=3")


async def test_system_search_across_types(data: httpx.AsyncClient) -> None:
    found = await _get(data, "?_type=CarePlan,Organization&_total=accurate")
    assert found["total"] == 4
    assert [(e["resource"]["resourceType"], e["resource"]["id"]) for e in found["entry"]] == [
        ("CarePlan", "c1"),
        ("CarePlan", "c2"),
        ("CarePlan", "c3"),
        ("Organization", "o1"),
    ]
    walked: list[str] = []
    url: str | None = "?_type=CarePlan,Organization,Patient&_count=3"
    while url:
        page = await _get(data, url)
        walked += [e["resource"]["id"] for e in page["entry"]]
        url = next((x["url"] for x in page["link"] if x["relation"] == "next"), None)
    assert walked == ["c1", "c2", "c3", "o1", "p1", "p2", "p3", "p4"]
    assert _ids(await _get(data, "?_id=p2,c2")) == ["c2", "p2"]
    assert_outcome(await data.get("?_type=Spaceship"), 400, "invalid", ["_type"])
    assert _ids(await _get(data, "?_type=Patient&family=hans")) == ["p2"]
    assert_outcome(await data.get("?_type=Patient,CarePlan&family=x"), 400, "invalid", ["family"])
    assert_outcome(await data.get("?_sort=_id"), 400, "invalid", ["_sort"])
