"""The subscriptions' worker: a task of every server process (started and stopped with it,
`fhir_server/app.py`) that turns the journal of changes into numbered events per subscription
and delivers them (docs/subscriptions.md).

1. **Dispatch.** Every change of a topic's type was journalled in the `CHANGES` outbox queue in
   the unit of work that made it (`Store.journal_changes`): kept if and only if it committed.
   In one unit of work the worker takes a batch of them, and for each active subscription whose
   topic it triggers, whose filters it passes and whose owner may read the version, appends an
   event to the subscription's own queue (`queue_of`): the queue's number is the event number.
   Taking the changes and appending the events commit together, so a crash loses nothing and
   numbers nothing twice.
2. **Delivery.** Per subscription, the events after its mark (delivered up to), in order, at
   most ``max-count`` per notification; the mark moves only after the receiver took them, so a
   notification is delivered at least once. A failure is retried after 1, 2, 4, … s (up to
   ``subscription_retry_max_seconds``); the Subscription is ``error`` meanwhile and ``active``
   again after the next success. What the owner may not see (any more) at delivery time is told
   without its focus: access is decided again, through the owner's grant
   (`fhir_server.access.Authenticator.grant_of`), for every notification.
3. **Handshake and heartbeat.** A ``requested`` Subscription gets a handshake first: ``active``
   if the endpoint took it, ``error`` if not (retried like a notification). A heartbeat goes out
   when nothing was sent for ``heartbeatPeriod`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from fhir_server.access import READ, UNRESTRICTED, Access, Authenticator, Grant
from fhir_server.config import Settings, console_base
from fhir_server.interactions.common import every
from fhir_server.interactions.context import Context
from fhir_server.search.resolve import build_query
from fhir_server.store.base import CHANGES, Store, UnitOfWork, in_transaction
from fhir_server.stored import StoredResource
from fhir_server.subscriptions.hub import queue_of
from fhir_server.subscriptions.notification import Event, bundle
from fhir_server.subscriptions.spec import Spec
from fhir_server.subscriptions.topics import TOPIC_TYPES, matches

if TYPE_CHECKING:
    from fhir_server.services import Services

_log = logging.getLogger(__name__)

BATCH = 200
"""Journalled changes dispatched per unit of work."""
REFRESH_SECONDS = 1.0
"""How long the list of subscriptions is reused (another process's new one waits that long)."""
LIVE = ("requested", "active", "error")
UNREADABLE_ROUNDS = 200
"""Rounds a journalled change whose versions cannot be read waits before it is skipped (a
version removed from the store since; normally the next round reads it)."""

Send = Callable[[Spec, dict[str, Any]], Awaitable[bool]]
"""Deliver a notification Bundle over a channel; whether the receiver took it."""


@dataclass
class _State:
    """What this process keeps of a subscription's delivery (its mark is in the store)."""

    failures: int = 0
    next_try: float = 0.0
    last_sent: float = field(default_factory=time.monotonic)


class SubscriptionWorker:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        services: Services,
        authenticator: Authenticator,
    ) -> None:
        self.store = store
        self.settings = settings
        self.services = services
        self.authenticator = authenticator
        self.base = (settings.base_url or console_base(settings)).rstrip("/")
        self.client = httpx.AsyncClient()
        self.channels: dict[str, Send] = {"rest-hook": self._post}
        """Channel type → how a notification is sent (the websocket one is added by
        `fhir_server.subscriptions.websocket`)."""
        self.ready: dict[str, Callable[[Spec], bool]] = {}
        """Channel type → whether a subscription can be sent to now (a websocket: bound)."""
        self._specs: list[Spec] = []
        self._specs_at = -REFRESH_SECONDS
        self._states: dict[str, _State] = {}
        self._task: asyncio.Future[None] | None = None
        self._serving: dict[str, asyncio.Future[None]] = {}
        self._unreadable: dict[int, int] = {}
        """Journalled change number → rounds its versions could not be read in."""
        self.wake = asyncio.Event()
        store.journal_changes(TOPIC_TYPES | {"Subscription"})

    def context(self, grant: Grant) -> Context:
        return Context(self.store, self.settings, grant, self.base, services=self.services)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._serving.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None
        self._serving.clear()
        await self.client.aclose()

    async def _run(self) -> None:
        while True:
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next round tries again; nothing is taken meanwhile
                _log.exception("subscription delivery round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.settings.subscription_poll_seconds)
            self.wake.clear()

    async def round(self) -> None:
        """One pass: dispatch what was journalled, then deliver what waits."""
        heads = await self.store.outbox_heads()
        n, mark = heads.get(CHANGES, (0, 0))
        while n > mark:
            taken = await self.dispatch()
            if taken is None:
                break  # what waits is not readable yet: next round
            mark = taken
            heads = await self.store.outbox_heads()
        for spec in await self.subscriptions():
            busy = self._serving.get(spec.id)
            if busy is not None and not busy.done():
                continue  # its last delivery is still under way (a slow endpoint)
            head = heads.get(queue_of(spec.id), (0, 0))
            self._serving[spec.id] = asyncio.ensure_future(self._serve_logged(spec, head))

    async def _serve_logged(self, spec: Spec, head: tuple[int, int]) -> None:
        """Each subscription is served by a task of its own, one at a time (so in order), and
        a slow endpoint holds up no other subscription."""
        try:
            await self._serve(spec, head)
        except Exception:  # tried again next round; its events stay queued meanwhile
            _log.exception("delivering subscription %s failed", spec.id)

    async def subscriptions(self, refresh: bool = False) -> list[Spec]:
        if refresh or time.monotonic() - self._specs_at >= REFRESH_SECONDS:
            ctx = self.context(UNRESTRICTED)  # the server acting for itself
            query = await build_query(
                _search_all(ctx),
                "Subscription",
                [("status", ",".join(LIVE))],
                params=ctx.params,
                default_count=10_000,
                max_count=10_000,
            )
            specs = []
            for stored in await every(ctx, query):
                try:
                    specs.append(Spec.of(orjson.loads(stored.content or b"{}")))
                except (KeyError, ValueError, TypeError):
                    continue  # written before this server offered its topic
            self._specs, self._specs_at = specs, time.monotonic()
        return self._specs

    async def spec(self, subscription_id: str) -> Spec | None:
        found = await self.subscriptions(refresh=True)
        return next((s for s in found if s.id == subscription_id), None)

    async def handshake_socket(self, subscription_id: str, send: Callable[[str], Any]) -> None:
        """The handshake a socket gets when it binds to an active subscription (a requested
        one gets it from the worker, which then makes it active)."""
        spec = await self.spec(subscription_id)
        if spec is None or spec.status == "requested":
            return
        head = (await self.store.outbox_heads()).get(queue_of(spec.id), (0, 0))
        body = bundle(spec, self.base, "handshake", spec.status, head[0], [])
        await send(orjson.dumps(body).decode())
        self._state(spec).last_sent = time.monotonic()

    # ---- dispatch -------------------------------------------------------------------------

    async def dispatch(self) -> int | None:
        """Turn a batch of journalled changes into events; returns the journal's new mark, or
        None when nothing could be taken yet (below)."""
        specs = await self.subscriptions()
        grants: dict[str, Grant] = {}
        refresh = False

        async def work(uow: UnitOfWork) -> int | None:
            nonlocal refresh
            taken = None
            for n, change in await uow.outbox_items(CHANGES, 0, BATCH):
                if change["type"] == "Subscription":
                    refresh = True
                    if change["deleted"]:  # its events go with it
                        await uow.drop_outbox(queue_of(change["id"]))
                elif not await self._dispatch_one(uow, change, specs, grants):
                    tries = self._unreadable[n] = self._unreadable.get(n, 0) + 1
                    if tries < UNREADABLE_ROUNDS:
                        break  # not readable yet: it and those after it wait for the next round
                    _log.warning("journalled change %d has no readable version: skipped", n)
                self._unreadable.pop(n, None)
                taken = n
            if taken is not None:
                await uow.trim_outbox(CHANGES, taken)
                await uow.mark_outbox(CHANGES, taken)
            return taken

        mark = await in_transaction(self.store, work)
        if refresh:
            await self.subscriptions(refresh=True)
        return mark

    async def _dispatch_one(
        self, uow: UnitOfWork, change: dict[str, Any], specs: list[Spec], grants: dict[str, Grant]
    ) -> bool:
        """Append the events of one change; False (and nothing appended) when its versions
        cannot be read yet: the store's reads may lag the unit of work by the commits of this
        loop iteration (SQLite's read snapshot), and a change is never dropped for that."""
        type_, id_ = change["type"], change["id"]
        interested = [s for s in specs if s.topic.type == type_ and s.status != "requested"]
        if not interested:
            return True
        after = None if change["deleted"] else await self.store.vread(type_, id_, change["version"])
        before = await self.store.vread(type_, id_, change["before"]) if change["before"] else None
        if (after is None and not change["deleted"]) or (before is None and change["before"]):
            return False
        after_doc = _doc(after)
        before_doc = _doc(before)
        for spec in interested:
            if not spec.topic.trigger(before_doc, after_doc):
                continue
            doc = after_doc or before_doc
            if doc is None or not matches(spec.topic, spec.filters, doc):
                continue
            event_of = after or before
            assert event_of is not None
            if await self._visible(spec, event_of, grants) is None:
                continue  # never numbered: the owner learns nothing of it, not even a gap
            item = {"type": type_, "id": id_, "version": change["version"], "ts": change["ts"]}
            if change["deleted"]:
                item["deleted"] = True
            await uow.append_outbox(queue_of(spec.id), item)
        return True

    async def _grant(self, spec: Spec, grants: dict[str, Grant]) -> Grant:
        grant = grants.get(spec.id)
        if grant is None:
            grant = grants[spec.id] = await self.authenticator.grant_of(spec.owner)
        return grant

    async def _visible(
        self, spec: Spec, stored: StoredResource, grants: dict[str, Grant]
    ) -> StoredResource | None:
        grant = await self._grant(spec, grants)
        return await self.context(grant).access.admit(stored, READ)

    # ---- delivery -------------------------------------------------------------------------

    def _state(self, spec: Spec) -> _State:
        state = self._states.get(spec.id)
        if state is None:
            state = self._states[spec.id] = _State()
        return state

    async def _serve(self, spec: Spec, head: tuple[int, int]) -> None:
        state = self._state(spec)
        now = time.monotonic()
        if now < state.next_try:
            return
        ready = self.ready.get(spec.channel)
        if ready is not None and not ready(spec):
            return  # a websocket nobody has bound: the events wait
        if spec.status == "requested":
            await self._attempt(spec, state, "handshake", [], head[0])
            return
        n, mark = head
        if n > mark:
            await self._deliver(spec, state, mark)
        elif spec.status == "error" or (
            spec.heartbeat and now - state.last_sent >= spec.heartbeat
        ):  # an endpoint in error is tried again with a heartbeat when nothing waits
            await self._attempt(spec, state, "heartbeat", [], n)

    async def _deliver(self, spec: Spec, state: _State, mark: int) -> None:
        async def read(uow: UnitOfWork) -> list[tuple[int, dict[str, Any]]]:
            return await uow.outbox_items(queue_of(spec.id), mark, spec.max_count)

        items = await in_transaction(self.store, read)
        if not items:
            return
        access = self.context(await self.authenticator.grant_of(spec.owner)).access
        events = await self.events(access, items)
        if await self._attempt(spec, state, "event-notification", events, items[-1][0]):
            # the owner's audit trail records what the notification disclosed, as for a read
            await access.settle("read", spec.topic.type, "", 200)

    async def events(self, access: Access, items: list[tuple[int, dict[str, Any]]]) -> list[Event]:
        """The events of ``items`` as ``access`` (the owner's) may see them now."""
        out = []
        for n, item in items:
            stored = await self.store.vread(item["type"], item["id"], item["version"])
            shown = await access.admit(stored, READ) if stored is not None else None
            out.append(Event(n, int(item["ts"]), shown))
        return out

    async def _attempt(
        self, spec: Spec, state: _State, kind: str, events: list[Event], upto: int
    ) -> bool:
        """Send one notification and record the outcome; whether the receiver took it."""
        status = "active" if spec.status == "requested" else spec.status
        body = bundle(spec, self.base, kind, status, upto, events)
        send = self.channels.get(spec.channel)
        ok = send is not None and await send(spec, body)
        state.last_sent = time.monotonic()
        if ok:
            state.failures, state.next_try = 0, 0.0
            await self._settle(spec, "active", upto if kind == "event-notification" else None)
        else:
            state.failures += 1
            delay = self.settings.subscription_retry_seconds * 2 ** (state.failures - 1)
            state.next_try = time.monotonic() + min(
                delay, self.settings.subscription_retry_max_seconds
            )
            await self._settle(spec, "error", None)
        return ok

    async def _settle(self, spec: Spec, status: str, delivered: int | None) -> None:
        """Record a delivery (the mark; old events beyond what ``$events`` keeps trimmed) and the
        Subscription's status if it changed, in one unit of work."""
        keep = self.settings.subscription_keep_events
        changed = spec.status != status

        async def work(uow: UnitOfWork) -> None:
            if delivered is not None:
                queue = queue_of(spec.id)
                await uow.mark_outbox(queue, delivered)
                if delivered > keep:
                    await uow.trim_outbox(queue, delivered - keep)
            if changed:
                await set_status(uow, spec.id, status)

        if delivered is None and not changed:
            return
        await in_transaction(self.store, work)
        if changed:
            await self.subscriptions(refresh=True)

    async def _post(self, spec: Spec, body: dict[str, Any]) -> bool:
        """rest-hook: POST the Bundle to the endpoint with the channel's headers; a 2xx is
        taken. Nothing of the endpoint's answer or the headers (secrets) is logged."""
        assert spec.endpoint is not None
        headers = {"Content-Type": "application/fhir+json", **dict(spec.headers)}
        try:
            response = await self.client.post(
                spec.endpoint, content=orjson.dumps(body), headers=headers, timeout=spec.timeout
            )
        except httpx.HTTPError as err:
            _log.warning("subscription %s: delivery failed (%s)", spec.id, type(err).__name__)
            return False
        if not 200 <= response.status_code < 300:
            _log.warning("subscription %s: endpoint answered %d", spec.id, response.status_code)
            return False
        return True


async def set_status(uow: UnitOfWork, subscription_id: str, status: str) -> None:
    """The server's own change of a Subscription's status (``error`` naming nothing of why)."""
    current = await uow.read("Subscription", subscription_id)
    if current is None or current.deleted or current.content is None:
        return
    doc = orjson.loads(current.content)
    if doc.get("status") in (status, "off"):
        return
    doc["status"] = status
    if status == "error":
        doc["error"] = "The endpoint did not take the last notification; it is retried"
    else:
        doc.pop("error", None)
    await uow.write("Subscription", subscription_id, doc, method="PUT")


def _doc(stored: StoredResource | None) -> dict[str, Any] | None:
    if stored is None or stored.deleted or stored.content is None:
        return None
    doc: dict[str, Any] = orjson.loads(stored.content)
    return doc


def _search_all(ctx: Context) -> Callable[[Any], Awaitable[list[StoredResource]]]:
    async def search(query: Any) -> list[StoredResource]:
        return await every(ctx, query)

    return search
