"""A HospitalNotification fires the Encounter topic (admitted, on leave, discharged) as a direct
Encounter write does: `$process-message` files the Encounter in the unit of work that journals
the change, on every store. And S4 end to end: the hospital's discharge reaches the
municipality's home nursing as a Task it is notified of, home nursing accepts it, and the plan
and the team show whose the follow-up is."""

from __future__ import annotations

from tests.api.test_subscriptions import subscription
from tests.auth.conftest import ADMIN, mint
from tests.medcom.conftest import HERLEV, HN_PATIENT, Medcom, ack_of
from tests.medcom.test_hospitalnotification import _header_id, notification
from tests.support.receiver import Receiver, event_numbers, focus


async def test_hospital_notifications_notify_the_encounter_subscription(medcom: Medcom) -> None:
    admin = {"Authorization": f"Bearer {mint(ADMIN)}"}
    async with Receiver() as receiver:
        sub = subscription(
            "encounter-admission", receiver.url, f"Encounter?patient=Patient/{HN_PATIENT}"
        )
        r = await medcom.client.post("Subscription", json=sub, headers=admin)
        assert r.status_code == 201, r.text
        await receiver.wait_for(1, "handshake")
        admit = notification("admit-inpatient", "in-progress")
        steps = [
            admit,
            notification("start-leave-inpatient", "onleave", _header_id(admit)),
            notification("discharge-inpatient-home", "finished", _header_id(admit)),
        ]
        for message in steps:
            code, outcome = ack_of(await medcom.send(message))
            assert code == "ok", outcome
        got = await receiver.wait_for(3)
        assert [n for b in got for n in event_numbers(b)] == [1, 2, 3]
        encounters = {f for b in got for f in focus(b)}
        assert len(encounters) == 1 and next(iter(encounters)).startswith("Encounter/")


HOME_NURSING_SCOPES = (
    "system/Task.rus system/Subscription.cruds system/CarePlan.rs system/CareTeam.rs"
    " system/Encounter.rs system/Patient.rs"
)
"""The municipality's home-nursing system (Plejecenter Herlev's backend service)."""


async def test_s4_discharge_is_handed_to_home_nursing_who_accept_it(medcom: Medcom) -> None:
    admin = {"Authorization": f"Bearer {mint(ADMIN)}"}
    plan = {
        "resourceType": "CarePlan",
        "id": "plan-hn",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": f"Patient/{HN_PATIENT}"},
    }
    r = await medcom.client.put("CarePlan/plan-hn", json=plan, headers=admin)
    assert r.status_code == 201, r.text
    herlev = {
        "Authorization": "Bearer "
        + mint(HOME_NURSING_SCOPES, organization_id=f"Organization/{HERLEV}")
    }
    async with Receiver() as receiver:
        sub = subscription("task-owner", receiver.url, f"Task?owner=Organization/{HERLEV}")
        r = await medcom.client.post("Subscription", json=sub, headers=herlev)
        assert r.status_code == 201, r.text
        await receiver.wait_for(1, "handshake")
        admit = notification("admit-inpatient", "in-progress")
        discharge = notification("discharge-inpatient-home", "finished", _header_id(admit))
        for message in (admit, discharge):
            code, outcome = ack_of(await medcom.send(message))
            assert code == "ok", outcome
        got = await receiver.wait_for(2)
        numbered = sorted(
            (n, f) for b in got for n, f in zip(event_numbers(b), focus(b), strict=True)
        )
        assert [n for n, _ in numbered] == [1, 2]
        told = numbered[1][1]  # the discharge's Task, addressed to home nursing
        assert told.startswith("Task/")
        task = (await medcom.client.get(told, headers=herlev)).json()
        home = {"reference": f"Organization/{HERLEV}"}
        assert (task["status"], task["owner"]) == ("requested", home)
        assert "activity" not in await medcom.read("CarePlan/plan-hn")  # the sender's until then

        accepted = {k: v for k, v in task.items() if k != "meta"} | {"status": "accepted"}
        r = await medcom.client.put(told, json=accepted, headers=herlev)
        assert r.status_code == 200, r.text
        got = await receiver.wait_for(3)  # the acceptance is an event of the topic too
        last = max((n, f) for b in got for n, f in zip(event_numbers(b), focus(b), strict=True))
        assert last == (3, told)
    (activity,) = (await medcom.read("CarePlan/plan-hn"))["activity"]
    assert activity["detail"]["performer"] == [{"reference": f"Organization/{HERLEV}"}]
    [team] = await medcom.search(f"CareTeam?subject=Patient/{HN_PATIENT}")
    taken_on = [p for p in team["participant"] if p["member"] == home and "period" in p]
    assert len(taken_on) == 1 and taken_on[0]["period"]["start"]  # from the acceptance on
    assert {"reference": told} in [e.get("valueReference") for e in taken_on[0]["extension"]]
