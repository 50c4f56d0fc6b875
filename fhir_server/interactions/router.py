"""Route a FhirRequest to its interaction by the shape of its path and its method.

A `Router` is built from an explicit tuple of `Route`s — path shape and method to handler, each
tagged with the CapabilityStatement interaction codes it serves — and of `Operation`s
(`interactions/routes.py` lists the server's). The app holds one (`fhir_server.services`); HTTP,
Bundle entries and the CapabilityStatement all use it, so the statement declares exactly what
is routed (tests/api/test_routes_declared.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from fhir_server.errors import FhirError, MethodNotAllowed, NotFound, NotSupported
from fhir_server.interactions.common import check_type
from fhir_server.interactions.context import Context, FhirRequest, FhirResult, Handler, warned
from fhir_server.operations import Operation, clashing, find
from fhir_server.operations.inputs import Inputs
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.stored_conformance import TYPES as CONFORMANCE_TYPES

TYPE_SHAPES = frozenset(
    {"type", "type-search", "type-history", "instance", "instance-history", "version"}
)
"""Shapes whose interactions the CapabilityStatement lists per resource type
(``rest.resource.interaction``); the others' are the system's (``rest.interaction``)."""


@dataclass(frozen=True, slots=True)
class Route:
    shape: str
    """What `shape` calls the path: ``instance``, ``type-history``, ``system``, …"""
    method: str
    handler: Handler
    codes: tuple[str, ...] = ()
    """The CapabilityStatement interaction codes this route serves; none where the statement
    says it otherwise (conditional forms as flags, ``$operations`` as operations, the
    compartment search and ``/metadata`` not at all)."""


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
    ("operation", "DELETE"): "operation",
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


class Router:
    """One server's routes and operations; ``dispatch`` runs a request through them."""

    def __init__(self, routes: tuple[Route, ...], operations: tuple[Operation, ...]) -> None:
        self.routes = routes
        self.operations = operations
        self._table: dict[str, dict[str, Handler]] = {}
        for route in routes:
            methods = self._table.setdefault(route.shape, {})
            if route.method in methods:
                raise ValueError(f"two routes for {route.method} {route.shape}")
            methods[route.method] = route.handler
        twice = clashing(operations)
        if twice:
            raise ValueError(f"an operation is listed twice: {twice}")

    def codes(self, level: str) -> list[str]:
        """The interaction codes routed at ``level`` (``type`` or ``system``), in route order."""
        wanted = [r for r in self.routes if (r.shape in TYPE_SHAPES) == (level == "type")]
        return list(dict.fromkeys(code for r in wanted for code in r.codes))

    def routed(self, shape: str, method: str) -> bool:
        return method in self._table.get(shape, {})

    def operation(self, name: str, level: str, type_: str | None) -> Operation | None:
        return find(self.operations, name, level, type_)

    async def dispatch(self, ctx: Context, req: FhirRequest) -> FhirResult:
        kind, args = shape(req.path)
        methods = self._table.get(kind, {})
        handler = methods.get(req.method)
        if handler is None:
            allowed = ", ".join(sorted(methods))
            raise MethodNotAllowed(
                f"{req.method} is not allowed here (allowed: {allowed})",
                allowed=tuple(sorted(methods)),
            )
        custom, conformance = ctx.services.custom, ctx.services.conformance
        if ctx.uow is not None:  # an entry of a transaction: the Bundle as a whole syncs (and
            return warned(req, await handler(ctx, req, *args))  # is audited as a whole)
        await custom.sync(ctx.store)
        if req.method != "GET":  # it may validate: with the profiles any process stored
            await conformance.sync(ctx.store)
        try:
            result = await audited(ctx, req, INTERACTIONS[(kind, req.method)], handler, *args)
            return warned(req, result)
        finally:
            if req.method != "GET" and (not req.path or req.path[0] == "SearchParameter"):
                await custom.sync(ctx.store, written=True)
            if req.method != "GET" and (not req.path or req.path[0] in CONFORMANCE_TYPES):
                await conformance.sync(ctx.store)


async def operation(ctx: Context, req: FhirRequest, level: str, *path: str) -> FhirResult:
    """``$name`` at the system, a type or an instance: the router's operation of that name."""
    name = path[-1][1:]
    type_ = check_type(path[0]) if level != "system" else None
    op = ctx.services.router.operation(name, level, type_)
    if op is None:
        where = "/".join(path)
        raise NotSupported(f"Operation ${name} is not supported at {where}", [f"${name}"])
    if req.method not in op.methods:
        allowed = tuple(sorted(op.methods))
        raise MethodNotAllowed(f"${name} takes {', '.join(allowed)}", allowed=allowed)
    if req.method == "GET" and op.affects_state:
        raise MethodNotAllowed(f"${name} changes data: use POST", allowed=("POST",))
    id_ = path[1] if level == "instance" else None
    await _check_operation(ctx, op.scope_letters, type_, id_)
    return await op.handler(ctx, Inputs.from_request(req, f"${name}"), type_, id_)


async def _check_operation(ctx: Context, letters: str, type_: str | None, id_: str | None) -> None:
    """An operation on a type needs one of its permissions there; on an instance, the instance
    must exist and be one the principal may see — absent, deleted and hidden are answered
    alike, as unknown, so no operation's own answer for a missing instance tells them apart."""
    if type_ is None:
        return
    if not ctx.access.unrestricted:
        ctx.access.require(type_, letters)
    if id_ is not None:
        stored = await ctx.read(type_, id_)
        if stored is None or stored.deleted or ctx.access.unrestricted:
            admitted = None if stored is None or stored.deleted else stored
        else:
            admitted = await ctx.access.admit(stored, "r" + letters)
        if admitted is None:
            raise NotFound(f"{type_}/{id_} is not known", [f"{type_}/{id_}"])


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
