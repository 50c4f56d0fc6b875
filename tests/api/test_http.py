"""HTTP-level behaviour: content negotiation (http.html#mime-type), request bodies, routing errors,
Prefer (#prefer) and the CapabilityStatement (#capabilities)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search.registry import builtin_params as params_for
from profiles.elements import Definitions
from tests.api.conftest import MakeClient
from tests.api.support import (
    BASE,
    CPR,
    FHIR_JSON,
    REFERENCED,
    assert_outcome,
    create,
    expressions,
    minimal,
    patient,
    put,
    store_referenced,
)
from tests.support.r4b_models import check_structure

SAMPLE_VALUES = {
    "token": "urn:oid:1.2.208.176.1.2|1",
    "string": "x",
    "date": "2020",
    "number": "1",
    "quantity": "1",
    "reference": "Patient/1",
    "uri": "http://example.org/x",
}
"""A well-formed value for each search type, to call every claimed parameter."""


def _sample(type_: str, name: str) -> str:
    param = params_for(type_)[name]
    if param.type == "composite":  # code$value: each component's own syntax
        return "$".join(SAMPLE_VALUES[c.type] for c in param.components)
    return SAMPLE_VALUES[param.type]


# --- content negotiation -----------------------------------------------------------------------


async def test_accept_json_flavours(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    url = f"Patient/{made['id']}"
    cases = {
        "application/fhir+json": FHIR_JSON,
        "application/fhir+json; fhirVersion=4.0": FHIR_JSON,
        "application/json": "application/json; charset=utf-8",
        "application/json+fhir": FHIR_JSON,
        "text/json": "text/json; charset=utf-8",
        "*/*": FHIR_JSON,
        "application/*": FHIR_JSON,
        "application/fhir+xml;q=0.5, application/json;q=0.9": "application/json; charset=utf-8",
        "text/html,application/xhtml+xml,*/*;q=0.8": FHIR_JSON,
    }
    for accept, content_type in cases.items():
        resp = await client.get(url, headers={"Accept": accept})
        assert resp.status_code == 200, accept
        assert resp.headers["content-type"] == content_type, accept
        assert resp.json() == made
    # no Accept header at all
    request = client.build_request("GET", url)
    del request.headers["accept"]
    resp = await client.send(request)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == FHIR_JSON


async def test_accept_neither_json_nor_xml_is_406(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    url = f"Patient/{made['id']}"
    for accept in ("text/html", "application/json;q=0", "text/turtle", "application/fhir+xml;q=0"):
        resp = await client.get(url, headers={"Accept": accept})
        assert_outcome(resp, 406, "not-supported")
    # also on errors and writes: negotiation comes first
    assert_outcome(
        await client.get("Patient/nope", headers={"Accept": "text/html"}), 406, "not-supported"
    )
    resp = await client.post("Patient", json=patient(), headers={"Accept": "text/html"})
    assert_outcome(resp, 406, "not-supported")
    assert len((await client.get("Patient")).json()["entry"]) == 1


async def test_format_parameter_overrides_accept(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    url = f"Patient/{made['id']}"
    xml = {"Accept": "application/fhir+xml"}
    for fmt, content_type in (
        ("json", FHIR_JSON),
        ("application/fhir+json", FHIR_JSON),
        ("application/json", "application/json; charset=utf-8"),
    ):
        resp = await client.get(url, params={"_format": fmt}, headers=xml)
        assert resp.status_code == 200, fmt
        assert resp.headers["content-type"] == content_type
    for fmt in ("ttl", "html", "text/html"):
        resp = await client.get(url, params={"_format": fmt})
        assert_outcome(resp, 406, "not-supported", ["_format"])
    assert_outcome(
        await client.get("metadata", params={"_format": "ttl"}), 406, "not-supported", ["_format"]
    )


async def test_request_content_type(client: httpx.AsyncClient) -> None:
    body = orjson.dumps(patient())
    for media in (
        "application/fhir+json",
        "application/json",
        "application/fhir+json; charset=utf-8",
    ):
        resp = await client.post("Patient", content=body, headers={"Content-Type": media})
        assert resp.status_code == 201, media
    for media in ("text/plain", "application/json-patch+json", "text/html"):
        resp = await client.post("Patient", content=body, headers={"Content-Type": media})
        assert_outcome(resp, 415, "not-supported")
        made = (await client.get("Patient")).json()["entry"][0]["resource"]
        resp = await client.put(
            f"Patient/{made['id']}", content=orjson.dumps(made), headers={"Content-Type": media}
        )
        assert_outcome(resp, 415, "not-supported")
    assert len((await client.get("Patient")).json()["entry"]) == 3


async def test_invalid_json_is_400(client: httpx.AsyncClient) -> None:
    for raw in (b"{", b'{"resourceType": "Patient",}', b"\xff\xfe", b"nul"):
        resp = await client.post(
            "Patient", content=raw, headers={"Content-Type": "application/fhir+json"}
        )
        assert_outcome(resp, 400, "invalid")
    for raw in (b"[]", b'"Patient"', b"42", b"null"):
        resp = await client.post(
            "Patient", content=raw, headers={"Content-Type": "application/fhir+json"}
        )
        assert_outcome(resp, 400, "invalid")


async def test_structural_validation_names_each_failing_element(client: httpx.AsyncClient) -> None:
    bad = {
        "resourceType": "Patient",
        "birthDate": "31-12-1999",
        "name": [{"family": "Hansen", "given": ["Anna", 7]}],
        "telecom": {"system": "phone", "value": "1234"},
        "unknownElement": True,
    }
    outcome = assert_outcome(await client.post("Patient", json=bad), 400, "value")
    assert sorted(expressions(outcome)) == [
        "Patient.birthDate",
        "Patient.name[0].given[1]",
        "Patient.telecom",
        "Patient.unknownElement",
    ]
    codes = {i["expression"][0]: i["code"] for i in outcome["issue"]}
    assert codes == {
        "Patient.birthDate": "value",
        "Patient.name[0].given[1]": "structure",
        "Patient.telecom": "structure",
        "Patient.unknownElement": "structure",
    }
    assert all(i["severity"] == "error" for i in outcome["issue"])
    assert len(outcome["issue"]) == 4
    outcome = assert_outcome(
        await client.post("Observation", json={"resourceType": "Observation"}), 400, "required"
    )
    assert sorted(expressions(outcome)) == ["Observation.code", "Observation.status"]
    assert (await client.get("Patient")).json()["entry"] == []


async def test_json_primitive_types_are_not_coerced(client: httpx.AsyncClient) -> None:
    """json.html: booleans are JSON booleans, integers and decimals JSON numbers. The stored bytes
    are the client's, so a coerced "yes" would be served back as invalid FHIR JSON."""
    bad = patient(
        active="yes",
        multipleBirthInteger="2",
        telecom=[{"system": "phone", "value": "1", "rank": 1.5}],
        extension=[{"url": "http://example.org/x", "valueBoolean": 1}],
        contained=[{"resourceType": "Patient", "id": "c", "deceasedBoolean": "false"}],
        link=[{"other": {"reference": "#c"}, "type": "seealso"}],  # dom-3: refer to it
    )
    outcome = assert_outcome(await client.post("Patient", json=bad), 400, "structure")
    assert sorted(expressions(outcome)) == [
        "Patient.active",
        "Patient.contained[0].deceasedBoolean",
        "Patient.extension[0].valueBoolean",
        "Patient.multipleBirthInteger",
        "Patient.telecom[0].rank",
    ]
    obs = minimal("Observation", valueQuantity={"value": "98.6"})
    assert_outcome(
        await client.post("Observation", json=obs),
        400,
        "structure",
        ["Observation.valueQuantity.value"],
    )
    good = patient(
        active=True, multipleBirthInteger=2, telecom=[{"system": "phone", "value": "1", "rank": 1}]
    )
    assert (await client.post("Patient", json=good)).status_code == 201
    obs = minimal("Observation", valueQuantity={"value": 98.6})
    assert (await client.post("Observation", json=obs)).status_code == 201


