"""Binding handover by Task (issue 14 item 4, docs/handover.md), over real HTTP with real
RS256 JWTs on every store: a ServiceRequest to another organization creates its Task (none when
a transaction carries one); the R4 Task state machine — every valid transition taken by the
party allowed to, every invalid one refused (422 business-rule naming Task.status); reasons on
rejection, cancellation and failure; only the owner accepts, without a caller learning more than
it may see; the requester sees the state; the care team and plan show who holds which
responsibility before and after acceptance (S1, S4, S5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from fhir_server.handover import CARETEAM_ROLE, RESPONSIBILITY, TASK_EXTENSION
from fhir_server.task_states import (
    MOVED_BY,
    NEEDS_REASON,
    invalid_transitions,
    valid_transitions,
)
from tests.api.support import BASE
from tests.auth.conftest import ADMIN, DATA, Revocations, Server, TestKeys, bearer, mint
from tests.support.backends import BACKENDS, app_store

pytestmark = [pytest.mark.asyncio(loop_scope="module")]

Json = dict[str, Any]
CLINICIAN = "openid fhirUser user/*.cruds"
MUNICIPALITY = "http://hl7.dk/fhir/core/CodeSystem/dk-core-municipality-codes"
SOR = "urn:oid:1.2.208.176.1.1"
YDERNUMMER = "urn:oid:1.2.208.176.1.4"


def ref(text: str) -> Json:
    return {"reference": text}


WORLD: list[Json] = [
    {
        "resourceType": "Organization",
        "id": "kommune",
        "identifier": [{"system": MUNICIPALITY, "value": "0101"}],
    },
    {
        "resourceType": "Organization",
        "id": "home-nursing",
        "partOf": ref("Organization/kommune"),
        "identifier": [{"system": SOR, "value": "100000000005"}],
    },
    {
        "resourceType": "Organization",
        "id": "gp-clinic",
        "identifier": [{"system": YDERNUMMER, "value": "012345"}],
    },
    {"resourceType": "Practitioner", "id": "nurse"},
    {"resourceType": "Practitioner", "id": "gp"},
    {
        "resourceType": "PractitionerRole",
        "id": "nurse-role",
        "active": True,
        "practitioner": ref("Practitioner/nurse"),
        "organization": ref("Organization/home-nursing"),
    },
    {
        "resourceType": "PractitionerRole",
        "id": "gp-role",
        "active": True,
        "practitioner": ref("Practitioner/gp"),
        "organization": ref("Organization/gp-clinic"),
    },
]

DOCTOR = mint(CLINICIAN, fhirUser="PractitionerRole/doc-role")
"""The hospital doctor (Organization/ward, part of Organization/region): the sender."""
NURSE = mint(CLINICIAN, fhirUser="PractitionerRole/nurse-role")
"""A home nurse (Organization/home-nursing, part of Organization/kommune): the receiver."""
GP = mint(CLINICIAN, fhirUser="PractitionerRole/gp-role")
"""A GP of another clinic, with no care relationship to the citizens here."""


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def world(request: pytest.FixtureRequest, tmp_path_factory: Any) -> AsyncIterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("handover")
    settings = Settings(
        store_url=f"sqlite:///{tmp / 'fhir.db'}",
        auth="smart",
        required_profiles={},
        install_conformance=False,
    )
    revocations = Revocations()
    app = ServerApp(
        settings, app_store(str(request.param)), keys=TestKeys(), is_revoked=revocations.is_revoked
    )
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            admin = bearer(mint(ADMIN))
            for resource in [*DATA, *WORLD]:
                url = f"{resource['resourceType']}/{resource['id']}"
                resp = await client.put(url, json=resource, headers=admin)
                assert resp.status_code == 201, (url, resp.text)
            yield Server(client, revocations, app)
    finally:
        await app.shutdown()


async def citizen(w: Server, pid: str, team: bool = True) -> None:
    """Patient ``pid`` (the doctor is their GP, so the hospital doctor may write for them),
    with a shared care plan and, if ``team``, its care team naming the hospital doctor as the
    patient-responsible doctor."""
    resources: list[Json] = [
        {"resourceType": "Patient", "id": pid, "generalPractitioner": [ref("Practitioner/doc")]}
    ]
    plan: Json = {
        "resourceType": "CarePlan",
        "id": f"plan-{pid}",
        "status": "active",
        "intent": "plan",
        "title": "Fælles plan",
        "subject": ref(f"Patient/{pid}"),
    }
    if team:
        resources.append(
            {
                "resourceType": "CareTeam",
                "id": f"team-{pid}",
                "status": "active",
                "name": "Fælles team",
                "subject": ref(f"Patient/{pid}"),
                "managingOrganization": [ref("Organization/ward")],
                "participant": [
                    {
                        "role": [
                            {
                                "coding": [
                                    {"system": CARETEAM_ROLE, "code": "patient-responsible-doctor"}
                                ]
                            }
                        ],
                        "member": ref("PractitionerRole/doc-role"),
                    }
                ],
            }
        )
        plan["careTeam"] = [ref(f"CareTeam/team-{pid}")]
    resources.append(plan)
    for resource in resources:
        url = f"{resource['resourceType']}/{resource['id']}"
        resp = await w.send("PUT", url, mint(ADMIN), resource)
        assert resp.status_code in (200, 201), (url, resp.text)


def service_request(pid: str, performer: str = "Organization/home-nursing", **more: Any) -> Json:
    """S5: the hospital asks the municipality's home nursing for IV treatment at home."""
    return {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "priority": "routine",
        "code": {"text": "IV-behandling i eget hjem"},
        "subject": ref(f"Patient/{pid}"),
        "requester": ref("PractitionerRole/doc-role"),
        "performer": [ref(performer)],
        "basedOn": [ref(f"CarePlan/plan-{pid}")],
        **more,
    }


