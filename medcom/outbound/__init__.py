"""Outbound MedCom messages (docs/medcom.md, "Outbound"): CareCommunication rendered from the
shared record, HospitalNotification from an Encounter change, the ``$medcom-…`` operations that
build them and put them in the outbox (`medcom.outbox`), delivered by `medcom.delivery`; and
the handler of the Acknowledgements that answer them (registered with `medcom.inbound` under
the event code ``acknowledgement-message``)."""

from __future__ import annotations

from typing import Any

from fhir_server.errors import Issue, Unprocessable
from fhir_server.interactions.context import Context
from fhir_server.write_checks import profile_issues
from medcom.codes import ACK_MESSAGE, ACKNOWLEDGEMENT
from medcom.inbound import HandlerResult, register
from medcom.outbound.operations import CARE_COMMUNICATION, HOSPITAL_NOTIFICATION
from medcom.outbox import acknowledge

OPERATIONS = (CARE_COMMUNICATION, HOSPITAL_NOTIFICATION)
"""The operations the bootstrap adds to the server's router."""


async def acknowledgement_received(ctx: Context, bundle: dict[str, Any]) -> HandlerResult:
    """An Acknowledgement posted to ``$process-message`` (from a VANS gateway, or a receiver
    answering later): valid against the Acknowledgement profile, it sets the delivery status
    of the message it answers (`medcom.outbox.acknowledge`); one that answers nothing this
    server sent, or not from that message's receiver, changes nothing. Never acknowledged."""
    issues = profile_issues(bundle, [ACK_MESSAGE], ctx.services.checks)
    errors = [i for i in issues if i.severity in ("error", "fatal")]
    if errors:
        raise Unprocessable(
            "The Acknowledgement is not valid against its profile",
            issues=[Issue(i.code, i.diagnostics, i.expression, i.severity) for i in errors],
        )
    header = bundle["entry"][0]["resource"]
    acked = str(header.get("response", {}).get("identifier", ""))
    done = await acknowledge(ctx, bundle)
    return HandlerResult(written=[f"Task/{acked}"] if done else [])


register(ACKNOWLEDGEMENT, acknowledgement_received)
