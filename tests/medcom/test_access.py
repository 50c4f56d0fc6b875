"""Who may call `$process-message`, and that what a message writes is checked as any write
is (the access seam): a backend service registered with its organization."""

from __future__ import annotations

from tests.auth.conftest import bearer, mint
from tests.medcom.conftest import Medcom, ack_of, example


async def test_without_bundle_create_the_operation_is_refused(medcom: Medcom) -> None:
    token = bearer(mint("system/Communication.c system/Patient.rs"))
    counts = await medcom.counts()
    resp = await medcom.client.post(
        "$process-message", json=example("cc-new-A.json"), headers=token
    )
    assert resp.status_code == 403
    assert resp.json()["issue"][0]["code"] == "forbidden"
    assert await medcom.counts() == counts


async def test_without_a_token_the_operation_is_refused(medcom: Medcom) -> None:
    resp = await medcom.client.post("$process-message", json=example("cc-new-A.json"))
    assert resp.status_code == 401


async def test_what_the_message_writes_needs_the_callers_permission(medcom: Medcom) -> None:
    """A caller that may post messages but not create Communications: the message cannot be
    filed — a fatal-error naming the refusal — and nothing is stored."""
    token = bearer(mint("system/Bundle.c system/Patient.rs"))
    counts = await medcom.counts()
    resp = await medcom.client.post(
        "$process-message", json=example("cc-new-A.json"), headers=token
    )
    code, outcome = ack_of(resp)
    assert code == "fatal-error"
    assert outcome["issue"][0]["code"] == "forbidden"
    assert await medcom.counts() == counts