async def created(resp: httpx.Response) -> Json:
    assert resp.status_code in (200, 201), resp.text
    return resp.json()  # type: ignore[no-any-return]


async def tasks_for(w: Server, request_id: str, token: str = DOCTOR) -> list[Json]:
    resp = await w.get(f"Task?focus=ServiceRequest/{request_id}", token)
    assert resp.status_code == 200, resp.text
    return [e["resource"] for e in resp.json().get("entry", []) if e["search"]["mode"] == "match"]


def issue(resp: httpx.Response) -> Json:
    body = resp.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"][0]  # type: ignore[no-any-return]


REASON = {"text": "Ingen ledig kapacitet"}


async def move(w: Server, task: Json, status: str, token: str, **more: Any) -> httpx.Response:
    body = {**task, "status": status, **more}
    body.pop("meta", None)
    return await w.send("PUT", f"Task/{task['id']}", token, body)


# ---- the Task a ServiceRequest hands over ------------------------------------------------


async def test_a_request_to_another_organization_creates_its_task(world: Server) -> None:
    await citizen(world, "pc1")
    request = await created(
        await world.send("POST", "ServiceRequest", DOCTOR, service_request("pc1"))
    )
    (task,) = await tasks_for(world, request["id"])
    assert task["owner"] == ref("Organization/home-nursing")
    assert task["requester"] == ref("PractitionerRole/doc-role")
    assert (task["intent"], task["status"], task["for"]) == (
        "order",
        "requested",
        ref("Patient/pc1"),
    )
    assert task["basedOn"] == [ref(f"ServiceRequest/{request['id']}")]
    assert task["description"] == "IV-behandling i eget hjem"
    # the receiver sees the Task addressed to it
    assert [t["id"] for t in await tasks_for(world, request["id"], NURSE)] == [task["id"]]
    # written again, the request hands nothing over twice
    again = {**request, "priority": "asap"}
    again.pop("meta")
    await created(await world.send("PUT", f"ServiceRequest/{request['id']}", DOCTOR, again))
    assert [t["id"] for t in await tasks_for(world, request["id"])] == [task["id"]]


