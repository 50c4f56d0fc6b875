"""A batch Bundle: each entry runs on its own and reports its own outcome
(http://hl7.org/fhir/R4/http.html#transaction)."""

from __future__ import annotations

from fhir_server.bundles.build import bundle
from fhir_server.bundles.entries import Entry, error_entry, response_entry
from fhir_server.errors import FhirError
from fhir_server.interactions.context import Context, FhirResult, Handler


async def batch(
    ctx: Context, entries: list[Entry], prefer: str | None, dispatch: Handler
) -> FhirResult:
    out = []
    for entry in entries:
        sub = Context(
            ctx.store,
            ctx.settings,
            ctx.grant,
            ctx.base_url,
            security=ctx.security,
            services=ctx.services,
        )
        try:
            result = await dispatch(sub, entry.request)
            out.append(response_entry(ctx, entry.request, result, prefer))
        except FhirError as err:
            out.append(error_entry(err))
    return FhirResult(200, body=bundle("batch-response", out, []))
