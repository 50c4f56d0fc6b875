"""Route a FhirRequest to its interaction by the shape of its path and its method.

One table serves HTTP, Bundle entries and the CapabilityStatement (which is generated from it, so
it can only claim what is routed here).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from fhir_server.errors import FhirError, MethodNotAllowed, NotFound, NotSupported
from fhir_server.interactions import create, delete, history, patch, read, search, update
from fhir_server.interactions.common import check_type
from fhir_server.interactions.context import Context, FhirRequest, FhirResult
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search.custom import CUSTOM

Handler = Callable[..., Awaitable[FhirResult]]

ROUTES: dict[str, dict[str, Handler]] = {
    "type": {
        "GET": search.search,
        "POST": create.create,
        "PUT": update.conditional_update,
        "DELETE": delete.conditional_delete,
        "PATCH": patch.patch,
    },
    "type-search": {"POST": search.search},
    "type-history": {"GET": history.history},
    "instance": {
        "GET": read.read,
        "PUT": update.update,
        "DELETE": delete.delete,
        "PATCH": patch.patch,
    },
    "instance-history": {"GET": history.history},
    "version": {"GET": read.vread},
    "system-history": {"GET": history.history},
    "compartment": {"GET": search.compartment_search},
}


INTERACTIONS: dict[tuple[str, str], str] = {
    ("type", "GET"): "search-type",
    ("type", "POST"): "create",
    ("type", "PUT"): "update",
    ("type", "DELETE"): "delete",
    ("type", "PATCH"): "patch",
    ("type-search", "POST"): "search-type",
    ("type-history", "GET"): "history-type",
    ("instance", "GET"): "read",
    ("instance", "PUT"): "update",
    ("instance", "DELETE"): "delete",
    ("instance", "PATCH"): "patch",
    ("instance-history", "GET"): "history-instance",
    ("version", "GET"): "vread",
    ("system-history", "GET"): "history-system",
    ("compartment", "GET"): "search-type",
    ("system", "GET"): "search-system",
    ("system", "POST"): "batch",
    ("metadata", "GET"): "capabilities",
    ("operation", "GET"): "operation",
    ("operation", "POST"): "operation",
}
"""Each route's interaction, as http://hl7.org/fhir/restful-interaction names it (``batch``
covers transaction too): what the audit records (`Access.settle`)."""


def shape(path: list[str]) -> tuple[str, list[str]]:
    """The route shape of a path and the arguments it carries (type, id, version)."""
    n = len(path)
    if n == 0:
        return "system", []
    if n == 1 and path[0] in ("_history", "metadata"):
        return "system-history" if path[0] == "_history" else "metadata", []
    if path[-1][:1] == "$" and n <= 3:
        level = ("system", "type", "instance")[n - 1]
        return "operation", [level, *path]
    for p in path:
        if p[:1] == "$":
            raise NotSupported(f"Operation {p} is not supported", [p])
    if n == 1:
        return "type", [check_type(path[0])]
    if n == 2 and path[1] in ("_history", "_search"):
        return f"type-{path[1][1:]}", [check_type(path[0])]
    if n == 2:
        return "instance", [check_type(path[0]), path[1]]
    if n == 3 and path[2] == "_history":
        return "instance-history", [check_type(path[0]), path[1]]
    if n == 3 and path[2] in SERVED_TYPES:
        return "compartment", [check_type(path[0]), path[1], path[2]]
    if n == 4 and path[2] == "_history":
        return "version", [check_type(path[0]), path[1], path[3]]
    raise NotFound(f"No FHIR interaction at /{'/'.join(path)}")


async def dispatch(ctx: Context, req: FhirRequest) -> FhirResult:
    kind, args = shape(req.path)
    handler = ROUTES[kind].get(req.method)
    if handler is None:
        allowed = ", ".join(sorted(ROUTES[kind]))
        raise MethodNotAllowed(
            f"{req.method} is not allowed here (allowed: {allowed})", headers={"Allow": allowed}
        )
    if ctx.uow is not None:  # an entry of a transaction: the Bundle as a whole syncs (and
        return await handler(ctx, req, *args)  # is audited as a whole)
    await CUSTOM.sync(ctx.store)
    try:
        return await audited(ctx, req, INTERACTIONS[(kind, req.method)], handler, *args)
    finally:
        if req.method != "GET" and (not req.path or req.path[0] == "SearchParameter"):
            await CUSTOM.sync(ctx.store, written=True)


async def audited(
    ctx: Context, req: FhirRequest, interaction: str, handler: Handler, *args: str
) -> FhirResult:
    """Run an interaction, then settle its access (`Access.settle`: the audit record) with
    its outcome, refusals included — before anything is answered, so no access is answered
    that was not recorded. (The HTTP layer's plain read calls this too.)"""
    try:
        result = await handler(ctx, req, *args)
    except FhirError as err:
        await _settle(ctx, req, interaction, err.status)
        raise
    await _settle(ctx, req, interaction, result.status)
    return result


async def _settle(ctx: Context, req: FhirRequest, interaction: str, status: int) -> None:
    pairs = list(req.params)
    if req.content_type == "form" and isinstance(req.body, bytes | bytearray):
        pairs += parse_qsl(bytes(req.body).decode(errors="replace"), keep_blank_values=True)
    type_ = req.path[0] if req.path and req.path[0][:1] not in ("_", "$") else None
    if interaction == "operation":
        interaction = req.path[-1] if req.path else interaction
    query = "&".join(f"{k}={v}" for k, v in pairs)  # as read, so CPR numbers can be masked
    await ctx.access.settle(interaction, type_, query, status)


def _system_routes() -> None:
    from functools import partial

    from fhir_server.bundles import processor
    from fhir_server.interactions import capabilities
    from fhir_server.operations import terminology, validate  # noqa: F401 (they register)

    ROUTES["system"] = {
        "POST": partial(processor.process, dispatch=dispatch),
        "GET": search.system_search,
    }
    ROUTES["metadata"] = {"GET": capabilities.capabilities}
    ROUTES["operation"] = {"GET": operation, "POST": operation}


async def operation(ctx: Context, req: FhirRequest, level: str, *path: str) -> FhirResult:
    from fhir_server.operations import find
    from fhir_server.operations.inputs import Inputs

    name = path[-1][1:]
    type_ = check_type(path[0]) if level != "system" else None
    op = find(name, level, type_)
    if op is None:
        where = "/".join(path)
        raise NotSupported(f"Operation ${name} is not supported at {where}", [f"${name}"])
    if req.method == "GET" and op.affects_state:
        raise MethodNotAllowed(f"${name} changes data: use POST", headers={"Allow": "POST"})
    id_ = path[1] if level == "instance" else None
    await _check_operation(ctx, op.scope_letters, type_, id_)
    return await op.handler(ctx, Inputs.from_request(req, f"${name}"), type_, id_)


async def _check_operation(ctx: Context, letters: str, type_: str | None, id_: str | None) -> None:
    """An operation on a type needs one of its permissions there; on an instance, the instance
    must be one the principal may see (else it is answered as unknown)."""
    if ctx.access.unrestricted or type_ is None:
        return
    ctx.access.require(type_, letters)
    if id_ is not None:
        stored = await ctx.read(type_, id_)
        if stored is not None and await ctx.access.admit(stored, "r" + letters) is None:
            raise NotFound(f"{type_}/{id_} is not known", [f"{type_}/{id_}"])


_system_routes()
