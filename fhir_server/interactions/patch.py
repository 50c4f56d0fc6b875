"""patch and conditional patch (http://hl7.org/fhir/R4/http.html#patch).

JSON Patch (``application/json-patch+json``) or FHIRPath Patch (a Parameters body); the result
must still be a structurally valid resource with the same type and id.
"""

from __future__ import annotations

from typing import Any

from fhir_server import fhir_json
from fhir_server.errors import Invalid, NotFound, UnsupportedMediaType
from fhir_server.interactions.common import check_id, live, match_one
from fhir_server.interactions.context import Context, FhirRequest, FhirResult, parse_version
from fhir_server.interactions.update import write_version
from fhir_server.patch.fhirpath_patch import apply_fhirpath_patch
from fhir_server.patch.json_patch import apply_json_patch
from fhir_server.store.base import UnitOfWork


def _patch_document(req: FhirRequest) -> tuple[str, Any]:
    body = req.document()
    if body is None:
        raise Invalid("PATCH needs a JSON Patch or a FHIRPath Patch document in the body")
    if req.content_type == "json-patch":
        return "json-patch", body
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        return "fhirpath", body
    if req.content_type == "fhir":  # a FHIR media type, but not a FHIRPath Patch document
        raise Invalid(
            "A PATCH with a FHIR content type takes a FHIRPath Patch Parameters resource"
            " (send a JSON Patch as application/json-patch+json)"
        )
    raise UnsupportedMediaType(
        "PATCH takes application/json-patch+json or a FHIRPath Patch Parameters resource"
    )


def _apply(ctx: Context, kind: str, doc: Any, resource: dict[str, Any]) -> dict[str, Any]:
    if kind == "json-patch":
        patched = apply_json_patch(resource, doc)
    else:
        patched = apply_fhirpath_patch(resource, doc)
    type_, id_ = resource["resourceType"], resource["id"]
    if not isinstance(patched, dict):
        raise Invalid("The patched document is not a resource (a JSON object)", [type_])
    if patched.get("resourceType") != type_ or patched.get("id") != id_:
        raise Invalid("A patch must not change the resource type or id", [f"{type_}.id"])
    return ctx.access.prepare(type_, ctx.services.checks.check_resource(type_, patched))


async def patch(ctx: Context, req: FhirRequest, type_: str, id_: str | None = None) -> FhirResult:
    """Patch by id, or (``id_`` None) the single resource matching the request's criteria."""
    ctx.access.require(type_, "u")
    kind, doc = _patch_document(req)
    if_match = parse_version(req.if_match, "If-Match") if req.if_match else None

    async def work(uow: UnitOfWork) -> FhirResult:
        if id_ is None:
            found = await match_one(ctx, type_, req.params, letters="u")
            if found is None:  # http.html#patch: conditional patch, no matches → 404
                criteria = "&".join(f"{k}={v}" for k, v in req.params)
                raise NotFound(f"No {type_} matches {criteria}", [f"{type_}?{criteria}"])
            current = found
        else:
            # before the patch could reveal anything; one the principal may not see (live or
            # deleted) is answered as unknown
            found = await ctx.access.admit_target(await uow.read(type_, check_id(id_)), "u")
            current = live(found, type_, id_)
        resource = fhir_json.loads(current.content or b"{}")
        patched = _apply(ctx, kind, doc, resource)
        expected = if_match if if_match is not None else current.version
        return await write_version(
            ctx, type_, current.id, patched, expected, method="PATCH", chosen=False
        )

    return await ctx.write(work)
