"""Inbound MedCom messages (`POST [base]/$process-message`): the checks, reliable messaging, the
handler of each message type and the Acknowledgement that answers it (`operation`).

Handlers are registered by the MessageHeader.eventCoding code: ``register(code, handler)``; a
handler is ``async (ctx, bundle) -> HandlerResult``, called inside the message's unit of work
(``ctx.uow``: everything it writes is one atomic step with the Acknowledgement record) after
the message passed its profile and the message-level checks. It raises
`medcom.inbound.message.Rejected` for content it cannot accept (a fatal-error; its writes are
rolled back). CareCommunication and HospitalNotification are registered here; the
Acknowledgement handler (the delivery status of an outbound message) by `medcom.outbound`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fhir_server.interactions.context import Context
from medcom.inbound.message import Problem


@dataclass(slots=True)
class HandlerResult:
    written: list[str] = field(default_factory=list)
    """``Type/id`` of what the message became here (docs, tests, the log's counts)."""
    notes: list[Problem] = field(default_factory=list)
    """Informational issues an ``ok`` Acknowledgement carries (none usually)."""


Handler = Callable[[Context, dict[str, Any]], Awaitable[HandlerResult]]

_HANDLERS: dict[str, Handler] = {}


def register(event: str, handler: Handler) -> None:
    """Make ``handler`` process messages whose MessageHeader.eventCoding code is ``event``."""
    _HANDLERS[event] = handler


def handler_for(event: str | None) -> Handler | None:
    return _HANDLERS.get(event or "")