@pytest.mark.parametrize(
    "performer",
    ["Organization/ward", "PractitionerRole/doc-role", "Practitioner/doc"],
    ids=["own-organization", "own-role", "a-practitioner"],
)
async def test_no_task_within_the_organization_or_without_one(
    world: Server, performer: str
) -> None:
    await citizen(world, "pc2", team=False)
    body = service_request("pc2", performer)
    request = await created(await world.send("POST", "ServiceRequest", DOCTOR, body))
    assert await tasks_for(world, request["id"]) == []


async def test_a_draft_request_hands_over_when_it_becomes_active(world: Server) -> None:
    await citizen(world, "pc3", team=False)
    body = service_request("pc3", status="draft")
    request = await created(await world.send("POST", "ServiceRequest", DOCTOR, body))
    assert await tasks_for(world, request["id"]) == []
    sent = {**request, "status": "active"}
    sent.pop("meta")
    await created(await world.send("PUT", f"ServiceRequest/{request['id']}", DOCTOR, sent))
    assert [t["status"] for t in await tasks_for(world, request["id"])] == ["requested"]


@pytest.mark.parametrize("task_first", [False, True], ids=["request-first", "task-first"])
async def test_a_transaction_carrying_its_own_task_gets_no_second(
    world: Server, task_first: bool
) -> None:
    await citizen(world, "pc4", team=False)
    sr_url = "urn:uuid:5b1f0a52-6c1e-4f43-9a55-0d6f1f6e2a01"
    own_task = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "focus": ref(sr_url),
        "for": ref("Patient/pc4"),
        "requester": ref("PractitionerRole/doc-role"),
        "owner": ref("Organization/home-nursing"),
        "description": "Klientens egen opgave",
    }
    entries = [
        {
            "fullUrl": sr_url,
            "resource": service_request("pc4"),
            "request": {"method": "POST", "url": "ServiceRequest"},
        },
        {"resource": own_task, "request": {"method": "POST", "url": "Task"}},
    ]
    if task_first:
        entries.reverse()
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    resp = await world.send("POST", "", DOCTOR, bundle)
    assert resp.status_code == 200, resp.text
    locations = [e["response"]["location"] for e in resp.json()["entry"]]
    request_id = next(loc for loc in locations if loc.startswith("ServiceRequest/")).split("/")[1]
    task_id = next(loc for loc in locations if loc.startswith("Task/")).split("/")[1]
    found = await tasks_for(world, request_id)
    assert [(t["id"], t["description"]) for t in found] == [(task_id, "Klientens egen opgave")]


async def test_a_refused_transaction_leaves_neither_request_nor_task(world: Server) -> None:
    """The Task is written in the request's unit of work: a transaction refused after the
    request was written leaves neither."""
    await citizen(world, "pc5", team=False)
    patient = {"resourceType": "Patient", "id": "pc5"}
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": service_request("pc5", identifier=[{"system": "urn:x", "value": "rb"}]),
                "request": {"method": "POST", "url": "ServiceRequest"},
            },
            {
                "resource": patient,
                "request": {"method": "PUT", "url": "Patient/pc5", "ifMatch": 'W/"99"'},
            },
        ],
    }
    resp = await world.send("POST", "", DOCTOR, bundle)
    assert resp.status_code == 412, resp.text
    found = await world.get("ServiceRequest?identifier=urn:x|rb", mint(ADMIN))
    assert not found.json().get("entry")
    tasks = await world.get("Task?patient=Patient/pc5", mint(ADMIN))
    assert not tasks.json().get("entry")


