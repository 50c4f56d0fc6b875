"""Ordinary but hostile input (issue 10: items 8, 10, 11, 14): every refusal is a 400 with an
OperationOutcome naming the element or parameter, never a 500, and nothing is stored."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from fhir_server.store.base import in_transaction
from tests.api.support import BASE, assert_outcome, minimal, patient, put_ok
from tests.support.backends import app_store

# ---- item 10: ids -------------------------------------------------------------------------

BAD_IDS = ["$", "x y", "..", ".", "a\x00b", "a,b", "a/b", "x" * 65, "y" * 1_000_000, ""]


def _transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


async def _count(client: httpx.AsyncClient, type_: str) -> int:
    resp = await client.get(type_, params={"_total": "accurate", "_count": "0"})
    assert resp.status_code == 200, resp.text
    return int(resp.json()["total"])


@pytest.mark.parametrize("bad", BAD_IDS, ids=lambda b: repr(b[:8]) + f"-{len(b)}")
async def test_transaction_entry_ids_are_checked(client: httpx.AsyncClient, bad: str) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        entry: dict[str, Any] = {"request": {"method": method, "url": f"Patient/{bad}"}}
        if method in ("POST", "PUT"):
            entry["resource"] = patient(id=bad)
        resp = await client.post("", json=_transaction(entry))
        assert resp.status_code in (400, 404, 405), (method, resp.status_code, resp.text[:300])
        assert resp.json()["resourceType"] == "OperationOutcome"
        assert "Bundle.entry[0]" in resp.text[:2000]
    assert await _count(client, "Patient") == 0


async def test_a_create_entry_cannot_choose_its_id(client: httpx.AsyncClient) -> None:
    """``POST Patient/abc`` is no create (http.html#create: the server assigns the id)."""
    for url in ("Patient/abc", "Patient/_search"):
        entry = {"request": {"method": "POST", "url": url}, "resource": patient()}
        resp = await client.post("", json=_transaction(entry))
        assert resp.status_code in (400, 405, 415), resp.text
    assert await _count(client, "Patient") == 0


async def test_conditional_update_entry_body_id_is_checked(client: httpx.AsyncClient) -> None:
    entry = {
        "fullUrl": "urn:uuid:" + str(uuid.uuid4()),
        "request": {"method": "PUT", "url": "Patient?identifier=x|1"},
        "resource": patient(id="a b"),
    }
    resp = await client.post("", json=_transaction(entry))
    assert resp.status_code == 400, resp.text
    assert await _count(client, "Patient") == 0


@pytest.mark.parametrize("bad", ["$", "x y", "..", "a,b", "x" * 65])
async def test_rest_ids_are_checked(client: httpx.AsyncClient, bad: str) -> None:
    from urllib.parse import quote

    path = "Patient/" + quote(bad, safe="")
    resp = await client.put(path, json=patient(id=bad))
    assert resp.status_code in (400, 404, 405), resp.text
    assert resp.json()["resourceType"] == "OperationOutcome"
    assert await _count(client, "Patient") == 0


@pytest.fixture
async def app_and_client(backend: str, tmp_path: Path) -> AsyncIterator[tuple[Any, Any]]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'fhir.db'}",
        required_profiles={},
        install_conformance=False,
        auth="off",
    )
    app = ServerApp(settings, store=app_store(backend))
    await app.startup()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE
        ) as client:
            yield app, client
    finally:
        await app.shutdown()


async def test_empty_compartment_matches_no_stored_id(app_and_client: tuple[Any, Any]) -> None:
    """An empty compartment is a filter that matches nothing by construction: not even a
    resource stored (by some other way in) under an id the API refuses."""
    app, client = app_and_client
    await put_ok(client, patient(id="alone"))
    plan = {**minimal("CarePlan"), "subject": {"reference": "Patient/someone-else"}}

    async def work(uow: Any) -> None:
        for odd in ("$", ""):
            await uow.write("CarePlan", odd, {**plan, "id": odd}, method="PUT")

    await in_transaction(app.store, work)
    resp = await client.get("Patient/alone/CarePlan")
    assert resp.status_code == 200, resp.text
    assert resp.json().get("entry", []) == []


# ---- item 11: 500s from ordinary input ----------------------------------------------------


