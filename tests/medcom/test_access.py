"""Who may call `$process-message`, and that what a message writes is checked as any write
is (the access seam): a backend service registered with its organization."""

from __future__ import annotations

from tests.auth.conftest import bearer, mint
from tests.medcom.conftest import HERLEV, HN_PATIENT, SENDER_SCOPES, Medcom, ack_of, example


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


async def test_a_caller_acting_for_another_organization_cannot_send_as_the_sender(
    medcom: Medcom,
) -> None:
    """The MessageHeader.sender is a claim in the body: a backend registered with one
    organization cannot deliver a message in another's name — not a new one, and not a
    redelivery of one already received (which would hand it that message's Acknowledgement)."""
    impostor = bearer(mint(SENDER_SCOPES, organization_id=f"Organization/{HERLEV}"))
    counts = await medcom.counts()
    message = example("cc-new-A.json")
    resp = await medcom.client.post("$process-message", json=message, headers=impostor)
    assert resp.status_code == 403, resp.text
    issue = resp.json()["issue"][0]
    assert issue["code"] == "forbidden"
    assert issue["expression"] == ["Bundle.entry[0].resource.sender"]
    assert await medcom.counts() == counts
    assert ack_of(await medcom.send(message))[0] == "ok"  # the real sender's is filed
    again = await medcom.client.post("$process-message", json=message, headers=impostor)
    assert again.status_code == 403


async def test_an_organization_sends_for_its_sub_units(medcom: Medcom) -> None:
    """The region's own service may deliver the messages of its departments (partOf)."""
    team = {
        "resourceType": "CareTeam",
        "id": "region-team",
        "status": "active",
        "subject": {"reference": f"Patient/{HN_PATIENT}"},
        "participant": [{"member": {"reference": "Organization/region-h"}}],
    }
    put = await medcom.client.put("CareTeam/region-team", json=team, headers=medcom.admin)
    assert put.status_code == 201, put.text  # the region, too, cares for the citizen
    region = bearer(mint(SENDER_SCOPES, organization_id="Organization/region-h"))
    resp = await medcom.client.post(
        "$process-message", json=example("cc-new-A.json"), headers=region
    )
    assert ack_of(resp)[0] == "ok"