async def test_malformed_resources_are_400_not_500(client: httpx.AsyncClient) -> None:
    assert_outcome(
        await client.post("Patient", json=patient(birthDate=None)),
        400,
        "structure",
        ["Patient.birthDate"],
    )
    assert_outcome(
        await client.post("Patient", json=patient(contained=[{"resourceType": "Unicorn"}])),
        400,
        "structure",
        ["Patient.contained[0]"],
    )
    # null keeps a primitive array aligned with its extensions: allowed there
    aligned = patient(
        name=[
            {
                "given": ["a", None],
                "_given": [None, {"extension": [{"url": "http://x", "valueString": "b"}]}],
            }
        ]
    )
    assert (await client.post("Patient", json=aligned)).status_code == 201


async def test_unknown_type_and_path(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.get("Unicorn"), 404, "not-supported", ["Unicorn"])
    assert_outcome(await client.get("Unicorn/1"), 404, "not-supported", ["Unicorn"])
    assert_outcome(
        await client.post("Unicorn", json={"resourceType": "Unicorn"}),
        404,
        "not-supported",
        ["Unicorn"],
    )
    # the one R4 type this server does not serve: Parameters has no RESTful endpoint
    assert_outcome(await client.get("Parameters/1"), 404, "not-supported", ["Parameters"])
    assert_outcome(await client.get("patient/1"), 404, "not-supported", ["patient"])
    assert_outcome(await client.get("Patient/1/everything"), 404, "not-found")
    assert_outcome(await client.get("Patient/1/_history/1/x"), 404, "not-found")
    assert_outcome(await client.get("Patient/$everything"), 400, "not-supported")


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    cases = [
        ("DELETE", "Patient/x/_history", "GET"),
        ("POST", "Patient/x/_history", "GET"),
        ("PUT", "Patient/x/_history/1", "GET"),
        ("POST", "Patient/x", "DELETE, GET, PATCH, PUT"),
        ("DELETE", "Patient/_history", "GET"),
        ("GET", "Patient/_search", "POST"),
        ("PUT", "metadata", "GET"),
        ("DELETE", "_history", "GET"),
        ("PUT", "", "GET, POST"),
        ("DELETE", "", "GET, POST"),
    ]
    for method, path, allow in cases:
        resp = await client.request(method, path)
        assert_outcome(resp, 405, "not-supported")
        assert resp.headers["allow"] == allow, (method, path)