@pytest.mark.parametrize(
    ("ended", "accepted", "expected"),
    [
        ("revoked", False, "cancelled"),
        ("revoked", True, "cancelled"),
        ("completed", False, "cancelled"),
        ("completed", True, "accepted"),  # the owner's to complete
        ("entered-in-error", False, "entered-in-error"),
    ],
)
async def test_an_ended_request_ends_its_open_task(
    world: Server, ended: str, accepted: bool, expected: str
) -> None:
    await citizen(world, "pc6")
    request = await created(
        await world.send("POST", "ServiceRequest", DOCTOR, service_request("pc6"))
    )
    (task,) = await tasks_for(world, request["id"])
    if accepted:
        assert (await move(world, task, "accepted", NURSE)).status_code == 200
    done = {**request, "status": ended}
    done.pop("meta")
    await created(await world.send("PUT", f"ServiceRequest/{request['id']}", DOCTOR, done))
    seen = (await world.get(f"Task/{task['id']}", DOCTOR)).json()
    assert seen["status"] == expected
    if expected != "accepted":
        assert ended in seen["statusReason"]["text"]
    if accepted:
        team = (await world.get("CareTeam/team-pc6", DOCTOR)).json()
        mine = [p for p in team["participant"] if p.get("extension")]
        assert mine[-1]["member"] == ref("Organization/home-nursing")
        assert bool(mine[-1]["period"].get("end")) == (expected == "cancelled")


# ---- the state machine: every transition, by the party allowed ----------------------------


def _token(party: str | None) -> str:
    return NURSE if party == "owner" else DOCTOR


async def _task_in(w: Server, status: str, owner: str = "Organization/home-nursing") -> Json:
    """A handed-over Task of the citizen ``pt`` in ``status``, created by the party that moves
    Tasks into it (a requester's status is anyone's to create)."""
    body: Json = {
        "resourceType": "Task",
        "status": status,
        "intent": "order",
        "focus": ref("ServiceRequest/sr-table"),
        "for": ref("Patient/pt"),
        "requester": ref("PractitionerRole/doc-role"),
        "owner": ref(owner),
    }
    if status in NEEDS_REASON:
        body["statusReason"] = REASON
    return await created(await w.send("POST", "Task", _token(MOVED_BY.get(status)), body))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def table(world: Server) -> Server:
    """The citizen whose Tasks the table moves, and the request they carry out."""
    await citizen(world, "pt", team=False)
    sr = {**service_request("pt"), "id": "sr-table"}
    await created(await world.send("PUT", "ServiceRequest/sr-table", mint(ADMIN), sr))
    return world


@pytest.mark.parametrize(("before", "after"), valid_transitions(), ids="{0[0]}->{0[1]}".format)
async def test_each_valid_transition(table: Server, before: str, after: str) -> None:
    task = await _task_in(table, before)
    extra = {"statusReason": REASON} if after in NEEDS_REASON else {}
    resp = await move(table, task, after, _token(MOVED_BY[after]), **extra)
    assert resp.status_code == 200, resp.text
    seen = await table.get(f"Task/{task['id']}", DOCTOR)  # the requester sees the state
    assert seen.json()["status"] == after


@pytest.mark.parametrize(("before", "after"), invalid_transitions(), ids="{0[0]}->{0[1]}".format)
async def test_every_invalid_transition_is_refused(table: Server, before: str, after: str) -> None:
    task = await _task_in(table, before)
    resp = await move(table, task, after, _token(MOVED_BY.get(after)), statusReason=REASON)
    assert resp.status_code == 422, resp.text
    found = issue(resp)
    assert (found["code"], found["expression"]) == ("business-rule", ["Task.status"])
    assert before in found["diagnostics"] and after in found["diagnostics"]
    assert (await table.get(f"Task/{task['id']}", DOCTOR)).json()["status"] == before


@pytest.mark.parametrize("status", sorted(NEEDS_REASON))
async def test_rejection_cancellation_and_failure_need_a_reason(table: Server, status: str) -> None:
    before = {"rejected": "requested", "cancelled": "requested", "failed": "in-progress"}[status]
    task = await _task_in(table, before)
    resp = await move(table, task, status, _token(MOVED_BY[status]))
    assert resp.status_code == 422, resp.text
    assert (issue(resp)["code"], issue(resp)["expression"]) == (
        "business-rule",
        ["Task.statusReason"],
    )
    assert (await table.get(f"Task/{task['id']}", DOCTOR)).json()["status"] == before


