"""Who may write what (issue 10, items 1, 3 and 4), through real HTTP with real tokens.

- Conformance resources (they change what the server does) are written by administrators only:
  ``system/`` scopes. Never by ``patient/`` or ``user/`` scopes, whatever they say.
- Directory resources (Organization, Practitioner, PractitionerRole, …) by clinicians (``user/``
  with a Practitioner or PractitionerRole ``fhirUser``) and administrators.
- A ``patient/`` scope, and a citizen's ``user/`` scope, read shared resources but write only
  their own patient's data: the resource's subject/patient must be that patient, and it may name
  no other patient anywhere in the compartment's references.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.support import minimal
from tests.auth.conftest import Server, issue, mint

ADMIN = mint("system/*.cruds")
CLINICIAN = mint("user/*.cruds", fhirUser="PractitionerRole/doc-role")
CITIZENS = {
    "patient-scope": mint("launch/patient patient/*.cruds", fhirUser="Patient/p1"),
    "citizen-user-scope": mint("user/*.cruds", fhirUser="Patient/p1"),
    "relative-user-scope": mint("user/*.cruds", fhirUser="RelatedPerson/mother"),
    "launched-patient-scope": mint("patient/*.cruds", patient="p1"),
}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
CONFORMANCE = ("SearchParameter", "StructureDefinition", "ValueSet", "CodeSystem")


@pytest.fixture(params=sorted(CITIZENS))
def citizen(request: pytest.FixtureRequest) -> str:
    return CITIZENS[str(request.param)]


async def _seed(server: Server, *resources: dict[str, Any]) -> None:
    for resource in resources:
        url = f"{resource['resourceType']}/{resource['id']}"
        resp = await server.send("PUT", url, ADMIN, resource)
        assert resp.status_code == 201, resp.text


async def _conformance(server: Server) -> None:
    await _seed(
        server,
        minimal("StructureDefinition", id="sd"),
        minimal("ValueSet", id="vs", url="http://example.org/ValueSet/vs"),
    )


def _forbidden(resp: Any, expression: str | None = None) -> dict[str, Any]:
    assert resp.status_code == 403, resp.text
    found = issue(resp)
    assert found["code"] == "forbidden"
    if expression is not None:
        assert found["expression"] == [expression], found
    return found


async def _version(server: Server, url: str) -> str:
    resp = await server.get(url, ADMIN)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["meta"]["versionId"])


# ---- item 3: patient/ scopes read shared resources, write only inside the compartment -------


async def test_citizens_read_shared_resources(server: Server, citizen: str) -> None:
    shared = (
        "Medication/med",
        "Practitioner/doc",
        "Organization/ward",
        "PractitionerRole/doc-role",
    )
    for url in shared:
        assert (await server.get(url, citizen)).status_code == 200, url


async def test_citizens_write_no_directory_or_shared_resource(server: Server, citizen: str) -> None:
    """The issue's examples: each answered 200/201/204 before, each 403 now, nothing changed."""
    await _conformance(server)
    patch = [{"op": "add", "path": "/name", "value": "Hacked"}]
    _forbidden(
        await server.send("PATCH", "Organization/ward", citizen, patch, **JSON_PATCH),
        "Organization",
    )
    role = {
        "resourceType": "PractitionerRole",
        "id": "doc-role",
        "active": False,
        "practitioner": {"reference": "Practitioner/doc"},
        "organization": {"reference": "Organization/ward"},
    }
    _forbidden(await server.send("PUT", "PractitionerRole/doc-role", citizen, role))
    _forbidden(await server.send("POST", "Practitioner", citizen, minimal("Practitioner")))
    _forbidden(await server.send("POST", "Medication", citizen, {"resourceType": "Medication"}))
    sd = "StructureDefinition"
    _forbidden(await server.send("DELETE", f"{sd}/sd", citizen), sd)
    retired = minimal("ValueSet", id="vs", url="http://example.org/ValueSet/vs", status="retired")
    _forbidden(await server.send("PUT", "ValueSet/vs", citizen, retired), "ValueSet")
    _forbidden(await server.send("DELETE", "Medication/med", citizen))
    for url in (
        "Organization/ward",
        "PractitionerRole/doc-role",
        "StructureDefinition/sd",
        "ValueSet/vs",
        "Medication/med",
    ):
        assert await _version(server, url) == "1", url
    for type_ in ("Practitioner", "Medication"):
        found = (await server.get(f"{type_}?_total=accurate", ADMIN)).json()
        assert found["total"] == 1, type_  # the refused creates left nothing


