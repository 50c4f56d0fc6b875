"""read and vread (http://hl7.org/fhir/R4/http.html#read): the stored bytes, as they are."""

from __future__ import annotations

from fhir_server.errors import Gone, NotFound
from fhir_server.interactions.common import check_id, live
from fhir_server.interactions.context import Context, FhirRequest, FhirResult, parse_version
from fhir_server.stored import StoredResource


def _not_modified(req: FhirRequest, stored: StoredResource) -> bool:
    if req.if_none_match is not None:
        tag = req.if_none_match.strip()
        return tag == "*" or tag.removeprefix("W/").strip('"') == str(stored.version)
    if req.if_modified_since is not None:
        return stored.ts // 1_000_000 <= req.if_modified_since // 1_000_000
    return False


async def read(ctx: Context, req: FhirRequest, type_: str, id_: str) -> FhirResult:
    check_id(id_)
    ctx.access.require(type_, "r")
    stored = await ctx.access.admit(await ctx.read(type_, id_))
    stored = live(stored, type_, id_)
    return FhirResult(304 if _not_modified(req, stored) else 200, stored)


async def vread(ctx: Context, req: FhirRequest, type_: str, id_: str, vid: str) -> FhirResult:
    check_id(id_)
    ctx.access.require(type_, "r")
    version = parse_version(vid, "versionId")
    current = await ctx.read(type_, id_)  # inside a transaction: sees the transaction's writes
    if current is not None and current.version == version:
        stored: StoredResource | None = current
    else:
        stored = await ctx.store.vread(type_, id_, version)
    stored = await ctx.access.admit(stored)
    if stored is None:
        raise NotFound(f"{type_}/{id_}/_history/{vid} is not known", [f"{type_}/{id_}"])
    if stored.deleted:
        raise Gone(f"{type_}/{id_} version {vid} is a deletion", [f"{type_}/{id_}"])
    return FhirResult(304 if _not_modified(req, stored) else 200, stored)