@pytest.mark.parametrize(
    ("before", "after", "token"),
    [
        ("requested", "accepted", DOCTOR),  # the requester may not accept for the receiver
        ("requested", "rejected", DOCTOR),
        ("accepted", "in-progress", DOCTOR),
        ("in-progress", "completed", DOCTOR),
        ("requested", "cancelled", NURSE),  # the receiver may not cancel the sender's request
        ("accepted", "cancelled", NURSE),
    ],
)
async def test_only_the_right_party_moves_a_task(
    table: Server, before: str, after: str, token: str
) -> None:
    task = await _task_in(table, before)
    resp = await move(table, task, after, token, statusReason=REASON)
    assert resp.status_code == 403, resp.text
    assert issue(resp)["expression"] == ["Task.status"]
    assert (await table.get(f"Task/{task['id']}", DOCTOR)).json()["status"] == before


async def test_a_sender_cannot_create_a_task_already_accepted_for_the_receiver(
    table: Server,
) -> None:
    body: Json = {
        "resourceType": "Task",
        "status": "accepted",
        "intent": "order",
        "focus": ref("ServiceRequest/sr-table"),
        "for": ref("Patient/pt"),
        "requester": ref("PractitionerRole/doc-role"),
        "owner": ref("Organization/home-nursing"),
    }
    resp = await table.send("POST", "Task", DOCTOR, body)
    assert (resp.status_code, issue(resp)["expression"]) == (403, ["Task.status"])
    assert (await table.send("POST", "Task", NURSE, body)).status_code == 201


async def test_a_unit_accepts_for_the_organization_it_is_part_of(table: Server) -> None:
    """A Task addressed to the municipality is accepted by its home-nursing unit
    (Organization.partOf); a unit of another organization may not."""
    task = await _task_in(table, "requested", owner="Organization/kommune")
    resp = await move(table, task, "accepted", NURSE)
    assert resp.status_code == 200, resp.text
    other = await _task_in(table, "requested", owner="Organization/region")
    resp = await move(table, other, "accepted", NURSE)
    assert resp.status_code == 403, resp.text


async def test_a_caller_who_may_not_see_the_task_learns_nothing(table: Server) -> None:
    """A GP with no care relationship to the citizen: the Task is answered as one that never
    existed would be (whatever the status asked for)."""
    task = await _task_in(table, "requested")
    accept = await move(table, task, "accepted", GP)
    never = await move(table, {**task, "id": "never-was"}, "accepted", GP)
    assert (accept.status_code, issue(accept)["code"]) == (never.status_code, issue(never)["code"])
    assert accept.status_code in (404, 405)
    assert (await table.get(f"Task/{task['id']}", GP)).status_code == 404
    assert (await table.get(f"Task/{task['id']}", DOCTOR)).json()["status"] == "requested"


async def test_the_requester_is_fixed_and_the_owner_while_received(table: Server) -> None:
    task = await _task_in(table, "received")
    resp = await move(table, task, "received", NURSE, owner=ref("Organization/region"))
    assert (resp.status_code, issue(resp)["expression"]) == (422, ["Task.owner"])
    resp = await move(table, task, "received", NURSE, requester=ref("Organization/home-nursing"))
    assert (resp.status_code, issue(resp)["expression"]) == (422, ["Task.requester"])


async def test_the_requester_may_readdress_a_requested_task(table: Server) -> None:
    task = await _task_in(table, "requested")
    resp = await move(table, task, "requested", NURSE, owner=ref("Organization/region"))
    assert (resp.status_code, issue(resp)["expression"]) == (403, ["Task.owner"])
    resp = await move(table, task, "requested", DOCTOR, owner=ref("Organization/region"))
    assert resp.status_code == 200, resp.text


async def test_a_task_without_owner_is_claimed_by_the_organization_that_takes_it(
    table: Server,
) -> None:
    """A Task addressed to no one is no handover yet: an organization claims it by naming
    itself as owner (never another), and then it is that owner's to move."""
    body: Json = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "focus": ref("ServiceRequest/sr-table"),
        "for": ref("Patient/pt"),
        "requester": ref("PractitionerRole/doc-role"),
    }
    task = await created(await table.send("POST", "Task", DOCTOR, body))
    resp = await move(table, task, "accepted", NURSE, owner=ref("Organization/region"))
    assert (resp.status_code, issue(resp)["expression"]) == (403, ["Task.owner"])
    resp = await move(table, task, "accepted", NURSE, owner=ref("Organization/home-nursing"))
    assert resp.status_code == 200, resp.text
    claimed = resp.json()
    assert (await move(table, claimed, "in-progress", DOCTOR)).status_code == 403
    assert (await move(table, claimed, "in-progress", NURSE)).status_code == 200