async def test_clinicians_write_the_directory_but_not_conformance(server: Server) -> None:
    await _conformance(server)
    patch = [{"op": "add", "path": "/name", "value": "Akutafdelingen"}]
    resp = await server.send("PATCH", "Organization/ward", CLINICIAN, patch, **JSON_PATCH)
    assert resp.status_code == 200, resp.text
    for type_ in ("Practitioner", "Medication", "Organization"):
        body = {"resourceType": type_, **({"name": "X"} if type_ == "Organization" else {})}
        resp = await server.send("POST", type_, CLINICIAN, body)
        assert resp.status_code == 201, (type_, resp.text)
    _forbidden(await server.send("DELETE", "StructureDefinition/sd", CLINICIAN))
    retired = minimal("ValueSet", id="vs", url="http://example.org/ValueSet/vs", status="retired")
    _forbidden(await server.send("PUT", "ValueSet/vs", CLINICIAN, retired))
    assert await _version(server, "ValueSet/vs") == "1"


@pytest.mark.parametrize("fhir_user", ["Patient/p1", "RelatedPerson/mother", None])
async def test_only_clinicians_user_scopes_write_the_directory(
    server: Server, fhir_user: str | None
) -> None:
    token = mint("user/*.cruds", fhirUser=fhir_user)
    _forbidden(await server.send("POST", "Organization", token, {"resourceType": "Organization"}))


# ---- item 1: conformance resources are written by administrators only ----------------------


@pytest.mark.parametrize("type_", CONFORMANCE)
async def test_conformance_is_written_by_administrators_only(server: Server, type_: str) -> None:
    body = minimal(type_)
    tokens = [
        *CITIZENS.values(),
        CLINICIAN,
        mint(f"user/{type_}.cruds", fhirUser="Practitioner/doc"),
        mint(f"patient/{type_}.c", patient="p1"),
    ]
    for token in tokens:
        _forbidden(await server.send("POST", type_, token, body), type_)
        transaction = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [{"request": {"method": "POST", "url": type_}, "resource": body}],
        }
        _forbidden(await server.send("POST", "", token, transaction))
        batch = {**transaction, "type": "batch"}
        resp = await server.send("POST", "", token, batch)
        assert resp.json()["entry"][0]["response"]["status"] == "403 Forbidden"
    assert (await server.get(f"{type_}?_total=accurate", ADMIN)).json()["total"] == 0
    made = await server.send("POST", type_, mint(f"system/{type_}.c"), body)
    assert made.status_code == 201, made.text
    url = f"{type_}/{made.json()['id']}"
    # reading stays as it was: any scope that grants read
    for token in (CLINICIAN, CITIZENS["patient-scope"]):
        assert (await server.get(url, token)).status_code == 200
    _forbidden(await server.send("DELETE", url, CLINICIAN))
    assert (await server.send("DELETE", url, ADMIN)).status_code == 204


async def test_a_citizen_cannot_add_a_search_parameter(server: Server) -> None:
    """The first step of the issue's attack: a custom parameter in CarePlan's compartment."""
    body = {
        "resourceType": "SearchParameter",
        "url": "http://example.org/SearchParameter/ze1c84c5",
        "name": "ze1c84c5",
        "status": "active",
        "description": "x",
        "code": "ze1c84c5",
        "base": ["CarePlan"],
        "type": "reference",
        "expression": "'Patient/p1'",
    }
    _forbidden(
        await server.send("POST", "SearchParameter", CITIZENS["patient-scope"], body),
        "SearchParameter",
    )


# ---- item 4: the subject/patient of what a citizen writes is their own patient -------------


def _ref(id_: str) -> dict[str, str]:
    return {"reference": f"Patient/{id_}"}


FOREIGN = [
    (
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "pulse"},
            "subject": _ref("p2"),
            "performer": [_ref("p1")],
        },
        "Observation.subject",
    ),
    (
        {
            "resourceType": "Communication",
            "status": "completed",
            "subject": _ref("p2"),
            "recipient": [_ref("p1")],
        },
        "Communication.subject",
    ),
    (
        {
            "resourceType": "CarePlan",
            "status": "active",
            "intent": "plan",
            "subject": _ref("p2"),
            "activity": [{"detail": {"status": "scheduled", "performer": [_ref("p1")]}}],
        },
        "CarePlan.subject",
    ),
    (
        {
            "resourceType": "Task",
            "status": "requested",
            "intent": "order",
            "for": _ref("p2"),
            "focus": _ref("p1"),
        },
        "Task.for",
    ),
    (
        {
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "subject": _ref("p2"),
            "performer": [_ref("p1")],
        },
        "ServiceRequest.subject",
    ),
]


@pytest.mark.parametrize(("body", "element"), FOREIGN, ids=[b["resourceType"] for b, _ in FOREIGN])
async def test_a_citizen_cannot_write_into_anothers_chart(
    server: Server, citizen: str, body: dict[str, Any], element: str
) -> None:
    type_ = body["resourceType"]
    _forbidden(await server.send("POST", type_, citizen, body), element)
    # a scoped token may not choose a new id at all (security.md "Nothing reveals existence")
    put = await server.send("PUT", f"{type_}/new-x", citizen, {**body, "id": "new-x"})
    assert put.status_code == 405, put.text
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "POST", "url": type_}, "resource": body}],
    }
    _forbidden(await server.send("POST", "", citizen, transaction))
    found = await server.get(f"{type_}?_total=accurate", ADMIN)
    before = {"Observation": 3, "CarePlan": 3}.get(type_, 0)
    assert found.json()["total"] == before  # nothing was written