async def test_body_over_the_limit_is_413(make_client: MakeClient) -> None:
    client = await make_client(max_body_bytes=1024)
    big = patient(text={"status": "generated", "div": f"<div>{'x' * 2000}</div>"})
    assert_outcome(await client.post("Patient", json=big), 413, "too-long")
    assert_outcome(await put(client, {**big, "id": "big"}), 413, "too-long")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        raw = orjson.dumps(big)
        for i in range(0, len(raw), 256):
            yield raw[i : i + 256]

    resp = await client.post(
        "Patient", content=chunks(), headers={"Content-Type": "application/fhir+json"}
    )
    assert "content-length" not in resp.request.headers
    assert_outcome(resp, 413, "too-long")
    assert (await client.get("Patient")).json()["entry"] == []
    assert (await client.post("Patient", json=patient())).status_code == 201


async def test_a_chunked_body_is_abandoned_once_over_the_limit(make_client: MakeClient) -> None:
    client = await make_client(max_body_bytes=1024)
    sent = 0

    async def endless() -> AsyncIterator[bytes]:  # 20 MB, no Content-Length
        nonlocal sent
        while sent < 20 * 1024 * 1024:
            sent += 256
            yield b" " * 256

    resp = await client.post(
        "Patient", content=endless(), headers={"Content-Type": "application/fhir+json"}
    )
    assert_outcome(resp, 413, "too-long")
    assert sent <= 1024 + 256  # read while streaming: stopped at the first chunk past the limit
    assert (await client.get("Patient")).json()["entry"] == []