# ---- responsibility: the care team and the care plan -------------------------------------


def _roles(team: Json) -> list[tuple[str, str, bool]]:
    """(member, codes, ended) of every participant."""
    out = []
    for p in team.get("participant", []):
        codes = ",".join(
            f"{'ff' if c['system'] == CARETEAM_ROLE else 'handover'}:{c['code']}"
            for role in p.get("role", [])
            for c in role.get("coding", [])
        )
        out.append((p["member"]["reference"], codes, bool(p.get("period", {}).get("end"))))
    return out


async def test_s5_iv_treatment_at_home(world: Server) -> None:
    """S5: the hospital asks home nursing for IV treatment at home; until the nurses accept,
    nothing changes hands; on acceptance the care team shows home nursing responsible for the
    treatment at home while the hospital doctor keeps the medical responsibility (the total
    medication included), and the plan shows the activity performed by home nursing; the
    requester follows the Task to its end, which ends the nurses' responsibility."""
    await citizen(world, "bruno")
    request = await created(
        await world.send("POST", "ServiceRequest", DOCTOR, service_request("bruno"))
    )
    (task,) = await tasks_for(world, request["id"])
    team_before = (await world.get("CareTeam/team-bruno", DOCTOR)).json()
    plan_before = (await world.get("CarePlan/plan-bruno", DOCTOR)).json()
    assert _roles(team_before) == [
        ("PractitionerRole/doc-role", "ff:patient-responsible-doctor", False)
    ]
    assert not plan_before.get("activity")

    accepted = await move(world, task, "accepted", NURSE)
    assert accepted.status_code == 200, accepted.text
    team = (await world.get("CareTeam/team-bruno", DOCTOR)).json()
    assert _roles(team) == [
        ("PractitionerRole/doc-role", "ff:patient-responsible-doctor", False),
        ("Organization/home-nursing", "ff:member,handover:task", False),
    ]
    added = team["participant"][1]
    assert added["extension"] == [
        {"url": TASK_EXTENSION, "valueReference": ref(f"Task/{task['id']}")}
    ]
    assert added["period"]["start"]
    (activity,) = (await world.get("CarePlan/plan-bruno", DOCTOR)).json()["activity"]
    assert activity["detail"]["performer"] == [ref("Organization/home-nursing")]
    assert (activity["detail"]["status"], activity["detail"]["kind"]) == (
        "scheduled",
        "ServiceRequest",
    )

    current = (await world.get(f"Task/{task['id']}", NURSE)).json()
    assert (await move(world, current, "in-progress", NURSE)).status_code == 200
    (activity,) = (await world.get("CarePlan/plan-bruno", DOCTOR)).json()["activity"]
    assert activity["detail"]["status"] == "in-progress"
    current = (await world.get(f"Task/{task['id']}", NURSE)).json()
    assert (await move(world, current, "completed", NURSE)).status_code == 200
    seen = (await world.get(f"Task/{task['id']}", DOCTOR)).json()  # the requester sees it
    assert seen["status"] == "completed"
    team = (await world.get("CareTeam/team-bruno", DOCTOR)).json()
    assert _roles(team)[1] == ("Organization/home-nursing", "ff:member,handover:task", True)
    (activity,) = (await world.get("CarePlan/plan-bruno", DOCTOR)).json()["activity"]
    assert activity["detail"]["status"] == "completed"


