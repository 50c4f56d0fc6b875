"""Subscriptions under SMART authorization, on every store: a subscription only ever carries
what its owner may read (decided through the owner's grant when the event is numbered and again
when it is delivered), and a client manages its own Subscriptions only."""

from __future__ import annotations

import asyncio
from typing import Any

from fhir_server.subscriptions.spec import OWNER
from tests.api.test_subscriptions import careplan, subscription
from tests.auth.conftest import ADMIN, Server, ids, mint
from tests.support.receiver import Receiver, event_numbers, focus

OWN = "system/Subscription.cruds"


async def _active(server: Server, token: str, sid: str) -> None:
    for _ in range(500):
        if (await server.get(f"Subscription/{sid}", token)).json()["status"] == "active":
            return
        await asyncio.sleep(0.02)
    raise AssertionError("never active")


async def test_a_citizen_is_notified_of_their_own_care_plans_only(server: Server) -> None:
    citizen = mint("user/CarePlan.rs user/Subscription.cruds", fhirUser="Patient/p1")
    admin = mint(ADMIN)
    async with Receiver() as receiver:
        r = await server.send(
            "POST", "Subscription", citizen, subscription("careplan-changed", receiver.url)
        )
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        await _active(server, citizen, sid)
        hidden = await server.send("POST", "CarePlan", admin, careplan("p2"))
        shown = await server.send("POST", "CarePlan", admin, careplan("p1"))
        assert hidden.status_code == shown.status_code == 201
        got = await receiver.wait_for(1)
        assert event_numbers(got[0]) == [1]  # the other citizen's plan was never numbered
        assert focus(got[0]) == [f"CarePlan/{shown.json()['id']}"]
        events = await server.get(f"Subscription/{sid}/$events", citizen)
        assert event_numbers(events.json()) == [1]
        # the notification is in the citizen's audit trail as a read of the care plan (the
        # worker records it once the receiver took it)
        for _ in range(250):
            if "user-1" in await _readers(server, admin, f"CarePlan/{shown.json()['id']}"):
                break
            await asyncio.sleep(0.02)
        assert "user-1" in await _readers(server, admin, f"CarePlan/{shown.json()['id']}")


async def _readers(server: Server, token: str, ref: str) -> set[str]:
    """Who the audit trail says read ``ref``."""
    trail = (await server.get("AuditEvent", token, params={"entity": ref})).json()
    return {
        a.get("who", {}).get("identifier", {}).get("value")
        for e in trail.get("entry", [])
        if any(c.get("code") == "read" for c in e["resource"].get("subtype", []))
        for a in e["resource"]["agent"]
    }


async def test_a_client_manages_its_own_subscriptions_only(server: Server) -> None:
    mine = mint(OWN)
    other = mint(OWN, client_id="app-2", sub="service-2")
    body: dict[str, Any] = subscription("careplan-changed", "http://127.0.0.1:9/hook")
    body["status"] = "off"
    body["extension"] = [{"url": OWNER, "extension": [{"url": "sub", "valueString": "forged"}]}]
    r = await server.send("POST", "Subscription", mine, body)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    owner = next(e for e in r.json()["extension"] if e["url"] == OWNER)
    assert {"url": "sub", "valueString": "user-1"} in owner["extension"]
    assert {"url": "client_id", "valueString": "app-1"} in owner["extension"]
    assert (await server.get(f"Subscription/{sid}", mine)).status_code == 200
    assert ids((await server.get("Subscription", mine)).json()) == [f"Subscription/{sid}"]
    # another client: as if it did not exist
    assert (await server.get(f"Subscription/{sid}", other)).status_code == 404
    assert ids((await server.get("Subscription", other)).json()) == []
    assert (await server.get(f"Subscription/{sid}/$status", other)).status_code == 404
    changed = {**r.json(), "status": "requested"}
    # answered as for an id nobody uses (update-as-create refused: nothing tells it is taken)
    assert (await server.send("PUT", f"Subscription/{sid}", other, changed)).status_code == 405
    assert (await server.send("DELETE", f"Subscription/{sid}", other)).status_code in (200, 204)
    assert (await server.get(f"Subscription/{sid}", mine)).json()["status"] == "off"
    # a patient/ scope manages none
    patient = mint("patient/Subscription.cruds", patient="p1", fhirUser="Patient/p1")
    assert (await server.send("POST", "Subscription", patient, body)).status_code == 403
