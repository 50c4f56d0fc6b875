"""create and conditional create (http://hl7.org/fhir/R4/http.html#create)."""

from __future__ import annotations

from typing import Any

from fhir_server import handover
from fhir_server.interactions.common import body_resource, criteria_pairs, match_one, new_id
from fhir_server.interactions.context import Context, FhirRequest, FhirResult
from fhir_server.search.terms import Index
from fhir_server.store.base import UnitOfWork


async def create(ctx: Context, req: FhirRequest, type_: str, id_: str | None = None) -> FhirResult:
    """The server assigns the id (any id in the body is ignored, as the spec says).

    ``id_`` is given only by a transaction Bundle that already resolved a ``urn:uuid`` to it.
    """
    ctx.access.require(type_, "c")
    resource = body_resource(ctx, req, type_)
    index = req.index or ctx.store.indexer(type_, resource)
    return await create_resource(ctx, type_, resource, req.if_none_exist, id_, index)


async def create_resource(
    ctx: Context,
    type_: str,
    resource: dict[str, Any],
    if_none_exist: str | None,
    id_: str | None = None,
    index: Index | None = None,
) -> FhirResult:
    async def work(uow: UnitOfWork) -> FhirResult:
        if if_none_exist:
            existing = await match_one(ctx, type_, criteria_pairs(if_none_exist))
            if existing is not None:
                return FhirResult(200, existing, location=True)
        stored, _ = await uow.write(
            type_,
            id_ or new_id(),  # a transaction's creates get theirs (new_id too) in advance
            resource,
            method="POST",
            must_not_exist=True,
            index=index,
            minted=True,
        )
        await ctx.access.check_written(stored, "c")  # as written: a refusal rolls the write back
        await handover.written(ctx, stored, None)
        return FhirResult(201, stored, location=True)

    return await ctx.write(work)
