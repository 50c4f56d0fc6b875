"""Profiles from elsewhere (issue 13 item 6): a posted StructureDefinition takes effect for
validation — in this server process, in every other one on the same store and after a
restart — a profile that cannot be used is refused with the element named and nothing stored,
versioned canonicals are respected, and a claimed profile the server does not have is accepted
with a warning (or refused, as configured)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from tests.api.conftest import MakeClient
from tests.api.support import BASE, assert_outcome
from tests.support.backends import make_store

EXAMPLE = "http://example.org/fhir/StructureDefinition"
DK_PATIENT = "http://hl7.dk/fhir/core/StructureDefinition/dk-core-patient"
CPR = "urn:oid:1.2.208.176.1.2"


def profile(
    name: str,
    elements: list[dict[str, Any]],
    version: str | None = None,
    base: str = "http://hl7.org/fhir/StructureDefinition/Patient",
    type_: str = "Patient",
) -> dict[str, Any]:
    """A differential-only profile, as authoring tools other than ours post them (``path``
    given next to ``id``)."""
    sd: dict[str, Any] = {
        "resourceType": "StructureDefinition",
        "url": f"{EXAMPLE}/{name}",
        "name": name.replace("-", ""),
        "status": "active",
        "fhirVersion": "4.0.1",
        "kind": "resource",
        "abstract": False,
        "type": type_,
        "baseDefinition": base,
        "derivation": "constraint",
        "differential": {"element": [{"path": e["id"], **e} for e in elements]},
    }
    if version is not None:
        sd["version"] = version
    return sd


NEEDS_BIRTH_DATE = [{"id": "Patient.birthDate", "min": 1}]
NEEDS_NAME = [{"id": "Patient.name", "min": 1}]


def patient(*claims: str, **extra: Any) -> dict[str, Any]:
    meta = {"meta": {"profile": list(claims)}} if claims else {}
    return {"resourceType": "Patient", **meta, **extra}


def checked_issues(resp: httpx.Response) -> list[dict[str, Any]]:
    """A ``$validate`` answer's issues but R4's narrative advice (dom-6: the test resources
    carry no narrative)."""
    assert resp.status_code == 200, resp.text
    return [i for i in resp.json()["issue"] if not i["diagnostics"].startswith("dom-6")]


async def count(client: httpx.AsyncClient, type_: str) -> int:
    return int((await client.get(type_, params={"_total": "accurate"})).json()["total"])


async def test_unknown_claimed_profile_is_accepted_with_a_warning(
    client: httpx.AsyncClient,
) -> None:
    medcom = "http://medcomfhir.dk/ig/homecareobservation/StructureDefinition/medcom-hco-patient"
    resp = await client.post(
        "Patient",
        json=patient(f"{EXAMPLE}/elsewhere", medcom),
        headers={"Prefer": "return=OperationOutcome"},
    )
    assert resp.status_code == 201, resp.text
    issues = resp.json()["issue"]
    assert [(i["severity"], i["code"], i["expression"]) for i in issues] == [
        ("warning", "not-supported", ["Patient.meta.profile[0]"]),
        ("warning", "not-supported", ["Patient.meta.profile[1]"]),
    ]
    assert medcom in issues[1]["diagnostics"]
    assert (await client.get(resp.headers["location"])).status_code == 200
    # a transaction entry hears it too
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": patient(medcom), "request": {"method": "POST", "url": "Patient"}}],
    }
    answer = await client.post("", json=bundle, headers={"Prefer": "return=OperationOutcome"})
    assert answer.status_code == 200
    outcome = answer.json()["entry"][0]["response"]["outcome"]
    assert [(i["severity"], i["code"], i["expression"]) for i in outcome["issue"]] == [
        ("warning", "not-supported", ["Patient.meta.profile[0]"])
    ]
    # $validate says the same, as a warning
    checked = checked_issues(await client.post("Patient/$validate", json=patient(medcom)))
    assert [(i["severity"], i["code"], i["expression"]) for i in checked] == [
        ("warning", "not-supported", ["Patient.meta.profile[0]"])
    ]
    # a profile asked for by name is still an error: it cannot be checked
    asked = await client.post(
        "Patient/$validate",
        json={
            "resourceType": "Parameters",
            "parameter": [
                {"name": "resource", "resource": patient()},
                {"name": "profile", "valueUri": medcom},
            ],
        },
    )
    assert [(i["severity"], i["code"]) for i in checked_issues(asked)] == [
        ("error", "not-supported")
    ]


async def test_unknown_claimed_profile_is_refused_when_so_configured(
    make_client: MakeClient,
) -> None:
    client = await make_client(unknown_profiles="refuse")
    assert_outcome(
        await client.post("Patient", json=patient(f"{EXAMPLE}/elsewhere")),
        422,
        "not-supported",
        ["Patient.meta.profile[0]"],
    )
    assert await count(client, "Patient") == 0
    checked = checked_issues(
        await client.post("Patient/$validate", json=patient(f"{EXAMPLE}/elsewhere"))
    )
    assert [(i["severity"], i["code"]) for i in checked] == [("error", "not-supported")]


async def test_a_posted_profile_takes_effect(client: httpx.AsyncClient) -> None:
    url = f"{EXAMPLE}/needs-birth-date"
    posted = await client.post(
        "StructureDefinition", json=profile("needs-birth-date", NEEDS_BIRTH_DATE)
    )
    assert posted.status_code == 201, posted.text
    # stored as posted (differential only), searchable by url
    found = (await client.get("StructureDefinition", params={"url": url})).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [posted.json()["id"]]
    assert "snapshot" not in found["entry"][0]["resource"]
    assert_outcome(
        await client.post("Patient", json=patient(url)), 422, "required", ["Patient.birthDate"]
    )
    good = await client.post(
        "Patient",
        json=patient(url, birthDate="1980-01-01"),
        headers={"Prefer": "return=OperationOutcome"},
    )
    assert good.status_code == 201
    assert [i["severity"] for i in good.json()["issue"]] == ["information"]
    checked = checked_issues(await client.post("Patient/$validate", json=patient(url)))
    assert [(i["severity"], i["code"], i["expression"]) for i in checked] == [
        ("error", "required", ["Patient.birthDate"])
    ]
    # the CapabilityStatement lists it among Patient's supported profiles
    statement = (await client.get("metadata")).json()
    patient_entry = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    assert url in patient_entry["supportedProfile"]
    # changed: the new rules apply at once; deleted: the claim is unknown again (a warning)
    sd = posted.json()
    sd["differential"]["element"] = [{"id": "Patient.name", "path": "Patient.name", "min": 1}]
    assert (await client.put(f"StructureDefinition/{sd['id']}", json=sd)).status_code == 200
    assert (
        await client.post("Patient", json=patient(url, name=[{"family": "Hansen"}]))
    ).status_code == 201
    assert_outcome(
        await client.post("Patient", json=patient(url, birthDate="1980-01-01")),
        422,
        "required",
        ["Patient.name"],
    )
    assert (await client.delete(f"StructureDefinition/{sd['id']}")).status_code in (200, 204)
    assert (await client.post("Patient", json=patient(url))).status_code == 201


async def test_a_profile_of_a_bundled_profile(client: httpx.AsyncClient) -> None:
    """Built on dk-core-patient: its rules (the CPR check) and the new ones both apply."""
    sd = profile("dk-with-birth-date", NEEDS_BIRTH_DATE, base=DK_PATIENT)
    assert (await client.post("StructureDefinition", json=sd)).status_code == 201
    url = sd["url"]
    cpr = {"use": "official", "system": CPR, "value": "0101801234"}
    assert (
        await client.post("Patient", json=patient(url, identifier=[cpr], birthDate="1980-01-01"))
    ).status_code == 201
    assert_outcome(
        await client.post("Patient", json=patient(url, identifier=[cpr])),
        422,
        "required",
        ["Patient.birthDate"],
    )
    bad = {**cpr, "value": "3213801234"}
    assert_outcome(
        await client.post("Patient", json=patient(url, identifier=[bad], birthDate="1980-01-01")),
        422,
        "invariant",
        ["Patient.identifier[0]"],
    )


async def test_versioned_canonicals(client: httpx.AsyncClient) -> None:
    url = f"{EXAMPLE}/versioned"
    for version, rules in (("1.0.0", NEEDS_BIRTH_DATE), ("1.10.0", NEEDS_NAME)):
        resp = await client.post("StructureDefinition", json=profile("versioned", rules, version))
        assert resp.status_code == 201, resp.text
    name, born = [{"family": "Hansen"}], "1980-01-01"
    # url|version picks that version
    assert (
        await client.post("Patient", json=patient(f"{url}|1.0.0", birthDate=born))
    ).status_code == 201
    assert_outcome(
        await client.post("Patient", json=patient(f"{url}|1.0.0", name=name)),
        422,
        "required",
        ["Patient.birthDate"],
    )
    assert (
        await client.post("Patient", json=patient(f"{url}|1.10.0", name=name))
    ).status_code == 201
    # the url alone: the newest version (1.10.0 comes after 1.9 and 1.0.0)
    assert_outcome(
        await client.post("Patient", json=patient(url, birthDate=born)),
        422,
        "required",
        ["Patient.name"],
    )
    # a version nobody posted is unknown: accepted with a warning
    resp = await client.post(
        "Patient", json=patient(f"{url}|2.0.0"), headers={"Prefer": "return=OperationOutcome"}
    )
    assert resp.status_code == 201
    assert [(i["code"], i["expression"]) for i in resp.json()["issue"]] == [
        ("not-supported", ["Patient.meta.profile[0]"])
    ]


@pytest.mark.parametrize(
    ("sd", "code", "expression"),
    [
        (
            profile("no-such-element", [{"id": "Patient.shoeSize", "min": 1}]),
            "processing",
            "StructureDefinition.differential.element[0]",
        ),
        (
            profile("widening", [{"id": "Patient.birthDate", "min": 0, "max": "*"}]),
            "processing",
            "StructureDefinition.differential.element[0]",
        ),
        (
            profile("unknown-base", NEEDS_NAME, base=f"{EXAMPLE}/nobody-has-it"),
            "processing",
            "StructureDefinition.baseDefinition",
        ),
        (
            profile(
                "bad-invariant",
                [
                    {
                        "id": "Patient",
                        "constraint": [
                            {
                                "key": "x-1",
                                "severity": "error",
                                "human": "never parses",
                                "expression": "name.where(",
                            }
                        ],
                    }
                ],
            ),
            "processing",
            "StructureDefinition.differential.element[0].constraint[0].expression",
        ),
        (
            profile(
                "huge",
                [{"id": f"Patient.extension:s{i}", "min": 0, "max": "1"} for i in range(6000)],
            ),
            "too-costly",
            "StructureDefinition.differential.element",
        ),
        (
            profile("no-type", NEEDS_NAME, type_="Unicorn"),
            "processing",
            "StructureDefinition.type",
        ),
    ],
    ids=["unknown-element", "widening", "unknown-base", "bad-invariant", "huge", "unknown-type"],
)
async def test_a_profile_that_cannot_be_used_is_refused(
    client: httpx.AsyncClient, sd: dict[str, Any], code: str, expression: str
) -> None:
    resp = await client.post("StructureDefinition", json=sd)
    assert resp.status_code in (400, 422), resp.text
    issue = resp.json()["issue"][0]
    if resp.status_code == 422:
        assert (issue["code"], issue["expression"]) == (code, [expression]), issue
    assert await count(client, "StructureDefinition") == 0
    checked = (await client.post("StructureDefinition/$validate", json=sd)).json()["issue"]
    assert any(i["severity"] == "error" for i in checked)


async def test_a_bundled_canonical_cannot_be_replaced(client: httpx.AsyncClient) -> None:
    sd = profile("x", NEEDS_BIRTH_DATE, base="http://hl7.org/fhir/StructureDefinition/Patient")
    sd["url"], sd["version"] = DK_PATIENT, "3.7.0"
    assert_outcome(
        await client.post("StructureDefinition", json=sd),
        422,
        "business-rule",
        ["StructureDefinition.url"],
    )


# -- other server processes, restarts -----------------------------------------------------------

Servers = Callable[[], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def servers(backend: str, tmp_path: Path) -> AsyncIterator[tuple[Servers, AsyncExitStack]]:
    """``start()`` starts another server process on the same data (SQLite: the same file;
    MongoDB: the same database through its own store)."""
    db = tmp_path / f"fhir-{uuid.uuid4().hex[:8]}.db"
    shared = make_store(backend) if backend != "sqlite" else None
    async with AsyncExitStack() as stack:

        async def start() -> httpx.AsyncClient:
            settings = Settings(
                store_url=f"sqlite:///{db}",
                required_profiles={},
                install_conformance=False,
                auth="off",
            )
            store = None
            if shared is not None:
                from fhir_server.store.mongo.store import MongoStore

                assert isinstance(shared, MongoStore)
                store = MongoStore(shared.client, shared.database, shared.indexer)
            app = ServerApp(settings, store=store)
            await app.startup()
            stack.push_async_callback(app.shutdown)
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
            return await stack.enter_async_context(client)

        yield start, stack


async def test_a_profile_posted_to_one_process_applies_in_the_others_and_after_a_restart(
    servers: tuple[Servers, AsyncExitStack],
) -> None:
    start, _ = servers
    one, two = await start(), await start()
    url = f"{EXAMPLE}/needs-birth-date"
    # the other process has validated (and so loaded its definitions) before the profile exists
    assert (await two.post("Patient", json=patient(url))).status_code == 201
    assert (
        await one.post("StructureDefinition", json=profile("needs-birth-date", NEEDS_BIRTH_DATE))
    ).status_code == 201
    assert_outcome(
        await two.post("Patient", json=patient(url)), 422, "required", ["Patient.birthDate"]
    )
    # a new process (a restart) has it from the store
    three = await start()
    checked = checked_issues(await three.post("Patient/$validate", json=patient(url)))
    assert [(i["code"], i["expression"]) for i in checked] == [("required", ["Patient.birthDate"])]
    assert_outcome(
        await three.post("Patient", json=patient(url)), 422, "required", ["Patient.birthDate"]
    )
