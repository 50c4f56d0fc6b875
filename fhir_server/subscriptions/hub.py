"""What a server process holds of its subscriptions while it runs: the worker, and the
websocket channel's binding tokens and bound sockets (the backport's binding-token flow:
``$get-ws-binding-token`` gives a short-lived token; the client opens the websocket endpoint
and sends ``bind-with-token <token>``; notifications then come over the socket)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from fhir_server.subscriptions.spec import Spec
    from fhir_server.subscriptions.worker import SubscriptionWorker

TOKEN_SECONDS = 60.0
"""How long a binding token may be used to bind a socket."""
WEBSOCKET_PATH = "/subscription-ws"
"""The websocket endpoint, under the FHIR base."""

SendText = Callable[[str], Awaitable[None]]


def queue_of(subscription_id: str) -> str:
    """The outbox queue of a subscription's events (`fhir_server.store.base.UnitOfWork
    .append_outbox`): its numbers are the event numbers."""
    return f"Subscription/{subscription_id}"


@dataclass
class Hub:
    worker: SubscriptionWorker | None = None
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    """Binding token → (subscription id, expiry as epoch seconds). Tokens live in the process
    that issued them: behind several processes, the socket must reach the same one."""
    sockets: dict[str, list[SendText]] = field(default_factory=dict)
    """Subscription id → the sockets bound to it in this process."""

    def issue(self, subscription_id: str) -> tuple[str, float]:
        now = time.time()
        self.tokens = {t: v for t, v in self.tokens.items() if v[1] > now}
        token = secrets.token_urlsafe(32)
        expires = now + TOKEN_SECONDS
        self.tokens[token] = (subscription_id, expires)
        return token, expires

    def redeem(self, token: str) -> str | None:
        """The subscription a token binds to (once), or None if unknown or expired."""
        found = self.tokens.pop(token, None)
        if found is None or found[1] < time.time():
            return None
        return found[0]

    def bind(self, subscription_id: str, send: SendText) -> None:
        self.sockets.setdefault(subscription_id, []).append(send)
        if self.worker is not None:
            self.worker.wake.set()

    def unbind(self, subscription_id: str, send: SendText) -> None:
        bound = self.sockets.get(subscription_id, [])
        if send in bound:
            bound.remove(send)
        if not bound:
            self.sockets.pop(subscription_id, None)

    def bound(self, spec: Spec) -> bool:
        return bool(self.sockets.get(spec.id))

    async def send(self, spec: Spec, body: dict[str, Any]) -> bool:
        """Send over every socket bound to ``spec``; taken if one of them took it."""
        text = orjson.dumps(body).decode()
        ok = False
        for send in list(self.sockets.get(spec.id, [])):
            try:
                await send(text)
                ok = True
            except Exception:  # the socket went away: unbound when its handler ends
                self.unbind(spec.id, send)
        return ok
