"""search at type level (http://hl7.org/fhir/R4/http.html#search), GET or POST ``_search``.

Only the parameters the registry declares are accepted; anything else is a 400, never ignored
(unless the client prefers ``handling=lenient``; the Bundle then says what was ignored).
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qsl

import orjson

from fhir_server.bundles.build import bundle, full_url, page_url, resource_fragment
from fhir_server.errors import Invalid, Issue, NotFound, UnsupportedMediaType
from fhir_server.interactions.common import check_id, searcher
from fhir_server.interactions.context import Context, FhirRequest, FhirResult
from fhir_server.model import StoredResource
from fhir_server.representation import select_elements, summarize
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search import cursor
from fhir_server.search.includes import included
from fhir_server.search.model import SearchQuery
from fhir_server.search.registry import patient_compartment
from fhir_server.search.resolve import INNER_LIMIT, build_query
from fhir_server.store.base import InvalidCursor


def _form_pairs(req: FhirRequest) -> list[tuple[str, str]]:
    if not req.body:
        return []
    if req.content_type != "form":
        raise UnsupportedMediaType("POST _search takes application/x-www-form-urlencoded")
    try:
        text = bytes(req.body).decode()
    except UnicodeDecodeError as err:
        raise Invalid(f"The form body is not UTF-8: {err}") from err
    return parse_qsl(text, keep_blank_values=True)


async def query_for(
    ctx: Context, type_: str, pairs: list[tuple[str, str]], lenient: bool = False
) -> SearchQuery:
    return await build_query(
        searcher(ctx),
        type_,
        pairs,
        default_count=ctx.settings.default_page_size,
        max_count=ctx.settings.max_page_size,
        base=ctx.base_url,
        lenient=lenient,
    )


def _resource(query: SearchQuery, stored: StoredResource) -> Any:
    if query.summary in (None, "false") and query.elements is None:
        return resource_fragment(stored)
    resource = orjson.loads(stored.content or b"{}")
    if query.summary not in (None, "false"):
        resource = summarize(resource, query.summary)
    if query.elements is not None:
        resource = select_elements(resource, query.elements)
    return resource


def _entry(ctx: Context, query: SearchQuery, stored: StoredResource, mode: str) -> dict[str, Any]:
    return {
        "fullUrl": full_url(ctx.base_url, stored),
        "resource": _resource(query, stored),
        "search": {"mode": mode},
    }


def _binding(type_: str, pairs: list[tuple[str, str]]) -> str:
    """What a cursor is bound to: the type and the query without the cursor itself."""
    kept = sorted((k, v) for k, v in pairs if k != "_cursor")
    return hashlib.sha256(repr((type_, kept)).encode()).hexdigest()[:16]


async def compartment_search(
    ctx: Context, req: FhirRequest, owner: str, owner_id: str, type_: str
) -> FhirResult:
    """``Patient/123/CarePlan``: the search, limited to resources in that patient's compartment
    (any of the compartment's parameters refers to the patient)."""
    params = patient_compartment().get(type_) if owner == "Patient" else None
    if not params:
        raise NotFound(
            f"{type_} is not in the {owner} compartment", [f"{owner}/{owner_id}/{type_}"]
        )
    check_id(owner_id)
    ids: set[str] = {owner_id} if type_ == owner else set()
    for param in params:
        query = await query_for(ctx, type_, [(param, f"{owner}/{owner_id}")])
        query.count = INNER_LIMIT + 1
        ids |= {s.id for s in await searcher(ctx)(query)}
    if len(ids) > INNER_LIMIT:
        raise Invalid(f"The {owner}/{owner_id} compartment holds too many {type_} resources")
    members = ",".join(sorted(ids)) or "$"  # "$" is never an id: an empty compartment
    return await search(ctx, req, type_, [("_id", members)], f"{owner}/{owner_id}/{type_}")


async def search(
    ctx: Context,
    req: FhirRequest,
    type_: str,
    scope: list[tuple[str, str]] | None = None,
    here: str | None = None,
) -> FhirResult:
    pairs = req.params + (_form_pairs(req) if req.method == "POST" else [])
    query = await query_for(ctx, type_, pairs + (scope or []), req.prefer_handling == "lenient")
    binding = _binding(here or type_, pairs)
    signed_here = query.after_id
    if signed_here is not None:
        bound, _, position = cursor.verify(signed_here).partition(":")
        if bound != binding:
            raise Invalid("_cursor belongs to another search", ["_cursor"])
        query.after_id = position
    extra: dict[str, Any] = {}
    if query.total in ("accurate", "estimate") or query.summary == "count":
        extra["total"] = await ctx.store.count(query)
    here = f"{ctx.base_url}/{here or type_}"
    shown = [(k, v) for k, v in pairs if k not in query.ignored]
    links = [("self", page_url(here, shown, signed_here))]
    entries: list[dict[str, Any]] = []
    if query.summary != "count":
        try:
            page = await ctx.search(query)
        except InvalidCursor as err:
            raise Invalid("_cursor does not fit this search", ["_cursor"]) from err
        if page.next_cursor:
            signed = cursor.sign(f"{binding}:{page.next_cursor}")
            links.append(("next", page_url(here, shown, signed)))
        entries = [_entry(ctx, query, s, "match") for s in page.items]
        if query.includes or query.revincludes:
            more = await included(
                ctx.read, searcher(ctx), page.items, query.includes, query.revincludes
            )
            entries += [_entry(ctx, query, s, "include") for s in more]
    if query.ignored:
        note = f"Ignored unknown search parameters: {', '.join(query.ignored)}"
        entries.append(
            {
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        Issue("not-supported", note, tuple(query.ignored), "warning").to_json()
                    ],
                },
                "search": {"mode": "outcome"},
            }
        )
    return FhirResult(200, body=bundle("searchset", entries, links, **extra))


