"""Where a transaction's references point: the ids its creates and conditional updates get
(``fullUrl`` → ``Type/id``), references rewritten to them and conditional references resolved,
and the error for a ``urn:uuid:`` reference to no entry's resource."""

from __future__ import annotations

from typing import Any

from fhir_server.bundles.entries import Entry, located
from fhir_server.bundles.references import (
    is_conditional_reference,
    reference_holders,
)
from fhir_server.errors import FhirError, Invalid, MultipleMatches, PreconditionFailed
from fhir_server.interactions.common import (
    check_type,
    criteria_pairs,
    match,
    match_one,
    new_id,
)
from fhir_server.interactions.context import Context
from fhir_server.references import path_to


async def assign_ids(ctx: Context, entries: list[Entry]) -> tuple[dict[str, str], dict[int, Any]]:
    """Ids for created resources (``fullUrl`` → ``Type/id``); conditional creates that match
    an existing resource take its id and are answered 200 without writing."""
    ids: dict[str, str] = {}
    matched: dict[int, Any] = {}
    for e in entries:
        path = e.request.path
        if e.request.method == "POST" and len(path) == 1:
            type_ = check_type(path[0])
            rid = new_id()
            if e.request.if_none_exist:
                try:
                    found = await match_one(ctx, type_, criteria_pairs(e.request.if_none_exist))
                except FhirError as err:
                    raise located(err, e.index) from None
                if found is not None:
                    matched[e.index] = found
                    rid = found.id
            if e.full_url:
                ids[e.full_url] = f"{type_}/{rid}"
            if e.index not in matched:
                e.request.path, e.request.minted_id = [type_, rid], rid
        elif e.request.method == "PUT" and len(path) == 2 and e.full_url:
            ids[e.full_url] = "/".join(path)
        elif e.request.method == "PUT" and len(path) == 1 and e.full_url:
            # a conditional update: its fullUrl maps to the match, or to the id it will create
            type_ = check_type(path[0])
            try:
                found = await match_one(ctx, type_, e.request.params, letters="u")
            except FhirError as err:
                raise located(err, e.index) from None
            body = e.request.body
            if found is not None:
                ids[e.full_url] = f"{type_}/{found.id}"
            elif isinstance(body, dict):
                if not body.get("id"):  # update-as-create with an id of the server's
                    body["id"] = e.request.minted_id = new_id()
                ids[e.full_url] = f"{type_}/{body['id']}"
    return ids, matched


async def rewrite_references(
    body: dict[str, Any], ids: dict[str, str], ctx: Context, index: int
) -> bool:
    changed = False
    for holder in reference_holders(body):
        ref = holder["reference"]
        if ref in ids:
            holder["reference"] = ids[ref]
            changed = True
        elif is_conditional_reference(ref):
            ids[ref] = holder["reference"] = await _conditional_reference(ctx, ref)
            changed = True
        elif ref.startswith(URN_UUID):  # the fullUrl of an entry that writes no resource
            raise unresolved(index, body, holder)
    return changed


URN_UUID = "urn:uuid:"


def unresolved(index: int, body: dict[str, Any], holder: dict[str, Any]) -> FhirError:
    """A ``urn:uuid:`` reference that is the fullUrl of no resource the transaction writes:
    stored as it is, it would point nowhere (http.html#trules resolves them all)."""
    at = f"Bundle.entry[{index}].resource{path_to(body, holder) or ''}.reference"
    return Invalid(
        f"Bundle.entry[{index}]: the reference {holder['reference']!r} is the fullUrl of no"
        " resource this transaction creates or updates",
        [at],
    )


async def _conditional_reference(ctx: Context, ref: str) -> str:
    type_ = check_type(ref.split("?", 1)[0])
    found = await match(ctx, type_, criteria_pairs(ref))
    if len(found) != 1:
        cls = MultipleMatches if found else PreconditionFailed
        raise cls(f"The conditional reference {ref!r} matches {len(found)} resources, not one")
    return f"{type_}/{found[0].id}"