async def test_a_citizen_cannot_change_anothers_resource_that_names_them(
    server: Server, citizen: str
) -> None:
    """p2's Observation that names p1 as its performer is in p1's compartment, but it is p2's
    data (its subject): p1 neither sees it (issue 12: a citizen sees the data about
    themselves) nor changes it, and every answer is the one for an id that never existed."""
    theirs = {**FOREIGN[0][0], "id": "theirs"}
    await _seed(server, theirs)
    assert (await server.get("Observation/theirs", citizen)).status_code == 404
    mine = {**theirs, "subject": _ref("p1")}
    put = await server.send("PUT", "Observation/theirs", citizen, mine)
    never = await server.send("PUT", "Observation/never-was", citizen, {**mine, "id": "never-was"})
    assert put.status_code == never.status_code == 405
    patch = [{"op": "replace", "path": "/status", "value": "entered-in-error"}]
    patched = await server.send("PATCH", "Observation/theirs", citizen, patch, **JSON_PATCH)
    assert patched.status_code == 404
    assert (await server.send("DELETE", "Observation/theirs", citizen)).status_code in (204, 404)
    assert await _version(server, "Observation/theirs") == "1"


async def test_a_citizen_names_no_other_patient(server: Server, citizen: str) -> None:
    """Own subject, but another patient as performer: the write would land in p2's
    compartment."""
    body = {**FOREIGN[0][0], "subject": _ref("p1"), "performer": [_ref("p2")]}
    _forbidden(await server.send("POST", "Observation", citizen, body), "Observation.performer")
    link = {"resourceType": "Patient", "id": "p1", "link": [{"other": _ref("p2"), "type": "refer"}]}
    _forbidden(await server.send("PUT", "Patient/p1", citizen, link), "Patient.link.other")
    _forbidden(await server.send("POST", "Patient", citizen, {"resourceType": "Patient"}))


async def test_a_citizen_still_writes_their_own_data(server: Server, citizen: str) -> None:
    own = [
        {**FOREIGN[0][0], "subject": _ref("p1"), "performer": [_ref("p1")]},
        {**FOREIGN[1][0], "subject": _ref("p1"), "recipient": [{"reference": "Practitioner/doc"}]},
        {**FOREIGN[3][0], "for": _ref("p1"), "focus": {"reference": "CarePlan/cp1"}},
        {
            "resourceType": "Goal",
            "lifecycleStatus": "active",
            "description": {"text": "walk daily"},
            "subject": _ref("p1"),
        },
    ]
    for body in own:
        made = await server.send("POST", body["resourceType"], citizen, body)
        assert made.status_code == 201, made.text
        url = f"{body['resourceType']}/{made.json()['id']}"
        patch = [{"op": "add", "path": "/meta/tag", "value": [{"code": "x"}]}]
        patched = await server.send("PATCH", url, citizen, patch, **JSON_PATCH)
        assert patched.status_code == 200, patched.text
        assert (await server.send("DELETE", url, citizen)).status_code == 204
    vital = (await server.get("Observation/vital1", ADMIN)).json()
    vital["status"] = "amended"
    updated = await server.send("PUT", "Observation/vital1", citizen, vital)
    assert updated.status_code == 200, updated.text
    me = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "2016-05-01"}
    assert (await server.send("PUT", "Patient/p1", citizen, me)).status_code == 200


async def test_clinicians_write_any_patients_data(server: Server) -> None:
    for body, _ in FOREIGN:
        made = await server.send("POST", body["resourceType"], CLINICIAN, body)
        assert made.status_code == 201, made.text


async def test_a_profile_takes_effect_only_when_its_writer_may_write_structure_definitions(
    server: Server,
) -> None:
    """Issue 13 item 6: a posted profile validates every claiming write — so posting one needs
    the write scope on StructureDefinition, as before; a refused post leaves nothing in force."""
    url = "http://example.org/fhir/StructureDefinition/needs-birth-date"
    profile = {
        **minimal("StructureDefinition"),
        "url": url,
        "differential": {
            "element": [{"id": "Patient.birthDate", "path": "Patient.birthDate", "min": 1}]
        },
    }
    claiming = {"resourceType": "Patient", "meta": {"profile": [url]}}
    for token in (CLINICIAN, mint("system/Patient.cruds system/ValueSet.c")):
        _forbidden(await server.send("POST", "StructureDefinition", token, profile))
    assert (await server.send("POST", "Patient", ADMIN, claiming)).status_code == 201
    posted = await server.send(
        "POST", "StructureDefinition", mint("system/StructureDefinition.c"), profile
    )
    assert posted.status_code == 201, posted.text
    refused = await server.send("POST", "Patient", CLINICIAN, claiming)
    assert refused.status_code == 422, refused.text
    assert issue(refused)["expression"] == ["Patient.birthDate"]