# --- Prefer --------------------------------------------------------------------------------------


async def test_prefer_on_create(client: httpx.AsyncClient) -> None:
    resp = await client.post("Patient", json=patient(), headers={"Prefer": "return=minimal"})
    assert resp.status_code == 201
    assert resp.content == b""
    assert resp.headers["etag"] == 'W/"1"'
    assert resp.headers["location"].startswith(f"{BASE}/Patient/")

    resp = await client.post("Patient", json=patient(), headers={"Prefer": "return=representation"})
    assert resp.status_code == 201
    body = resp.json()
    assert body["resourceType"] == "Patient"
    assert resp.headers["location"] == f"{BASE}/Patient/{body['id']}/_history/1"

    resp = await client.post(
        "Patient", json=patient(), headers={"Prefer": "return=OperationOutcome"}
    )
    assert resp.status_code == 201
    assert resp.headers["content-type"] == FHIR_JSON
    outcome = resp.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "information"
    assert resp.headers["location"].startswith(f"{BASE}/Patient/")
    assert len((await client.get("Patient")).json()["entry"]) == 3


async def test_prefer_on_update(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    resp = await put(client, made, headers={"Prefer": "return=minimal"})
    assert resp.status_code == 200
    assert resp.content == b""
    assert resp.headers["etag"] == 'W/"2"'
    resp = await put(client, made, headers={"Prefer": 'return="representation"'})
    assert resp.status_code == 200
    assert resp.json()["meta"]["versionId"] == "3"
    resp = await put(client, made, headers={"Prefer": "respond-async, return=OperationOutcome"})
    assert resp.status_code == 200
    assert resp.json()["resourceType"] == "OperationOutcome"
    assert resp.headers["etag"] == 'W/"4"'
    # Prefer changes nothing about errors
    assert_outcome(
        await client.put(
            f"Patient/{made['id']}",
            json={**made, "id": "other"},
            headers={"Prefer": "return=minimal"},
        ),
        400,
        "invalid",
        ["Patient.id"],
    )


# --- CapabilityStatement --------------------------------------------------------------------------

TYPE_INTERACTIONS = [
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
]


async def test_metadata_describes_what_is_served(client: httpx.AsyncClient) -> None:
    resp = await client.get("metadata")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == FHIR_JSON
    cs = resp.json()
    assert cs["resourceType"] == "CapabilityStatement"
    assert cs["fhirVersion"] == "4.0.1"
    assert cs["kind"] == "instance"
    assert cs["status"] == "active"
    assert cs["implementation"]["url"] == BASE
    assert "application/fhir+json" in cs["format"]
    (rest,) = cs["rest"]
    assert rest["mode"] == "server"
    types = [r["type"] for r in rest["resource"]]
    assert len(types) == len(SERVED_TYPES)
    assert types == sorted(SERVED_TYPES)
    for r in rest["resource"]:
        assert [i["code"] for i in r["interaction"]] == TYPE_INTERACTIONS, r["type"]
        names = [p["name"] for p in r["searchParam"]]
        expected = list(params_for(r["type"]))  # the R4 definitions the server can search
        assert names == expected, r["type"]
        assert "_lastUpdated" in names
        if r["type"] == "Observation":
            composite = next(p for p in r["searchParam"] if p["name"] == "code-value-quantity")
            assert composite == {
                "name": "code-value-quantity",
                "definition": "http://hl7.org/fhir/SearchParameter/Observation-code-value-quantity",
                "type": "composite",
            }
        assert r["conditionalDelete"] == "single"
    assert sorted(i["code"] for i in rest["interaction"]) == [
        "batch",
        "history-system",
        "search-system",
        "transaction",
    ]


FIRST_TYPES = frozenset(
    {
        *("Patient", "Practitioner", "PractitionerRole", "Organization", "RelatedPerson"),
        *("CarePlan", "CareTeam", "ServiceRequest", "MedicationStatement", "Medication", "Goal"),
        *("Condition", "Consent", "Communication", "Encounter", "Task", "Observation"),
        *("Provenance", "AuditEvent", "SearchParameter", "StructureDefinition", "ValueSet"),
        *("CodeSystem", "ConceptMap"),
    }
)
"""The types served first, whose every search parameter is tried alone."""


def _identifier(type_: str) -> Any:
    """A business identifier: one where the type has one (0..1: ConceptMap, Bundle, …), else a
    list."""
    one = {"system": CPR, "value": "1"}
    element = Definitions.default().element(type_, ["identifier"])
    return [one] if element is None or element.repeats else one


@pytest.mark.timeout(240)  # 145 types, each interaction: some 40 s on a busy machine
async def test_every_claimed_interaction_works(client: httpx.AsyncClient) -> None:
    """Call each interaction the CapabilityStatement claims, for every type: none is a 404/405."""
    await store_referenced(client)
    cs = (await client.get("metadata")).json()
    json_patch = {"Content-Type": "application/json-patch+json"}
    for r in cs["rest"][0]["resource"]:
        type_ = r["type"]
        claimed = [i["code"] for i in r["interaction"]]
        calls = {}
        resp = await client.post(
            type_,
            json=minimal(type_, identifier=_identifier(type_))
            if "identifier" in params_for(type_)
            else minimal(type_),
        )
        calls["create"] = resp
        made = resp.json()
        url = f"{type_}/{made['id']}"
        calls["read"] = await client.get(url)
        calls["vread"] = await client.get(f"{url}/_history/1")
        calls["update"] = await put(client, {**made, "language": "da"})
        calls["patch"] = await client.patch(
            url, json=[{"op": "replace", "path": "/language", "value": "en"}], headers=json_patch
        )
        calls["history-instance"] = await client.get(f"{url}/_history")
        calls["history-type"] = await client.get(f"{type_}/_history")
        calls["search-type"] = await client.get(type_, params={"_id": made["id"]})
        if type_ in FIRST_TYPES:
            for param in r["searchParam"]:
                value = made["id"] if param["name"] == "_id" else _sample(type_, param["name"])
                found = await client.get(type_, params={param["name"]: value})
                assert found.status_code == 200, (type_, param["name"], found.text)
                ids = [e["resource"]["id"] for e in found.json()["entry"]]
                assert ids == ([made["id"]] if param["name"] in ("_id", "identifier") else ids)
                assert set(ids) <= {made["id"]}
        else:  # every parameter in one search (each alone would take a minute for 121 types)
            every = {
                p["name"]: made["id"] if p["name"] == "_id" else _sample(type_, p["name"])
                for p in r["searchParam"]
            }
            found = await client.get(type_, params=every)
            assert found.status_code == 200, (type_, found.text)
            assert {e["resource"]["id"] for e in found.json()["entry"]} <= {made["id"]}
        posted = await client.post(f"{type_}/_search", data={"_id": made["id"]})
        assert [e["resource"]["id"] for e in posted.json()["entry"]] == [made["id"]]
        calls["delete"] = await client.delete(url)
        assert sorted(calls) == sorted(claimed), type_
        for code, resp in calls.items():
            assert 200 <= resp.status_code < 300, (type_, code, resp.status_code, resp.text)
        assert calls["create"].status_code == 201
        assert calls["patch"].json()["language"] == "en"
        assert [e["request"]["method"] for e in calls["history-instance"].json()["entry"]] == [
            "PATCH",
            "PUT",
            "POST",
        ]
        assert (await client.get(url)).status_code == 410

    system = {i["code"] for i in cs["rest"][0]["interaction"]}
    assert system == {"transaction", "batch", "history-system", "search-system"}
    for kind in ("transaction", "batch"):
        resp = await client.post("", json={"resourceType": "Bundle", "type": kind, "entry": []})
        assert resp.status_code == 200
        assert resp.json()["type"] == f"{kind}-response"
    resp = await client.get("_history", params={"_count": "100"})
    assert resp.status_code == 200
    entries = resp.json()["entry"]
    while next_ := [link["url"] for link in resp.json()["link"] if link["relation"] == "next"]:
        resp = await client.get(next_[0])
        entries += resp.json()["entry"]
    assert len(entries) == len(SERVED_TYPES) * 4 + len(REFERENCED)
    await create(client, minimal("Patient"))
    found = await client.get("", params={"_type": "Patient,CarePlan", "_count": "100"})
    assert found.status_code == 200  # everything else was deleted above
    kept = [e["resource"]["resourceType"] for e in found.json()["entry"]]
    assert kept == ["Patient", "Patient"]  # and Patient/example, which the others referenced


async def test_every_response_body_is_valid_fhir(client: httpx.AsyncClient) -> None:
    """What the server says is itself structurally valid R4: resources, Bundles (searchset,
    history, batch/transaction-response), OperationOutcomes and the CapabilityStatement."""
    made = await create(client, patient("Valid", "0101010101"))
    await put(client, {**made, "active": True})
    await client.delete(f"Patient/{made['id']}")
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"request": {"method": "POST", "url": "Patient"}, "resource": patient()},
            {"request": {"method": "GET", "url": "Patient?_id=x"}},
        ],
    }
    batch = {**transaction, "type": "batch"}
    batch["entry"] = [*batch["entry"], {"request": {"method": "GET", "url": "Patient/none"}}]
    responses = [
        await client.get("metadata"),
        await client.get(f"Patient/{made['id']}/_history/2"),
        await client.get("Patient", params={"identifier": "x"}),
        await client.get("_history"),
        await client.get(f"Patient/{made['id']}/_history", params={"_count": "1"}),
        await client.post("", json=transaction),
        await client.post("", json=batch),
        await client.get("Patient/none"),
        await client.post("Patient", json={"resourceType": "Patient", "x": 1}),
        await client.post("Patient", json=patient(), headers={"Prefer": "return=OperationOutcome"}),
    ]
    for resp in responses:
        body = resp.json()
        check_structure(body["resourceType"], body)