@pytest.mark.parametrize("contained", [5, "x", {"resourceType": "Patient"}, True])
async def test_contained_not_an_array(client: httpx.AsyncClient, contained: Any) -> None:
    body = {
        **patient(),
        "contained": contained,
        "managingOrganization": {"reference": "#o"},
    }
    resp = await client.post("Patient", json=body)
    assert_outcome(resp, 400, "structure")
    assert "Patient.contained" in resp.text
    assert await _count(client, "Patient") == 0


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ({"request": {"method": ["POST"], "url": "Patient"}}, "request"),
        ({"request": {"method": {"a": 1}, "url": "Patient"}}, "request"),
        ({"request": {"method": "POST", "url": 5}}, "request"),
        ({"fullUrl": {"a": 1}, "request": {"method": "POST", "url": "Patient"}}, "fullUrl"),
        ({"fullUrl": ["x"], "request": {"method": "POST", "url": "Patient"}}, "fullUrl"),
        ({"fullUrl": 7, "request": {"method": "POST", "url": "Patient"}}, "fullUrl"),
    ],
)
async def test_bundle_entry_fields_of_the_wrong_type(
    client: httpx.AsyncClient, entry: dict[str, Any], where: str
) -> None:
    entry = {**entry, "resource": patient()}
    for kind in ("transaction", "batch"):
        resp = await client.post("", json={**_transaction(entry), "type": kind})
        body = assert_outcome(resp, 400, "invalid")
        assert body["issue"][0]["expression"][0].startswith(f"Bundle.entry[0].{where}"), body
    assert await _count(client, "Patient") == 0


@pytest.mark.parametrize("value", ["²", "\u0663", "1²", "99999999999999999999999"])
async def test_count_takes_ascii_digits(client: httpx.AsyncClient, value: str) -> None:
    for path in ("Patient", "Patient/_history"):
        resp = await client.get(path, params={"_count": value})
        if value.isascii():  # a huge count is the largest page
            assert resp.status_code == 200, resp.text
        else:
            assert_outcome(resp, 400, "invalid", ["_count"])


@pytest.mark.parametrize("version", ["²", "\u0663", str(2**63), str(2**64 + 1)])
async def test_vread_version_must_be_a_version(client: httpx.AsyncClient, version: str) -> None:
    await put_ok(client, patient(id="p1"))
    resp = await client.get(f"Patient/p1/_history/{version}")
    assert resp.status_code in (400, 404), resp.text
    assert resp.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("etag", [b'W/"\xb2"', b"\xb2", b'W/"9223372036854775808"'])
async def test_if_match_must_name_a_version(client: httpx.AsyncClient, etag: bytes) -> None:
    await put_ok(client, patient(id="p1"))
    resp = await client.put(
        "Patient/p1",
        content=httpx.Response(200, json=patient(id="p1")).content,
        headers={"content-type": "application/fhir+json", "if-match": etag},  # type: ignore[dict-item]
    )
    assert resp.status_code in (400, 412), resp.text
    assert resp.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("cursor", ["²", "\u0663", str(2**63), str(2**70), "-1"])
async def test_history_cursor_out_of_range(client: httpx.AsyncClient, cursor: str) -> None:
    await put_ok(client, patient(id="p1"))
    resp = await client.get("Patient/_history", params={"_cursor": cursor})
    assert_outcome(resp, 400, "invalid", ["_cursor"])


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("birthdate", "9999"),
        ("birthdate", "9999-12"),
        ("birthdate", "9999-12-31"),
        ("birthdate", "ge9999-12-31T23:59:59.999999999+14:00"),
        ("birthdate", "9999-12-31T23:59:59.999999999+14:00"),
        ("birthdate", "9999-12-31T23:59:59-14:00"),
        ("birthdate", "0001-01-01T00:00:00+14:00"),
        ("_lastUpdated", "ne9999-12-31"),
        ("_lastUpdated", "sa9999"),
        ("birthdate", "ap9999"),
    ],
)
async def test_dates_at_the_end_of_time(client: httpx.AsyncClient, param: str, value: str) -> None:
    await put_ok(client, patient(id="p1", birthDate="9999-12-31"))
    resp = await client.get("Patient", params={param: value})
    assert resp.status_code in (200, 400), resp.text
    if resp.status_code == 400:
        assert_outcome(resp, 400, "invalid", [param])


async def test_date_of_year_9999_matches(client: httpx.AsyncClient) -> None:
    await put_ok(client, patient(id="p1", birthDate="9999-12-31"))
    resp = await client.get("Patient", params={"birthdate": "9999"})
    assert resp.status_code == 200, resp.text
    assert [e["resource"]["id"] for e in resp.json()["entry"]] == ["p1"]


