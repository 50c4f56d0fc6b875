"""update, update-as-create and conditional update (http://hl7.org/fhir/R4/http.html#update)."""

from __future__ import annotations

from typing import Any

from fhir_server import handover
from fhir_server.errors import Invalid, MethodNotAllowed, PreconditionFailed
from fhir_server.interactions.common import body_resource, check_id, match_one, new_id
from fhir_server.interactions.context import Context, FhirRequest, FhirResult, parse_version
from fhir_server.search.terms import Index
from fhir_server.store.base import UnitOfWork, VersionConflict
from fhir_server.stored import StoredResource


async def update(ctx: Context, req: FhirRequest, type_: str, id_: str) -> FhirResult:
    check_id(id_)
    ctx.access.require(type_, "cu")
    resource = body_resource(ctx, req, type_)
    if resource.get("id") != id_:
        raise Invalid(_id_mismatch(resource.get("id"), id_), [f"{type_}.id"])
    if_match = parse_version(req.if_match, "If-Match") if req.if_match else None
    create_only = (req.if_none_match or "").strip() == "*"
    index = req.index or ctx.store.indexer(type_, resource)
    return await write_version(ctx, type_, id_, resource, if_match, create_only, index=index)


def _id_mismatch(body_id: object, id_: str) -> str:
    """Say what to do: an update names its resource twice (http.html#update), and a body
    without an id is the usual slip (a create's body sent with PUT)."""
    if body_id is None:
        return (
            f"The resource in the body has no id; an update needs it equal to the id in the URL:"
            f' add "id": "{id_}" to the body (or POST it to create a new resource)'
        )
    return f"The id in the body ({body_id!r}) must equal the id in the URL ({id_!r})"


async def write_version(
    ctx: Context,
    type_: str,
    id_: str,
    resource: dict[str, Any],
    if_match: int | None,
    create_only: bool = False,
    method: str = "PUT",
    index: Index | None = None,
    chosen: bool = True,
) -> FhirResult:
    """``chosen``: the client chose the id (a PUT); False when the server did (a conditional
    update's match or new id, a patch of a resource already checked)."""

    async def work(uow: UnitOfWork) -> FhirResult:
        watched = type_ in handover.WATCHED
        current = await uow.read(type_, id_) if watched or not ctx.access.unrestricted else None
        if not ctx.access.unrestricted:
            await _check_replaced(ctx, type_, id_, current, chosen)
        stored, created = await uow.write(
            type_,
            id_,
            resource,
            method=method,
            if_match=if_match,
            must_not_exist=create_only,
            index=index,
        )
        await ctx.access.check_written(stored, "c" if created else "u")  # as written
        await handover.written(ctx, stored, current)
        return FhirResult(201 if created else 200, stored, location=created)

    try:
        return await ctx.write(work)
    except VersionConflict as err:
        raise _precondition(type_, id_, if_match, err) from err


async def _check_replaced(
    ctx: Context, type_: str, id_: str, current: StoredResource | None, chosen: bool
) -> None:
    """The version an update replaces must be one the principal may update (a patient-scoped
    token cannot take over another patient's resource by writing it into its compartment);
    re-creating a deleted one needs create or update on the version it deleted.

    An id the principal does not see — free, or taken by a resource hidden from it (live or
    deleted) — it may not choose unless it sees every resource of the type: both are answered
    alike, 405 as http.html#update says for a server that does not allow client-defined ids,
    so nothing reveals whether the id is taken and no write joins another patient's history."""
    letters = "cu" if current is not None and current.deleted else "u"
    known = await ctx.access.admit_target(current, letters)
    if known is None and (current is not None or chosen):
        if current is None and ctx.access.sees_every(type_):
            return  # a free id, and no secret from this principal: update-as-create
        raise MethodNotAllowed(
            f"The access token may not choose the id of a new {type_} (update-as-create"
            f" of {type_}/{id_}); create it with POST {type_}",
            [f"{type_}/{id_}"],
            allowed=("DELETE", "GET", "PATCH"),
        )


def _precondition(type_: str, id_: str, if_match: int | None, err: VersionConflict) -> Exception:
    cur = err.current
    where = [f"{type_}/{id_}"]
    if if_match is None:
        return PreconditionFailed(f"{type_}/{id_} already exists (If-None-Match: *)", where)
    if cur is None or cur.deleted:
        return PreconditionFailed(f"If-Match: {type_}/{id_} does not exist", where)
    return PreconditionFailed(
        f"If-Match names version {if_match} but the current version of {type_}/{id_} is"
        f" {cur.version}",
        where,
    )


async def conditional_update(ctx: Context, req: FhirRequest, type_: str) -> FhirResult:
    ctx.access.require(type_, "cu")
    resource = body_resource(ctx, req, type_)
    if_match = parse_version(req.if_match, "If-Match") if req.if_match else None

    async def work(uow: UnitOfWork) -> FhirResult:
        found = await match_one(ctx, type_, req.params, letters="u")
        body_id = resource.get("id")
        if found is not None and body_id is not None and body_id != found.id:
            raise Invalid(
                f"The id in the body ({body_id!r}) differs from the matched resource"
                f" {type_}/{found.id}",
                [f"{type_}.id"],
            )
        target = found.id if found else check_id(body_id) if body_id else new_id()
        # http.html#cond-update: no match and an id in the body is an update-as-create at it
        # (unless a transaction assigned that id itself)
        chosen = found is None and body_id is not None and body_id != req.minted_id
        return await write_version(ctx, type_, target, resource, if_match, chosen=chosen)

    return await ctx.write(work)
