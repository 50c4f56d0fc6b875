"""``POST [base]/$process-message`` (http://hl7.org/fhir/R4/messageheader-operation-process-message.html)
for MedCom messages, synchronous: the answer is always a MedCom Acknowledgement Bundle (200) —
``ok``, ``fatal-error`` (content or validation: nothing is stored) or ``transient-error``
(a technical failure here: nothing is stored, the sender resends) — except for an
Acknowledgement, which is never acknowledged (KR2), and for a body that is no message at all
(no MessageHeader with an id: there is nothing an Acknowledgement could name), a 400.

The caller is a system client (a backend service registered with its organization); it needs
``c`` on Bundle (``system/Bundle.c``), and what the message becomes is written through the
access seam as any write is (docs/medcom.md lists the scopes). The body is read through the
codecs (`FhirRequest.document`), so JSON and XML alike.
"""

from __future__ import annotations

import logging
from contextlib import suppress

import orjson

from fhir_server import fhir_json
from fhir_server.errors import Invalid, Issue, NotSupported, Unprocessable, operation_outcome
from fhir_server.interactions.context import Context, FhirResult
from fhir_server.operations import Operation
from fhir_server.operations.inputs import Inputs
from fhir_server.store.base import UnitOfWork, VersionConflict
from medcom import reliable
from medcom.acknowledgement import FATAL, OK, TRANSIENT, acknowledgement
from medcom.codes import ACKNOWLEDGEMENT, OPERATION_OUTCOME_CODES
from medcom.inbound import Handler, handler_for
from medcom.inbound.checks import (
    envelope_problems,
    profile_problems,
    receiver_problems,
    sender_refusal,
)
from medcom.inbound.message import Message, Problem, Rejected, processing

log = logging.getLogger("medcom")


async def process_message(
    ctx: Context, inputs: Inputs, type_: str | None, id_: str | None
) -> FhirResult:
    ctx.access.require("Bundle", "c")
    bundle = inputs.resource("content") or inputs.body
    message = Message.of(bundle)
    if message is None:
        raise Invalid(
            "$process-message needs a message Bundle whose MessageHeader has an id",
            ["Bundle.entry.resource.ofType(MessageHeader).id"],
        )
    processing(message)
    refusal = await sender_refusal(ctx, message)
    if refusal is not None:
        raise refusal  # before anything is looked up for it: not even a known answer
    if message.event == ACKNOWLEDGEMENT:
        return await _acknowledgement(ctx, message)
    seen = await reliable.answered(ctx, message.header_id)
    if seen is not None:
        envelope = message.envelope_id
        new_envelope = envelope is not None and not await reliable.envelope_seen(ctx, envelope)
        reliable.log_duplicate(message.header_id, new_envelope)
        if new_envelope and envelope is not None:
            with suppress(VersionConflict):  # a concurrent duplicate in it recorded it first
                await ctx.write(lambda uow: reliable.arrived_in(uow, seen, envelope))
        return _answer(reliable.answer(seen))
    try:
        return await _process(ctx, message)
    except VersionConflict:  # a concurrent delivery of the message was answered first
        first = await reliable.answered(ctx, message.header_id)
        if first is None:
            return _transient(message, RuntimeError("conflict"))
        reliable.log_duplicate(message.header_id, False)
        return _answer(reliable.answer(first))
    except Exception as err:  # a technical failure: the sender should resend later
        return _transient(message, err)


async def _process(ctx: Context, message: Message) -> FhirResult:
    """A message not seen before: checked, handled, answered and the answer remembered."""
    try:
        problems = await _problems(ctx, message)
        if problems:
            return await _answer_once(ctx, message, FATAL, problems)
        handler = handler_for(message.event)
        if handler is None:
            problem = Problem(
                "This server does not receive messages of this event code",
                f"Bundle.entry[{message.header_index}].resource.eventCoding",
                (OPERATION_OUTCOME_CODES, "MSG_UNKNOWN_TYPE"),
                "not-supported",
            )
            return await _answer_once(ctx, message, FATAL, [problem])
        return await _handled(ctx, message, handler)
    except Rejected as rejected:
        return await _answer_once(ctx, message, FATAL, rejected.problems)


async def _problems(ctx: Context, message: Message) -> list[Problem]:
    problems = envelope_problems(message)
    problems += profile_problems(message)
    if message.envelope_id is not None and await reliable.envelope_seen(ctx, message.envelope_id):
        problems.append(
            Problem(
                "This Bundle.id was used by another message: envelope ids are never reused",
                "Bundle.id",
                (OPERATION_OUTCOME_CODES, "MSG_DUPLICATE_ID"),
                "duplicate",
            )
        )
    receiver, _ = await receiver_problems(ctx, message)
    return problems + receiver


async def _handled(ctx: Context, message: Message, handler: Handler) -> FhirResult:
    async def work(uow: UnitOfWork) -> bytes:
        result = await handler(ctx, message.bundle)
        ack = acknowledgement(message, OK, result.notes)
        return reliable.answer(await reliable.keep(uow, ack, message.envelope_id))

    return _answer(await ctx.write(work))


async def _answer_once(
    ctx: Context, message: Message, code: str, problems: list[Problem]
) -> FhirResult:
    """Answer with ``code`` and remember the answer (nothing else is stored)."""
    ack = acknowledgement(message, code, problems)

    async def work(uow: UnitOfWork) -> bytes:
        return reliable.answer(await reliable.keep(uow, ack, message.envelope_id))

    return _answer(await ctx.write(work))


def _transient(message: Message, err: Exception) -> FhirResult:
    """A technical failure: answered transient-error and not remembered, so the sender's
    resend is processed anew. Logged by kind only (its text may quote the message)."""
    log.error("MedCom message %s: technical failure (%s)", message.header_id, type(err).__name__)
    problem = Problem(
        "A technical error occurred at the receiver; resend the message later",
        "Bundle",
        (OPERATION_OUTCOME_CODES, "MSG_BAD_FORMAT"),
        "transient",
    )
    return _answer(fhir_json.dumps(acknowledgement(message, TRANSIENT, [problem])))


async def _acknowledgement(ctx: Context, message: Message) -> FhirResult:
    """An Acknowledgement is handled (by whoever registered the event) and never acknowledged:
    the answer is an OperationOutcome."""
    handler = handler_for(ACKNOWLEDGEMENT)
    if handler is None:
        raise NotSupported(
            "This server does not process Acknowledgements (it sent no messages)",
            [f"Bundle.entry[{message.header_index}].resource.eventCoding"],
        )
    try:
        await ctx.write(lambda uow: handler(ctx, message.bundle))
    except Rejected as rejected:  # refused, and still not acknowledged: an OperationOutcome
        issues = [Issue(p.code, p.text, (p.expression,)) for p in rejected.problems]
        raise Unprocessable(issues[0].diagnostics, issues=issues) from rejected
    issue = Issue("informational", "Acknowledgement received", (), "information")
    return FhirResult(200, body=orjson.dumps(operation_outcome([issue])))


def _answer(body: bytes) -> FhirResult:
    return FhirResult(200, body=body)


PROCESS_MESSAGE = Operation(
    "process-message",
    frozenset({"system"}),
    None,
    process_message,
    affects_state=True,
    definition="http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message",
    scope_letters="c",
)
