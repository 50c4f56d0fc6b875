"""The delivery worker (docs/medcom.md, "Delivery"): a task in the server process (started
and stopped with it, `fhir_server/app.py`) that takes the outbox's entries
(`medcom.outbox`) to their receivers' endpoints and records their Acknowledgements.

Each attempt is decided and recorded first (its envelope id, when, claimed by this worker for
`Settings.medcom_delivery_timeout_seconds`), then transmitted, then marked transmitted. A
worker killed between the first and the last step leaves an attempt not marked transmitted: once
its claim runs out, the next worker transmits the *same* envelope again, which the receiver's
reliable messaging answers with the first Acknowledgement and stores nothing twice — so no
message is lost and none is duplicated. A transmitted message without an Acknowledgement is
resent after `Settings.medcom_resend_seconds` with a new Bundle.id (the MessageHeader.id stays),
at most `Settings.medcom_max_resends` times; after the last one's silence it is failed.

Endpoints (`Settings.medcom_endpoints`, keyed by the receiver's SOR code): an HTTP
``$process-message`` URL, whose response is the Acknowledgement; or ``file:///dir`` — a VANS
gateway's drop directory, the message written as ``<Bundle.id>.json`` (atomically: a temporary
name, then renamed), its Acknowledgement coming back later through ``$process-message``
(`acknowledge`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import httpx
import orjson

from fhir_server.config import Settings
from fhir_server.interactions.context import Context
from fhir_server.services import Services
from fhir_server.store.base import Store
from medcom.outbound.narrative import narrate
from medcom.outbox import (
    Delivery,
    acknowledge,
    change,
    instant,
    message,
    new_envelope,
    open_deliveries,
    worker_context,
)

log = logging.getLogger("medcom.delivery")

Clock = Callable[[], float]


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        services: Services,
        clock: Clock = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``clock`` and ``transport``: what tests control (time, the receiver)."""
        self.store = store
        self.settings = settings
        self.services = services
        self.clock = clock
        self.transport = transport
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="medcom-delivery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next round tries again; nothing personal is logged
                log.exception("the MedCom delivery round failed")
            await asyncio.sleep(self.settings.medcom_poll_seconds)

    async def run_once(self) -> None:
        """One round over the open outbox entries."""
        ctx = worker_context(self.store, self.settings, self.services)
        for delivery in await open_deliveries(ctx):
            try:
                await self._step(ctx, delivery)
            except Exception:
                log.exception("delivery of outbox entry Task/%s failed", delivery.id)

    async def _step(self, ctx: Context, d: Delivery) -> None:
        now = self.clock()
        s = self.settings
        claim = instant(now + s.medcom_delivery_timeout_seconds)
        if d.claimed_until > now:
            return  # another worker's attempt under way
        if d.status == "queued":
            taken = await change(
                ctx,
                d,
                "sent",
                attempts=1,
                sent=instant(now),
                transmitted=False,
                **{"claimed-until": claim},
            )
        elif not d.transmitted:  # its worker died before it transmitted: the same envelope
            taken = await change(ctx, d, "sent", **{"claimed-until": claim})
        elif now - d.sent < s.medcom_resend_seconds:
            return
        elif d.attempts >= 1 + s.medcom_max_resends:
            await change(ctx, d, "failed")
            log.warning(
                "outbox entry Task/%s failed: no Acknowledgement after %d sends", d.id, d.attempts
            )
            return
        else:
            taken = await change(
                ctx,
                d,
                "sent",
                envelope=new_envelope(),
                attempts=d.attempts + 1,
                sent=instant(now),
                transmitted=False,
                **{"claimed-until": claim},
            )
        if taken is not None:
            await self._transmit(ctx, taken)

    async def _transmit(self, ctx: Context, d: Delivery) -> None:
        bundle = message(d)
        bundle["id"] = d.envelope
        _stamp_sent(bundle, str(d.out("sent")))
        target = self.settings.medcom_endpoints.get(d.key)
        ack: dict[str, Any] | None = None
        if target is None:
            log.warning("outbox entry Task/%s: no endpoint is configured for its receiver", d.id)
        elif target.startswith("file:"):
            _drop(Path(unquote(urlparse(target).path)), bundle)
        else:
            ack = await self._post(target, self.settings.medcom_endpoint_tokens.get(d.key), bundle)
        after = await change(ctx, d, "sent", transmitted=True, **{"claimed-until": None})
        if ack is not None and after is not None:
            await acknowledge(ctx, ack)

    async def _post(
        self, url: str, token: str | None, bundle: dict[str, Any]
    ) -> dict[str, Any] | None:
        headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            async with httpx.AsyncClient(
                transport=self.transport, timeout=self.settings.medcom_delivery_timeout_seconds
            ) as client:
                response = await client.post(url, content=orjson.dumps(bundle), headers=headers)
        except httpx.HTTPError as err:
            log.warning("a MedCom message could not be transmitted: %s", type(err).__name__)
            return None
        try:
            doc = response.json()
        except ValueError:
            return None
        return doc if isinstance(doc, dict) and doc.get("resourceType") == "Bundle" else None


def _stamp_sent(bundle: dict[str, Any], sent: str) -> None:
    """The newest Provenance (this message's own, the last entry) says when it was sent."""
    for entry in reversed(bundle.get("entry", [])):
        resource = entry.get("resource", {})
        if resource.get("resourceType") == "Provenance":
            resource["recorded"] = sent
            narrate(resource)
            return


def _drop(directory: Path, bundle: dict[str, Any]) -> None:
    """``<Bundle.id>.json`` in the gateway's directory, whole or not at all: written under a
    temporary name, synced, then renamed (a gateway never picks up half a file; a second
    transmission of the same envelope replaces the first)."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{bundle['id']}.json"
    temp = directory / f".{bundle['id']}.json.tmp"
    with open(temp, "wb") as f:
        f.write(orjson.dumps(bundle))
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, final)