async def test_a_disconnect_before_the_body_is_complete_executes_nothing(tmp_path: Path) -> None:
    """ASGI: ``http.disconnect`` before the last body message (or fewer bytes than the declared
    Content-Length) aborts the request: no response, nothing written."""
    from fhir_server.app import ServerApp
    from fhir_server.config import Settings

    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'cut.db'}",
        required_profiles={},
        install_conformance=False,
        auth="off",
    )
    app = ServerApp(settings)
    await app.startup()
    body = b'{"resourceType":"Organization","name":"cut"}'
    try:
        for messages, length in (
            ([{"type": "http.request", "body": body, "more_body": True}, None], 1000),
            ([{"type": "http.request", "body": body, "more_body": True}, None], None),
            ([{"type": "http.request", "body": body, "more_body": False}], 1000),
        ):
            queue = list(messages)
            sent: list[dict[str, Any]] = []

            async def receive(queue: list[Any] = queue) -> dict[str, Any]:
                message = queue.pop(0) if queue else None
                return message or {"type": "http.disconnect"}

            async def send(message: dict[str, Any], sent: list[Any] = sent) -> None:
                sent.append(message)

            headers = [(b"host", b"testserver"), (b"content-type", b"application/fhir+json")]
            if length is not None:
                headers.append((b"content-length", str(length).encode()))
            scope = {
                "type": "http",
                "method": "POST",
                "path": "/fhir/Organization",
                "raw_path": b"/fhir/Organization",
                "root_path": "",
                "scheme": "http",
                "query_string": b"",
                "headers": headers,
                "server": ("testserver", 80),  # the Host is the address it arrived on: trusted
            }
            await app(scope, receive, send)
            assert sent == []
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver/fhir"
        ) as client:
            found = await client.get("Organization", params={"_total": "accurate"})
            assert found.json()["total"] == 0
    finally:
        await app.shutdown()
