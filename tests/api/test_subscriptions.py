"""Topic-based subscriptions (R4 Subscriptions Backport IG) over real HTTP on both stores: a
rest-hook receiver on loopback gets the handshake and each topic's notifications, numbered and
in order, retried when it fails; nothing for other writes or for a rolled-back transaction."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fhir_server.subscriptions.spec import FILTER_CRITERIA, HEARTBEAT_PERIOD, PAYLOAD_CONTENT
from fhir_server.subscriptions.topics import TOPIC_BASE
from tests.support.receiver import Receiver, event_numbers, focus, notification_type

FAST = {"subscription_poll_seconds": 0.02, "subscription_retry_seconds": 0.05}


def subscription(
    topic: str,
    endpoint: str,
    filters: str | None = None,
    content: str = "id-only",
    headers: tuple[str, ...] = (),
    channel: str = "rest-hook",
) -> dict[str, Any]:
    sub: dict[str, Any] = {
        "resourceType": "Subscription",
        "meta": {
            "profile": [
                "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
                "backport-subscription"
            ]
        },
        "status": "requested",
        "reason": "test",
        "criteria": TOPIC_BASE + topic,
        "channel": {
            "type": channel,
            "payload": "application/fhir+json",
            "_payload": {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": content}]},
        },
    }
    if channel == "rest-hook":
        sub["channel"]["endpoint"] = endpoint
    if headers:
        sub["channel"]["header"] = list(headers)
    if filters:
        sub["_criteria"] = {"extension": [{"url": FILTER_CRITERIA, "valueString": filters}]}
    return sub


async def create(client: httpx.AsyncClient, resource: dict[str, Any]) -> str:
    r = await client.post(resource["resourceType"], json=resource)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def subscribe(client: httpx.AsyncClient, receiver: Receiver, *args: Any, **kw: Any) -> str:
    """A rest-hook subscription, active once the receiver took its handshake."""
    sid = await create(client, subscription(args[0], receiver.url, *args[1:], **kw))
    await receiver.wait_for(1, "handshake")
    for _ in range(200):
        if (await client.get(f"Subscription/{sid}")).json()["status"] == "active":
            return sid
        await receiver_pause()
    raise AssertionError("never active")


async def receiver_pause() -> None:
    import asyncio

    await asyncio.sleep(0.02)


def careplan(patient: str, status: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "status": status,
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient}"},
    }


@pytest.fixture
async def fast(make_client: Any) -> httpx.AsyncClient:
    return await make_client(**FAST)


async def test_careplan_topic_notifies_its_patient_only_numbered_in_order(
    fast: httpx.AsyncClient,
) -> None:
    a = await create(fast, {"resourceType": "Patient"})
    b = await create(fast, {"resourceType": "Patient"})
    async with Receiver() as receiver:
        sid = await subscribe(
            fast,
            receiver,
            "careplan-changed",
            f"CarePlan?patient=Patient/{a}",
            headers=("Authorization: Bearer hook-secret",),
        )
        handshake = receiver.taken()[0]
        assert handshake["type"] == "history"
        assert handshake["entry"][0]["resource"]["resourceType"] == "Parameters"
        other = await create(fast, careplan(b))  # another citizen's: no event
        first = await create(fast, careplan(a))
        plan = careplan(a, "completed")
        plan["id"] = first
        assert (await fast.put(f"CarePlan/{first}", json=plan)).status_code == 200
        await create(fast, {"resourceType": "Task", "status": "requested", "intent": "order"})
        got = await receiver.wait_for(2)
        assert [n for b_ in got for n in event_numbers(b_)][:2] == [1, 2]
        assert all(f == f"CarePlan/{first}" for b_ in got for f in focus(b_))
        assert f"CarePlan/{other}" not in [f for b_ in got for f in focus(b_)]
        headers = receiver.received[-1][0]
        assert headers["authorization"] == "Bearer hook-secret"
        status = (await fast.get(f"Subscription/{sid}/$status")).json()
        params = {p["name"]: p for p in status["entry"][0]["resource"]["parameter"]}
        assert params["events-since-subscription-start"]["valueString"] == "2"
        assert params["status"]["valueCode"] == "active"


async def test_a_failing_endpoint_is_retried_until_it_takes_the_notification(
    fast: httpx.AsyncClient,
) -> None:
    a = await create(fast, {"resourceType": "Patient"})
    async with Receiver() as receiver:
        await subscribe(fast, receiver, "careplan-changed", content="full-resource")
        receiver.statuses = [500, 503]
        plan = await create(fast, careplan(a))
        got = await receiver.wait_for(1)
        assert [s for _, _, s in receiver.received[1:]] == [500, 503, 200]
        assert event_numbers(got[0]) == [1]
        entry = got[0]["entry"][1]
        assert entry["resource"]["id"] == plan
        assert entry["resource"]["resourceType"] == "CarePlan"


async def test_a_rolled_back_transaction_notifies_nothing(fast: httpx.AsyncClient) -> None:
    a = await create(fast, {"resourceType": "Patient"})
    async with Receiver() as receiver:
        sid = await subscribe(fast, receiver, "careplan-changed")
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {"resource": careplan(a), "request": {"method": "POST", "url": "CarePlan"}},
                {  # fails: version 7 does not exist, the whole transaction rolls back
                    "resource": {**careplan(a), "id": "nope"},
                    "request": {"method": "PUT", "url": "CarePlan/nope", "ifMatch": 'W/"7"'},
                },
            ],
        }
        r = await fast.post("", json=bundle)
        assert r.status_code >= 400
        await create(fast, careplan(a))
        got = await receiver.wait_for(1)
        assert event_numbers(got[0]) == [1]  # the rolled-back CarePlan was never numbered
        events = (await fast.get(f"Subscription/{sid}/$events")).json()
        assert events["type"] == "history"
        assert event_numbers(events) == [1]


TOPIC_CASES = [
    # topic, filter, a write that fires, a write that does not
    ("servicerequest-for-performer", "performer", "ServiceRequest"),
    ("task-owner", "owner", "Task"),
    ("communication-for-recipient", "recipient", "Communication"),
]


def _for_org(type_: str, org: str, patient: str) -> dict[str, Any]:
    ref = {"reference": f"Organization/{org}"}
    subject = {"reference": f"Patient/{patient}"}
    if type_ == "ServiceRequest":
        return {
            "resourceType": type_,
            "status": "active",
            "intent": "order",
            "subject": subject,
            "performer": [ref],
        }
    if type_ == "Task":
        return {
            "resourceType": type_,
            "status": "requested",
            "intent": "order",
            "for": subject,
            "owner": ref,
        }
    return {"resourceType": type_, "status": "completed", "subject": subject, "recipient": [ref]}


@pytest.mark.parametrize(("topic", "name", "type_"), TOPIC_CASES)
async def test_organization_topics_fire_for_their_organization_only(
    fast: httpx.AsyncClient, topic: str, name: str, type_: str
) -> None:
    mine = await create(fast, {"resourceType": "Organization", "name": "mine"})
    theirs = await create(fast, {"resourceType": "Organization", "name": "theirs"})
    p = await create(fast, {"resourceType": "Patient"})
    async with Receiver() as receiver:
        await subscribe(fast, receiver, topic, f"{type_}?{name}=Organization/{mine}")
        await create(fast, _for_org(type_, theirs, p))
        wanted = await create(fast, _for_org(type_, mine, p))
        got = await receiver.wait_for(1)
        assert focus(got[0]) == [f"{type_}/{wanted}"]


async def test_encounter_topic_fires_on_admission_leave_and_discharge_only(
    fast: httpx.AsyncClient,
) -> None:
    p = await create(fast, {"resourceType": "Patient"})
    async with Receiver() as receiver:
        await subscribe(fast, receiver, "encounter-admission", f"Encounter?patient=Patient/{p}")
        enc = {
            "resourceType": "Encounter",
            "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": f"Patient/{p}"},
        }
        eid = await create(fast, enc)
        enc["id"] = eid
        enc["priority"] = {"text": "same status: no event"}
        await fast.put(f"Encounter/{eid}", json=enc)
        enc["status"] = "onleave"
        await fast.put(f"Encounter/{eid}", json=enc)
        enc["status"] = "finished"
        await fast.put(f"Encounter/{eid}", json=enc)
        got = await receiver.wait_for(3)
        numbers = [n for b in got for n in event_numbers(b)]
        assert numbers == [1, 2, 3]
        versions = [e["response"]["etag"] for b in got for e in b["entry"][1:]]
        assert versions == ['W/"1"', 'W/"3"', 'W/"4"']


async def test_medicationstatement_topic_fires_on_change(fast: httpx.AsyncClient) -> None:
    p = await create(fast, {"resourceType": "Patient"})
    async with Receiver() as receiver:
        await subscribe(
            fast,
            receiver,
            "medicationstatement-changed",
            f"MedicationStatement?patient=Patient/{p}",
        )
        ms = {
            "resourceType": "MedicationStatement",
            "status": "active",
            "medicationCodeableConcept": {"text": "paracetamol"},
            "subject": {"reference": f"Patient/{p}"},
        }
        mid = await create(fast, ms)
        assert (await fast.delete(f"MedicationStatement/{mid}")).status_code in (200, 204)
        got = await receiver.wait_for(2)
        methods = [e["request"]["method"] for b in got for e in b["entry"][1:]]
        assert methods == ["POST", "DELETE"]


async def test_a_subscription_to_an_unknown_topic_or_filter_is_refused(
    fast: httpx.AsyncClient,
) -> None:
    r = await fast.post("Subscription", json=subscription("nope", "http://127.0.0.1:1/"))
    assert r.status_code == 400
    assert r.json()["issue"][0]["expression"] == ["Subscription.criteria"]
    bad = subscription("careplan-changed", "http://127.0.0.1:1/", "CarePlan?owner=x")
    r = await fast.post("Subscription", json=bad)
    assert r.status_code == 400
    no_endpoint = subscription("careplan-changed", "ftp://x")
    r = await fast.post("Subscription", json=no_endpoint)
    assert r.status_code == 400
    assert r.json()["issue"][0]["expression"] == ["Subscription.channel.endpoint"]


async def test_heartbeat_when_nothing_happens(fast: httpx.AsyncClient) -> None:
    async with Receiver() as receiver:
        sub = subscription("careplan-changed", receiver.url)
        sub["channel"]["extension"] = [{"url": HEARTBEAT_PERIOD, "valueUnsignedInt": 1}]
        await create(fast, sub)
        await receiver.wait_for(1, "heartbeat")
        assert notification_type(receiver.taken()[0]) == "handshake"


async def test_the_capability_statement_declares_topics_and_operations(
    client: httpx.AsyncClient,
) -> None:
    cs = (await client.get("metadata")).json()
    sub = next(r for r in cs["rest"][0]["resource"] if r["type"] == "Subscription")
    topics = {e["valueCanonical"] for e in sub["extension"]}
    assert topics == {TOPIC_BASE + name for name in TOPIC_NAMES}
    assert all(
        e["url"].endswith("capabilitystatement-subscriptiontopic-canonical")
        for e in sub["extension"]
    )
    assert any(p.endswith("/backport-subscription") for p in sub["supportedProfile"])
    ops = {o["name"]: o["definition"] for o in sub["operation"]}
    assert ops["status"].endswith("/OperationDefinition/backport-subscription-status")
    assert ops["events"].endswith("/OperationDefinition/backport-subscription-events")
    assert "get-ws-binding-token" in ops


TOPIC_NAMES = {
    "careplan-changed",
    "servicerequest-for-performer",
    "task-owner",
    "encounter-admission",
    "communication-for-recipient",
    "medicationstatement-changed",
}


async def test_events_takes_numbers_and_content(fast: httpx.AsyncClient) -> None:
    a = await create(fast, {"resourceType": "Patient"})
    async with Receiver() as receiver:
        sid = await subscribe(fast, receiver, "careplan-changed")
        plans = [await create(fast, careplan(a)) for _ in range(3)]
        await receiver.wait_for(3)
        r = await fast.get(
            f"Subscription/{sid}/$events",
            params={"eventsSinceNumber": "2", "eventsUntilNumber": "3", "content": "full-resource"},
        )
        assert r.status_code == 200
        assert event_numbers(r.json()) == [2, 3]
        assert [e["resource"]["id"] for e in r.json()["entry"][1:]] == plans[1:]
        bad = await fast.get(f"Subscription/{sid}/$events", params={"eventsSinceNumber": "x"})
        assert bad.status_code == 400
        assert bad.json()["issue"][0]["expression"] == ["eventsSinceNumber"]
        token = await fast.post(f"Subscription/{sid}/$get-ws-binding-token")
        assert token.status_code == 400  # a rest-hook subscription binds no websocket
        assert (await fast.get("Subscription/nope/$status")).status_code == 404


async def test_a_burst_of_concurrent_writes_is_notified_whole_and_in_order(
    fast: httpx.AsyncClient,
) -> None:
    """Writes committing while the worker dispatches: none is dropped for not being readable
    yet by the worker's reads (it waits for the next round), and the numbers follow the order
    of the commits."""
    import asyncio

    a = await create(fast, {"resourceType": "Patient"})
    async with Receiver() as receiver:
        await subscribe(fast, receiver, "careplan-changed")
        made: list[str] = []
        for _ in range(4):
            made += await asyncio.gather(*(create(fast, careplan(a)) for _ in range(25)))
            await asyncio.sleep(0.01)
        got = await receiver.wait_for(len(made))
        numbers = [n for b in got for n in event_numbers(b)]
        assert numbers == list(range(1, len(made) + 1))
        assert sorted(f for b in got for f in focus(b)) == sorted(f"CarePlan/{m}" for m in made)


async def test_empty_payload_tells_numbers_only(fast: httpx.AsyncClient) -> None:
    a = await create(fast, {"resourceType": "Patient"})
    async with Receiver() as receiver:
        await subscribe(fast, receiver, "careplan-changed", content="empty")
        await create(fast, careplan(a))
        got = await receiver.wait_for(1)
        assert event_numbers(got[0]) == [1]
        assert focus(got[0]) == []
        assert len(got[0]["entry"]) == 1  # the status Parameters only
