"""The backport IG's operations on Subscriptions: ``$status`` (the subscription's status as a
notification's status would tell it), ``$events`` (its past events by number, as a
``query-event`` notification Bundle) and ``$get-ws-binding-token`` (a token to bind a websocket
to it). Each acts on a Subscription the caller may read — its own (`auth.access.scopes`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from fhir_server.access import READ
from fhir_server.errors import Invalid, NotFound
from fhir_server.interactions.context import Context, FhirResult
from fhir_server.operations import Operation
from fhir_server.operations.inputs import Inputs
from fhir_server.store.base import UnitOfWork, in_transaction
from fhir_server.subscriptions.hub import WEBSOCKET_PATH, queue_of
from fhir_server.subscriptions.notification import bundle, status_parameters
from fhir_server.subscriptions.spec import CONTENTS, IG, Spec

if TYPE_CHECKING:
    from fhir_server.subscriptions.worker import SubscriptionWorker

MAX_EVENTS = 1000


async def _subscription(ctx: Context, id_: str | None) -> Spec:
    stored = await ctx.access.admit(await ctx.read("Subscription", id_ or ""), READ)
    if stored is None or stored.deleted or stored.content is None:
        raise NotFound(f"Subscription/{id_} is not known", [f"Subscription/{id_}"])
    try:
        return Spec.of(orjson.loads(stored.content))
    except (KeyError, ValueError, TypeError) as err:
        raise Invalid(f"Subscription/{id_} names no topic this server offers") from err


def _worker(ctx: Context) -> SubscriptionWorker:
    worker = ctx.services.subscriptions.worker
    if worker is None:
        raise Invalid("This server does not deliver subscriptions (FHIR_SUBSCRIPTIONS=false)")
    return worker


async def _head(ctx: Context, spec: Spec) -> tuple[int, int]:
    async def read(uow: UnitOfWork) -> tuple[int, int]:
        return await uow.outbox_state(queue_of(spec.id))

    return await in_transaction(ctx.store, read)


def _ok(resource: dict[str, Any]) -> FhirResult:
    return FhirResult(200, body=orjson.dumps(resource))


async def status(ctx: Context, inputs: Inputs, type_: str | None, id_: str | None) -> FhirResult:
    spec = await _subscription(ctx, id_)
    n, _ = await _head(ctx, spec)
    params = status_parameters(spec, ctx.base_url, "query-status", spec.status, n, [])
    return _ok(
        {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "type": "searchset",
            "total": 1,
            "entry": [
                {
                    "fullUrl": f"urn:uuid:{params['id']}",
                    "resource": params,
                    "search": {"mode": "match"},
                }
            ],
        }
    )


def _number(inputs: Inputs, name: str) -> int | None:
    value = inputs.value(name, "String")
    if value is None:
        return None
    if not str(value).isdigit():
        raise Invalid(f"{name} must be an event number (a non-negative integer)", [name])
    return int(value)


async def events(ctx: Context, inputs: Inputs, type_: str | None, id_: str | None) -> FhirResult:
    spec = await _subscription(ctx, id_)
    worker = _worker(ctx)
    since = _number(inputs, "eventsSinceNumber") or 1
    until = _number(inputs, "eventsUntilNumber")
    content = inputs.value("content", "Code")
    if content is not None and content not in CONTENTS:
        raise Invalid(f"content must be one of {', '.join(CONTENTS)}", ["content"])

    async def read(uow: UnitOfWork) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
        n, _ = await uow.outbox_state(queue_of(spec.id))
        return n, await uow.outbox_items(queue_of(spec.id), since - 1, MAX_EVENTS, until)

    n, items = await in_transaction(ctx.store, read)
    found = await worker.events(ctx.access, items)  # the caller's: the owner (audited so)
    return _ok(bundle(spec, ctx.base_url, "query-event", spec.status, n, found, content))


async def binding_token(
    ctx: Context, inputs: Inputs, type_: str | None, id_: str | None
) -> FhirResult:
    spec = await _subscription(ctx, id_)
    if spec.channel != "websocket":
        raise Invalid(
            "A binding token is for a websocket Subscription", ["Subscription.channel.type"]
        )
    token, expires = ctx.services.subscriptions.issue(spec.id)
    ws = ctx.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return _ok(
        {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "token", "valueString": token},
                {
                    "name": "expiration",
                    "valueDateTime": datetime.fromtimestamp(expires, UTC).isoformat(
                        timespec="seconds"
                    ),
                },
                {"name": "subscription", "valueString": f"{ctx.base_url}/Subscription/{spec.id}"},
                {"name": "websocket-url", "valueUrl": ws + WEBSOCKET_PATH},
            ],
        }
    )


_SUBSCRIPTION = frozenset({"Subscription"})
OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "status",
        frozenset({"instance"}),
        _SUBSCRIPTION,
        status,
        definition=f"{IG}/OperationDefinition/backport-subscription-status",
    ),
    Operation(
        "events",
        frozenset({"instance"}),
        _SUBSCRIPTION,
        events,
        definition=f"{IG}/OperationDefinition/backport-subscription-events",
    ),
    Operation(
        "get-ws-binding-token",
        frozenset({"instance"}),
        _SUBSCRIPTION,
        binding_token,
        definition=f"{IG}/OperationDefinition/backport-subscription-get-ws-binding-token",
    ),
)