async def test_s1_handover_of_the_medical_responsibility(world: Server) -> None:
    """S1/S4: a handover that hands the medical responsibility (the total medication
    included) over too: on acceptance the previous holder's period ends and the receiver holds
    it; a rejection (with its reason) changes nothing — the responsibility stays with the
    sender."""
    await citizen(world, "carl")
    medical = [
        {"url": RESPONSIBILITY, "valueCoding": {"system": RESPONSIBILITY, "code": "medical"}}
    ]
    body = service_request("carl", extension=medical)
    first = await created(await world.send("POST", "ServiceRequest", DOCTOR, body))
    (refused,) = await tasks_for(world, first["id"])
    assert refused["input"][0]["type"]["coding"][0]["code"] == "medical"
    resp = await move(world, refused, "rejected", NURSE, statusReason=REASON)
    assert resp.status_code == 200, resp.text
    team = (await world.get("CareTeam/team-carl", DOCTOR)).json()
    assert _roles(team) == [("PractitionerRole/doc-role", "ff:patient-responsible-doctor", False)]

    second = await created(await world.send("POST", "ServiceRequest", DOCTOR, body))
    (task,) = await tasks_for(world, second["id"])
    assert (await move(world, task, "accepted", NURSE)).status_code == 200
    team = (await world.get("CareTeam/team-carl", DOCTOR)).json()
    assert _roles(team) == [
        ("PractitionerRole/doc-role", "ff:patient-responsible-doctor", True),
        ("Organization/home-nursing", "ff:member,handover:task", False),
        ("Organization/home-nursing", "ff:patient-responsible-doctor,handover:medical", False),
    ]
    assert team["participant"][0]["period"]["end"] == team["participant"][2]["period"]["start"]


async def test_a_refused_acceptance_changes_no_team(world: Server) -> None:
    """The Task and the team change in one unit of work: an acceptance refused (here: by the
    requester, who may not accept) leaves the team as it was."""
    await citizen(world, "dora")
    request = await created(
        await world.send("POST", "ServiceRequest", DOCTOR, service_request("dora"))
    )
    (task,) = await tasks_for(world, request["id"])
    assert (await move(world, task, "accepted", DOCTOR)).status_code == 403
    team = (await world.get("CareTeam/team-dora", DOCTOR)).json()
    assert team["meta"]["versionId"] == "1"
    assert (await world.get(f"Task/{task['id']}", DOCTOR)).json()["status"] == "requested"


async def test_s4_discharge_home_task_accepted_by_home_nursing(world: Server) -> None:
    """S4: the hospital discharges the citizen; the care team's organization is told by a Task
    (as a received HospitalNotification files it: focus the stay, no requester); home nursing
    accepts it and the plan shows the follow-up as theirs, the team their responsibility — the
    hospital doctor still holding the medical one."""
    await citizen(world, "erik")
    stay = {
        "resourceType": "Encounter",
        "id": "stay-erik",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": ref("Patient/erik"),
        "serviceProvider": ref("Organization/ward"),
        "period": {"start": "2026-11-28T08:00:00+01:00", "end": "2026-12-03T11:00:00+01:00"},
    }
    await created(await world.send("PUT", "Encounter/stay-erik", mint(ADMIN), stay))
    told = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "code": {"text": "Advis om sygehusophold"},
        "description": "Opfølgende hjemmebesøg efter udskrivelse",
        "focus": ref("Encounter/stay-erik"),
        "for": ref("Patient/erik"),
        "owner": ref("Organization/home-nursing"),
    }
    task = await created(await world.send("POST", "Task", mint(ADMIN), told))
    assert (await move(world, task, "accepted", NURSE)).status_code == 200
    (activity,) = (await world.get("CarePlan/plan-erik", DOCTOR)).json()["activity"]
    assert activity["detail"]["performer"] == [ref("Organization/home-nursing")]
    assert activity["detail"]["description"] == "Opfølgende hjemmebesøg efter udskrivelse"
    assert (activity["detail"]["kind"], activity["detail"]["status"]) == ("Task", "scheduled")
    team = (await world.get("CareTeam/team-erik", DOCTOR)).json()
    assert _roles(team) == [
        ("PractitionerRole/doc-role", "ff:patient-responsible-doctor", False),
        ("Organization/home-nursing", "ff:member,handover:task", False),
    ]