@pytest.mark.parametrize("value", ["²⁰²⁴", "\u0662\u0660\u0662\u0664-\u0660\u0661-\u0660\u0661"])
async def test_dates_take_ascii_digits(client: httpx.AsyncClient, value: str) -> None:
    resp = await client.get("Patient", params={"birthdate": value})
    assert_outcome(resp, 400, "invalid", ["birthdate"])


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "replace", "path": "", "value": 5}],
        [{"op": "replace", "path": "", "value": ["x"]}],
        [{"op": "remove", "path": ""}],
    ],
)
async def test_json_patch_result_must_be_an_object(
    client: httpx.AsyncClient, ops: list[dict[str, Any]]
) -> None:
    await put_ok(client, patient(id="p1"))
    resp = await client.patch(
        "Patient/p1",
        content=httpx.Response(200, json=ops).content,
        headers={"content-type": "application/json-patch+json"},
    )
    assert resp.status_code in (400, 422), resp.text
    assert resp.json()["resourceType"] == "OperationOutcome"
    assert (await client.get("Patient/p1")).json()["meta"]["versionId"] == "1"


def _fhirpath_patch(op: str, path: str, name: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": op},
                    {"name": "path", "valueString": path},
                    {"name": "name", "valueString": name},
                    {"name": "value", **value},
                ],
            }
        ],
    }


@pytest.mark.parametrize("path", ["Patient.birthDate", "Patient.active", "Patient.name.family"])
async def test_fhirpath_patch_add_on_a_primitive(client: httpx.AsyncClient, path: str) -> None:
    await put_ok(client, patient(id="p1", birthDate="2000-01-01", active=True))
    body = _fhirpath_patch("add", path, "x", {"valueString": "y"})
    resp = await client.patch("Patient/p1", json=body)
    assert resp.status_code in (400, 422), resp.text
    assert resp.json()["resourceType"] == "OperationOutcome"
    assert (await client.get("Patient/p1")).json()["meta"]["versionId"] == "1"


def _nested(depth: int) -> dict[str, Any]:
    """A valid CodeSystem whose concepts nest ``depth`` levels (each concept an object in an
    array: two JSON levels)."""
    concept: dict[str, Any] = {"code": "leaf"}
    for i in range(depth):
        concept = {"code": f"c{i}", "concept": [concept]}
    return {**minimal("CodeSystem"), "content": "complete", "concept": [concept]}


async def test_deep_nesting_is_refused(client: httpx.AsyncClient) -> None:
    for path in ("CodeSystem", "CodeSystem/$validate"):
        resp = await client.post(path, json=_nested(150))
        body = assert_outcome(resp, 400, "structure")
        assert "nest" in body["issue"][0]["diagnostics"], body
    bundle = _transaction(
        {"request": {"method": "POST", "url": "Patient"}, "resource": _nested(150)}
    )
    assert_outcome(await client.post("", json=bundle), 400, "structure")
    raw = b"[" * 1000 + b"]" * 1000
    resp = await client.post(
        "Patient", content=raw, headers={"content-type": "application/fhir+json"}
    )
    assert_outcome(resp, 400, "structure")


async def test_moderate_nesting_is_accepted(client: httpx.AsyncClient) -> None:
    resp = await client.post("CodeSystem", json=_nested(40))
    assert resp.status_code == 201, resp.text


