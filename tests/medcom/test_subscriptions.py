"""A HospitalNotification fires the Encounter topic (admitted, on leave, discharged) as a direct
Encounter write does: `$process-message` files the Encounter in the unit of work that journals
the change, on every store."""

from __future__ import annotations

from tests.api.test_subscriptions import subscription
from tests.auth.conftest import ADMIN, mint
from tests.medcom.conftest import HN_PATIENT, Medcom, ack_of
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
