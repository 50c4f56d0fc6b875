"""delete and conditional delete (http://hl7.org/fhir/R4/http.html#delete).

A delete writes a tombstone version; reads then answer 410 and history shows the deletion.
"""

from __future__ import annotations

from fhir_server.errors import Issue, MultipleMatches, PreconditionFailed
from fhir_server.interactions.common import check_id, match
from fhir_server.interactions.context import Context, FhirRequest, FhirResult, parse_version
from fhir_server.store.base import UnitOfWork, VersionConflict


async def delete(ctx: Context, req: FhirRequest, type_: str, id_: str) -> FhirResult:
    check_id(id_)
    ctx.access.require(type_, "d")
    if_match = parse_version(req.if_match, "If-Match") if req.if_match else None

    async def work(uow: UnitOfWork) -> FhirResult:
        # one the principal may not see is answered as absent (204, or 412 with If-Match)
        current = await ctx.access.admit_target(await uow.read(type_, id_), "d")
        if current is None and if_match is not None:
            raise VersionConflict(None)
        tomb = await uow.delete(type_, id_, if_match=if_match) if current is not None else None
        note = f"Deleted {type_}/{id_}" if tomb else f"{type_}/{id_} was not present"
        return FhirResult(204, tomb, issues=[Issue("informational", note, severity="information")])

    try:
        return await ctx.write(work)
    except VersionConflict as err:
        current = err.current.version if err.current else "none"
        raise PreconditionFailed(
            f"If-Match names version {if_match} but the current version of {type_}/{id_} is"
            f" {current}",
            [f"{type_}/{id_}"],
        ) from err


async def conditional_delete(ctx: Context, req: FhirRequest, type_: str) -> FhirResult:
    ctx.access.require(type_, "d")
    limit = ctx.settings.max_conditional_delete if ctx.settings.allow_multiple_delete else 1

    async def work(uow: UnitOfWork) -> FhirResult:
        found = await match(ctx, type_, req.params, limit + 1, letters="d")
        if len(found) > limit:
            raise MultipleMatches(
                f"The criteria match more than {limit} {type_} resource(s);"
                " refine them or delete by id",
                [f"{type_}?" + "&".join(f"{k}={v}" for k, v in req.params)],
            )
        tombs = [await uow.delete(type_, stored.id) for stored in found]
        note = f"Deleted {len(found)} {type_} resource(s)"
        info = [Issue("informational", note, severity="information")]
        # a single deletion is reported like a delete by id (ETag of the tombstone)
        return FhirResult(204, tombs[0] if len(tombs) == 1 else None, issues=info)

    return await ctx.write(work)
