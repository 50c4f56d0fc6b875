"""batch and transaction Bundles posted to the base (http://hl7.org/fhir/R4/http.html#transaction).

The entries are read in `entries`; `batch` and `transaction` run them; `ids` resolves a
transaction's references.

A transaction runs every entry in one unit of work, in the spec's order (DELETE, POST, PUT/PATCH,
GET) after resolving ``urn:uuid:`` and conditional references; any failure rolls all of it back.
A batch runs each entry on its own and reports each entry's outcome.
"""

from __future__ import annotations

from fhir_server.bundles.batch import batch
from fhir_server.bundles.entries import parse_bundle
from fhir_server.bundles.transaction import transaction
from fhir_server.interactions.context import Context, FhirRequest, FhirResult


async def process(ctx: Context, req: FhirRequest) -> FhirResult:
    """Each entry goes through the server's router again (`Router.dispatch`)."""
    dispatch = ctx.services.router.dispatch
    kind, entries = parse_bundle(ctx, req)
    if kind == "batch":
        return await batch(ctx, entries, req.prefer_return, dispatch)
    return await transaction(ctx, entries, req.prefer_return, dispatch)