async def test_many_or_values(client: httpx.AsyncClient) -> None:
    await put_ok(client, patient(id="p1", gender="female"))
    plan = {**minimal("CarePlan"), "id": "c1", "subject": {"reference": "Patient/p1"}}
    await put_ok(client, plan)
    many = ",".join([f"x{i}" for i in range(2000)] + ["p1"])
    for type_, param, value in (
        ("Patient", "_id", many),
        ("Patient", "identifier", ",".join(f"s|v{i}" for i in range(2000))),
        ("Patient", "family", ",".join(f"n{i}" for i in range(1000))),
        ("CarePlan", "subject", ",".join(f"Patient/x{i}" for i in range(2000)) + ",Patient/p1"),
        ("Patient", "birthdate", ",".join(f"19{i % 100:02d}" for i in range(1000))),
    ):
        resp = await client.post(
            f"{type_}/_search",
            content=f"{param}={value}".encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert resp.status_code == 200, (param, resp.text[:300])
    resp = await client.post(
        "CarePlan/_search",
        content=f"subject={','.join(f'Patient/x{i}' for i in range(2000))},Patient/p1".encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert [e["resource"]["id"] for e in resp.json()["entry"]] == ["c1"]


async def test_chain_over_many_matches(client: httpx.AsyncClient) -> None:
    entries = [
        {
            "request": {"method": "PUT", "url": f"Patient/p{i}"},
            "resource": patient(id=f"p{i}", gender="female"),
        }
        for i in range(800)
    ]
    plan = {**minimal("CarePlan"), "id": "c1", "subject": {"reference": "Patient/p799"}}
    entries.append({"request": {"method": "PUT", "url": "CarePlan/c1"}, "resource": plan})
    resp = await client.post("", json=_transaction(*entries))
    assert resp.status_code == 200, resp.text[:300]
    resp = await client.get("CarePlan", params={"subject:Patient.gender": "female"})
    assert resp.status_code == 200, resp.text[:300]
    assert [e["resource"]["id"] for e in resp.json()["entry"]] == ["c1"]
    resp = await client.get("Patient", params={"_has:CarePlan:subject:status": "active"})
    assert [e["resource"]["id"] for e in resp.json()["entry"]] == ["p799"]


# ---- item 14: unresolvable urn:uuid, non-finite numbers ----------------------------------


async def test_unresolvable_urn_uuid_reference(client: httpx.AsyncClient) -> None:
    dangling = "urn:uuid:" + str(uuid.uuid4())
    obs = {**minimal("Observation"), "subject": {"reference": dangling}}
    bundle = _transaction(
        {"request": {"method": "POST", "url": "Patient"}, "resource": patient()},
        {"request": {"method": "POST", "url": "Observation"}, "resource": obs},
    )
    body = assert_outcome(await client.post("", json=bundle), 400, "invalid")
    assert body["issue"][0]["expression"] == ["Bundle.entry[1].resource.subject.reference"]
    assert "Bundle.entry[1]" in body["issue"][0]["diagnostics"]
    assert await _count(client, "Patient") == 0
    assert await _count(client, "Observation") == 0


async def test_urn_uuid_of_an_entry_without_an_id(client: httpx.AsyncClient) -> None:
    """A fullUrl that names no resource written (a GET entry's) resolves to nothing."""
    got = "urn:uuid:" + str(uuid.uuid4())
    obs = {**minimal("Observation"), "subject": {"reference": got}}
    bundle = _transaction(
        {"fullUrl": got, "request": {"method": "GET", "url": "Patient?name=x"}},
        {"request": {"method": "POST", "url": "Observation"}, "resource": obs},
    )
    body = assert_outcome(await client.post("", json=bundle), 400, "invalid")
    assert body["issue"][0]["expression"] == ["Bundle.entry[1].resource.subject.reference"]
    assert await _count(client, "Observation") == 0


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("value-quantity", "1e309"),
        ("value-quantity", "-1e309"),
        ("value-quantity", "gt1e309|http://unitsofmeasure.org|mg"),
        ("value-quantity", "nan"),
        ("value-quantity", "inf"),
        ("value-quantity", "Infinity"),
    ],
)
async def test_non_finite_numbers(client: httpx.AsyncClient, param: str, value: str) -> None:
    resp = await client.get("Observation", params={param: value})
    assert_outcome(resp, 400, "invalid", [param])


async def test_too_many_values_are_refused(client: httpx.AsyncClient) -> None:
    from fhir_server.search.parse import MAX_VALUES

    resp = await client.post(
        "Patient/_search",
        content=("family=a&identifier=" + ",".join(f"s|{i}" for i in range(MAX_VALUES))).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_outcome(resp, 400, "too-costly", ["identifier"])


# ---- item 8: validation output is capped --------------------------------------------------


def _many_bad(n: int) -> dict[str, Any]:
    return {**patient(), "name": [{"family": 5} for _ in range(n)]}


async def test_validate_lists_at_most_100_issues(client: httpx.AsyncClient) -> None:
    from fhir_server.errors import MAX_ISSUES

    resp = await client.post("Patient/$validate", json=_many_bad(20_000))
    assert resp.status_code == 200, resp.text[:300]
    issues = resp.json()["issue"]
    assert len(issues) == MAX_ISSUES + 1
    assert all(i["severity"] == "error" for i in issues[:-1])
    assert issues[-1]["severity"] == "information"
    assert issues[-1]["code"] == "too-costly"
    assert "more" in issues[-1]["diagnostics"]
    assert len(resp.content) < 50_000


async def test_refused_write_lists_at_most_100_issues(client: httpx.AsyncClient) -> None:
    from fhir_server.errors import MAX_ISSUES

    for bundle in (False, True):
        body: Any = _many_bad(5_000)
        if bundle:
            body = _transaction({"request": {"method": "POST", "url": "Patient"}, "resource": body})
        resp = await client.post("" if bundle else "Patient", json=body)
        outcome = assert_outcome(resp, 400, "structure")
        assert len(outcome["issue"]) == MAX_ISSUES + 1
        assert outcome["issue"][0]["expression"][0].endswith("Patient.name[0].family")
        assert outcome["issue"][-1]["code"] == "too-costly"
    assert await _count(client, "Patient") == 0


async def test_a_few_issues_are_all_listed(client: httpx.AsyncClient) -> None:
    resp = await client.post("Patient/$validate", json=_many_bad(3))
    issues = resp.json()["issue"]
    assert [i.get("expression") for i in issues][:3] == [
        [f"Patient.name[{i}].family"] for i in range(3)
    ]