async def system_search(ctx: Context, req: FhirRequest) -> FhirResult:
    """``GET [base]?…``: the common parameters across every served type (or those in ``_type``),
    ordered by type then id and paged with one signed cursor across types."""
    pairs = req.params + (_form_pairs(req) if req.method == "POST" else [])
    types, rest = _types(pairs)
    if any(k == "_sort" for k, _ in rest):
        raise Invalid("_sort is not supported in a search across types", ["_sort"])
    binding = _binding("", pairs)
    after: tuple[str, str] | None = None
    raw_cursor = next((v for k, v in rest if k == "_cursor"), None)
    if raw_cursor is not None:
        bound, _, position = cursor.verify(raw_cursor).partition(":")
        after_type, _, after_id = position.partition("/")
        if bound != binding or after_type not in types:
            raise Invalid("_cursor belongs to another search", ["_cursor"])
        after = (after_type, after_id)
    rest = [(k, v) for k, v in rest if k != "_cursor"]
    queries = {t: await query_for(ctx, t, rest) for t in types}
    first = queries[types[0]]
    extra: dict[str, Any] = {}
    if first.total in ("accurate", "estimate") or first.summary == "count":
        extra["total"] = sum([await ctx.store.count(q) for q in queries.values()])
    matches: list[StoredResource] = []
    more = False
    for type_ in types:
        if after is not None and type_ < after[0]:
            continue
        query = queries[type_]
        query.count = first.count - len(matches)
        query.after_id = after[1] if after is not None and type_ == after[0] else None
        if first.summary == "count" or query.count <= 0:
            more = more or query.count <= 0
            break
        page = await ctx.search(query)
        matches += page.items
        if page.next_cursor is not None:
            more = True
            break
    links = [("self", page_url(ctx.base_url, pairs, None))]
    if more and matches:
        last = matches[-1]
        signed = cursor.sign(f"{binding}:{last.type}/{last.id}")
        links.append(("next", page_url(ctx.base_url, pairs, signed)))
    entries = [_entry(ctx, first, s, "match") for s in matches]
    if first.includes or first.revincludes:
        more_resources = await included(
            ctx.read, searcher(ctx), matches, first.includes, first.revincludes
        )
        entries += [_entry(ctx, first, s, "include") for s in more_resources]
    return FhirResult(200, body=bundle("searchset", entries, links, **extra))


def _types(pairs: list[tuple[str, str]]) -> tuple[list[str], list[tuple[str, str]]]:
    wanted = [v for k, v in pairs if k == "_type"]
    rest = [(k, v) for k, v in pairs if k != "_type"]
    if not wanted:
        return sorted(SERVED_TYPES), rest
    types = sorted({t.strip() for v in wanted for t in v.split(",") if t.strip()})
    unknown = [t for t in types if t not in SERVED_TYPES]
    if unknown or not types:
        raise Invalid(f"_type names types this server does not serve: {unknown}", ["_type"])
    return types, rest
