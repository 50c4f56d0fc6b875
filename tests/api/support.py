"""Shared helpers for the API suite: minimal valid resources, writes, and outcome assertions."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import httpx

from tests.api.minimal_resources import MORE_MINIMAL

if TYPE_CHECKING:
    from fhir_server.app import ServerApp

BASE = "http://testserver/fhir"
CPR = "urn:oid:1.2.208.176.1.2"
FHIR_JSON = "application/fhir+json; charset=utf-8"
ETAG = re.compile(r'W/"(\d+)"')

_APPS: WeakKeyDictionary[httpx.AsyncClient, ServerApp] = WeakKeyDictionary()


def serve(client: httpx.AsyncClient, app: ServerApp) -> httpx.AsyncClient:
    """Remember which app ``client`` talks to (`app_of`)."""
    _APPS[client] = app
    return client


def app_of(client: httpx.AsyncClient) -> ServerApp:
    """The app a `make_client` client talks to (its services: custom parameters, router)."""
    return _APPS[client]


SUBJECT = {"reference": "Patient/example"}

# A structurally valid instance of each served type: its mandatory elements only.
MINIMAL: dict[str, dict[str, Any]] = {
    "AuditEvent": {
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
        "recorded": "2024-01-01T00:00:00Z",
        "agent": [{"requestor": True}],
        "source": {"observer": {"display": "a test device"}},
    },
    "CarePlan": {"status": "active", "intent": "plan", "subject": SUBJECT},
    "CareTeam": {},
    "Communication": {"status": "completed"},
    "Condition": {"subject": SUBJECT},
    "Consent": {
        "status": "active",
        "scope": {"coding": [{"code": "patient-privacy"}]},
        "category": [{"coding": [{"code": "59284-0"}]}],
        "policyRule": {"coding": [{"code": "OPTOUT"}]},
    },
    "Encounter": {"status": "finished", "class": {"code": "AMB"}},
    "Goal": {"lifecycleStatus": "active", "description": {"text": "walk"}, "subject": SUBJECT},
    "Medication": {},
    "MedicationStatement": {
        "status": "active",
        "medicationCodeableConcept": {"text": "aspirin"},
        "subject": SUBJECT,
    },
    "Group": {"type": "person", "actual": True},
    "Observation": {"status": "final", "code": {"text": "pulse"}},
    "Organization": {},
    "Patient": {},
    "Practitioner": {},
    "PractitionerRole": {},
    "Provenance": {
        "recorded": "2024-01-01T00:00:00Z",
        "agent": [{"who": {"reference": "Practitioner/p"}}],
        "target": [SUBJECT],
    },
    "RelatedPerson": {"patient": SUBJECT},
    "ServiceRequest": {"status": "active", "intent": "order", "subject": SUBJECT},
    "Task": {"status": "requested", "intent": "order"},
    "Subscription": {  # off: the server sends nothing (tests/api/test_subscriptions.py does)
        "status": "off",
        "reason": "test",
        "criteria": "urn:fhir-server:subscription-topic:careplan-changed",
        "channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/hook"},
    },
    "CodeSystem": {"status": "draft", "content": "not-present"},
    "ValueSet": {"status": "draft"},
    "ConceptMap": {"status": "draft"},
    "StructureDefinition": {
        "url": "http://example.org/StructureDefinition/x",
        "name": "X",
        "status": "draft",
        "kind": "resource",
        "abstract": False,
        "type": "Patient",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
        "derivation": "constraint",
        "differential": {"element": [{"id": "Patient", "path": "Patient"}]},
    },
    "SearchParameter": {
        "url": "http://example.org/SearchParameter/x",
        "name": "x",
        "status": "active",
        "description": "a test parameter",
        "code": "test-x",
        "base": ["Patient"],
        "type": "token",
        "expression": "Patient.gender",
    },
}


MINIMAL.update({k: v for k, v in MORE_MINIMAL.items() if k not in MINIMAL})  # every other type


REFERENCED = (
    {"resourceType": "Patient", "id": "example"},
    {"resourceType": "Practitioner", "id": "p"},
)
"""The resources `MINIMAL` references: a local reference must name a stored resource
(referential integrity, ``FHIR_REFERENTIAL_INTEGRITY``); `store_referenced` stores them."""


async def store_referenced(client: httpx.AsyncClient) -> None:
    """Store the resources `MINIMAL`'s references name (`REFERENCED`)."""
    for resource in REFERENCED:
        resp = await put(client, resource)
        assert resp.status_code in (200, 201), resp.text


EXAMPLE_TARGETS = (
    {"resourceType": "Organization", "id": "dk-org-gp-noerregade", "name": "Lægerne Nørregade"},
    {"resourceType": "PractitionerRole", "id": "dk-practitionerrole-home-nurse"},
)
"""The resources the Danish profile examples (``profiles/examples``) reference, but for the
Patient, which is an example itself (``dk-core-patient-valid-cpr``)."""


async def store_example_targets(client: httpx.AsyncClient) -> None:
    """Store `EXAMPLE_TARGETS`: a write of an example then passes referential integrity."""
    for resource in EXAMPLE_TARGETS:
        resp = await put(client, resource)
        assert resp.status_code in (200, 201), resp.text


def minimal(type_: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": type_, **MINIMAL[type_], **extra}


def patient(family: str = "Hansen", cpr: str | None = None, **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {"resourceType": "Patient", "name": [{"family": family}], **extra}
    if cpr is not None:
        res["identifier"] = [{"system": CPR, "value": cpr}]
    return res


def version_of(resp: httpx.Response) -> int:
    """The version in a response's ETag (which must be a weak ETag)."""
    m = ETAG.fullmatch(resp.headers["etag"])
    assert m, resp.headers["etag"]
    return int(m.group(1))


async def create(client: httpx.AsyncClient, resource: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post(resource["resourceType"], json=resource)
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def put(client: httpx.AsyncClient, resource: dict[str, Any], **kw: Any) -> httpx.Response:
    return await client.put(f"{resource['resourceType']}/{resource['id']}", json=resource, **kw)


async def put_ok(client: httpx.AsyncClient, resource: dict[str, Any]) -> dict[str, Any]:
    resp = await put(client, resource)
    assert resp.status_code in (200, 201), resp.text
    body: dict[str, Any] = resp.json()
    return body


def assert_outcome(
    resp: httpx.Response,
    status: int,
    code: str,
    expression: list[str] | None = None,
) -> dict[str, Any]:
    """The response is an error ``status`` whose OperationOutcome's first issue has ``code`` (and,
    if given, exactly this ``expression``)."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"] == FHIR_JSON
    body: dict[str, Any] = resp.json()
    assert body["resourceType"] == "OperationOutcome", body
    issue = body["issue"][0]
    assert issue["severity"] == "error"
    assert issue["code"] == code, body
    assert issue["diagnostics"]
    if expression is not None:
        assert issue.get("expression") == expression, body
    return body


def expressions(outcome: dict[str, Any]) -> list[str]:
    return [e for issue in outcome["issue"] for e in issue.get("expression", [])]


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def url(path: str) -> str:
    return f"{BASE}/{path}"
