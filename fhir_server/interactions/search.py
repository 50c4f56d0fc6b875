"""search at type level (http://hl7.org/fhir/R4/http.html#search), GET or POST ``_search``.

Only the parameters the registry declares are accepted; anything else is a 400, never ignored
(unless the client prefers ``handling=lenient``; the Bundle then says what was ignored).
"""

from __future__ import annotations

import hashlib
from typing import Any

from fhir_server import compartment
from fhir_server.bundles.build import bundle, full_url, page_url
from fhir_server.errors import Invalid, Issue, NotFound, UnsupportedMediaType
from fhir_server.interactions.common import check_id, every, searcher
from fhir_server.interactions.context import Context, FhirRequest, FhirResult
from fhir_server.representation import Shape
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search import cursor
from fhir_server.search.includes import included
from fhir_server.search.resolve import INNER_LIMIT, build_query
from fhir_server.search.terms import Criterion, SearchQuery, ids_filter
from fhir_server.store.base import InvalidCursor, Page, edge_page
from fhir_server.stored import StoredResource


def _form_pairs(req: FhirRequest) -> list[tuple[str, str]]:
    if req.content_type is None:
        return []
    if req.content_type != "form":
        raise UnsupportedMediaType("POST _search takes application/x-www-form-urlencoded")
    pairs: list[tuple[str, str]] = req.document()
    return pairs


async def query_for(
    ctx: Context, type_: str, pairs: list[tuple[str, str]], lenient: bool = False
) -> SearchQuery:
    return await build_query(
        searcher(ctx),
        type_,
        pairs,
        default_count=ctx.settings.default_page_size,
        max_count=ctx.settings.max_page_size,
        params=ctx.params,
        base=ctx.base_url,
        lenient=lenient,
    )


def _entry(ctx: Context, query: SearchQuery, stored: StoredResource, mode: str) -> dict[str, Any]:
    return {
        "fullUrl": full_url(ctx.base_url, stored),
        "resource": Shape(query.summary, query.elements).resource(stored),
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
    ctx.access.require(type_, "s")
    params = compartment.params(owner, type_)
    if not params:
        raise NotFound(
            f"{type_} is not in the {owner} compartment", [f"{owner}/{owner_id}/{type_}"]
        )
    check_id(owner_id)
    # what the caller may search, worked out once for the members' look-ups and the page
    # (a patient-scoped token's compartment costs searches of its own)
    allowed = SearchQuery(type_)
    await ctx.access.narrow(allowed, "s")
    ids: set[str] = {owner_id} if type_ == owner else set()
    for param in params:
        query = await query_for(ctx, type_, [(param, f"{owner}/{owner_id}")])
        query.filters += allowed.filters
        query.count = INNER_LIMIT + 1
        ids |= {s.id for s in await every(ctx, query)}
    if len(ids) > INNER_LIMIT:
        raise Invalid(f"The {owner}/{owner_id} compartment holds too many {type_} resources")
    scope = [ids_filter(ids), *allowed.filters]
    return await search(ctx, req, type_, scope, f"{owner}/{owner_id}/{type_}", narrowed=True)


async def search(
    ctx: Context,
    req: FhirRequest,
    type_: str,
    scope: list[Criterion] | None = None,
    here: str | None = None,
    narrowed: bool = False,
) -> FhirResult:
    """``scope``: filters the search is confined to (a compartment's members); ``narrowed``:
    they include the caller's access already (`Access.narrow` with ``s``, after `require`)."""
    if not narrowed:
        ctx.access.require(type_, "s")
    pairs = req.params + (_form_pairs(req) if req.method == "POST" else [])
    query = await query_for(ctx, type_, pairs, req.prefer_handling == "lenient")
    query.filters += scope or []
    if not narrowed:
        await ctx.access.narrow(query, "s")
    binding = _binding(here or type_, pairs)
    signed_here = query.after_id
    if signed_here is not None:
        query.backward, query.after_id = cursor.read_page_token(signed_here, binding)
    extra: dict[str, Any] = {}
    if _counted(query):
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
        links += _paging_links(here, shown, binding, signed_here, page)
        if _whole(query, signed_here, page.next_cursor is not None):
            extra["total"] = len(page.items)
        entries = [_entry(ctx, query, s, "match") for s in page.items]
        ctx.access.disclose(page.items)
        if query.includes or query.revincludes:
            more = await included(
                ctx.access.reader(),
                searcher(ctx),
                ctx.params,
                page.items,
                query.includes,
                query.revincludes,
            )
            entries += [_entry(ctx, query, s, "include") for s in more]
            ctx.access.disclose(more)
    issues = list(ctx.access.notes) if query.summary != "count" else []
    if query.ignored:
        note = f"Ignored unknown search parameters: {', '.join(query.ignored)}"
        issues.append(Issue("not-supported", note, tuple(query.ignored), "warning"))
    if issues:
        entries.append(
            {
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [i.to_json() for i in issues],
                },
                "search": {"mode": "outcome"},
            }
        )
    return FhirResult(200, body=bundle("searchset", entries, links, **extra))


def _counted(query: SearchQuery) -> bool:
    """Whether the total is counted: asked for (``_total=accurate|estimate``, ``_totalMethod``),
    or all that is asked (``_summary=count``, ``_count=0``). The count runs on the query the
    caller's access narrowed, so it is exact and counts nothing hidden."""
    return query.total in ("accurate", "estimate") or query.summary == "count" or query.count == 0


def _whole(query: SearchQuery, signed_here: str | None, more: bool) -> bool:
    """Whether the total is free: not asked either way, and this first page holds the whole
    result (as HAPI answers); otherwise counting would cost a query the client did not ask
    for."""
    return query.total is None and signed_here is None and not more and not _counted(query)


def _paging_links(
    url: str, shown: list[tuple[str, str]], binding: str, signed_here: str | None, page: Page
) -> list[tuple[str, str]]:
    """``first`` (on any page reached with a cursor), ``previous`` (the page before the first
    item), ``next`` (after the last) and ``last`` (before the end): keyset positions, so pages
    do not shift when data changes in between (search.html#paging)."""

    def link(relation: str, direction: str, position: str) -> tuple[str, str]:
        return relation, page_url(url, shown, cursor.page_token(binding, direction, position))

    links = [("first", page_url(url, shown, None))] if signed_here is not None else []
    if page.prev_cursor is not None:
        links.append(link("previous", cursor.BEFORE, page.prev_cursor))
    if page.next_cursor is not None:
        links += [link("next", cursor.AFTER, page.next_cursor), link("last", cursor.BEFORE, "")]
    return links


async def system_search(ctx: Context, req: FhirRequest) -> FhirResult:
    """``GET [base]?…``: the common parameters across every served type (or those in ``_type``),
    ordered by type then id and paged with one signed cursor across types (its position is the
    ``Type/id`` of a row)."""
    pairs = req.params + (_form_pairs(req) if req.method == "POST" else [])
    types, rest = _types(pairs, ctx)
    if any(k == "_sort" for k, _ in rest):
        raise Invalid("_sort is not supported in a search across types", ["_sort"])
    binding = _binding("", pairs)
    signed_here = next((v for k, v in rest if k == "_cursor"), None)
    position = _position(signed_here, binding, types)
    rest = [(k, v) for k, v in rest if k != "_cursor"]
    queries = {t: await query_for(ctx, t, rest) for t in types}
    for query in queries.values():
        await ctx.access.narrow(query, "s")
    first = queries[types[0]]
    extra: dict[str, Any] = {}
    if _counted(first):
        extra["total"] = sum([await ctx.store.count(q) for q in queries.values()])
    links = [("self", page_url(ctx.base_url, pairs, signed_here))]
    matches: list[StoredResource] = []
    if first.summary != "count" and first.count > 0:
        matches, paging, more = await page_across_types(
            ctx, queries, first.count, ctx.base_url, pairs, binding, signed_here, position
        )
        links += paging
        if _whole(first, signed_here, more):
            extra["total"] = len(matches)
    entries = [_entry(ctx, first, s, "match") for s in matches]
    ctx.access.disclose(matches)
    if first.includes or first.revincludes:
        more_resources = await included(
            ctx.access.reader(),
            searcher(ctx),
            ctx.params,
            matches,
            first.includes,
            first.revincludes,
        )
        entries += [_entry(ctx, first, s, "include") for s in more_resources]
        ctx.access.disclose(more_resources)
    return FhirResult(200, body=bundle("searchset", entries, links, **extra))


def _key(stored: StoredResource) -> str:
    return f"{stored.type}/{stored.id}"


Position = tuple[bool, tuple[str, str] | None]
"""Where a page across types starts: (backward, the ``(type, id)`` it starts after or before;
None from an end)."""


def _position(signed_here: str | None, binding: str, types: list[str]) -> Position:
    if signed_here is None:
        return False, None
    backward, position = cursor.read_page_token(signed_here, binding)
    return backward, _type_position(position, types)


def binding_of(here: str, pairs: list[tuple[str, str]]) -> str:
    """What a cursor of the search at ``here`` (``Patient/1/$everything``) with ``pairs`` is
    bound to: it is refused anywhere else."""
    return _binding(here, pairs)


async def page_across_types(
    ctx: Context,
    queries: dict[str, SearchQuery],
    count: int,
    url: str,
    shown: list[tuple[str, str]],
    binding: str,
    signed_here: str | None,
    position: Position | None = None,
) -> tuple[list[StoredResource], list[tuple[str, str]], bool]:
    """A page of ``count`` matches of ``queries`` (one per type, each already narrowed by the
    caller's access) in (type, id) order, from the signed cursor ``signed_here`` (None: the
    first page); its paging links (``first``, ``previous``, ``next``, ``last``) on ``url`` with
    ``shown``; and whether more follow. The system search and ``$everything`` page so."""
    types = sorted(queries)
    backward, after = position or _position(signed_here, binding, types)
    matches, more = await _across_types(ctx, queries, types, count, after, backward)
    page = edge_page(matches, lambda s: s, _key, more, after is not None, backward)
    return matches, _paging_links(url, shown, binding, signed_here, page), more


def _type_position(position: str | None, types: list[str]) -> tuple[str, str] | None:
    if position is None:  # ``last``: before the end
        return None
    after_type, _, after_id = position.partition("/")
    if after_type not in types or not after_id:
        raise Invalid("_cursor belongs to another search", ["_cursor"])
    return after_type, after_id


async def _across_types(
    ctx: Context,
    queries: dict[str, SearchQuery],
    types: list[str],
    count: int,
    after: tuple[str, str] | None,
    backward: bool,
) -> tuple[list[StoredResource], bool]:
    """A page in (type, id) order from a ``Type/id`` position, walking the types forwards or
    backwards from the position's type; and whether more matches lie beyond it in that
    direction."""
    if backward:
        order = [t for t in reversed(types) if after is None or t <= after[0]]
    else:
        order = [t for t in types if after is None or t >= after[0]]
    items: list[StoredResource] = []
    for i, type_ in enumerate(order):
        query = queries[type_]
        query.count, query.backward = count - len(items), backward
        query.after_id = after[1] if after is not None and type_ == after[0] else None
        page = await ctx.search(query)
        items = page.items + items if backward else items + page.items
        if (page.prev_cursor if backward else page.next_cursor) is not None:
            return items, True
        if len(items) >= count:
            return items, await _any_match(ctx, [queries[t] for t in order[i + 1 :]])
    return items, False


async def _any_match(ctx: Context, queries: list[SearchQuery]) -> bool:
    for query in queries:
        query.count, query.after_id, query.backward = 1, None, False
        if (await ctx.search(query)).items:
            return True
    return False


def _types(pairs: list[tuple[str, str]], ctx: Context) -> tuple[list[str], list[tuple[str, str]]]:
    """The types searched: those ``_type`` names (each must be searchable with the token), or
    every served type the token may search."""
    wanted = [v for k, v in pairs if k == "_type"]
    rest = [(k, v) for k, v in pairs if k != "_type"]
    if not wanted:
        types = sorted(t for t in SERVED_TYPES if ctx.access.decide(t, "s").permit)
        if not types:
            ctx.access.require("Resource", "s")
        return types, rest
    types = sorted({t.strip() for v in wanted for t in v.split(",") if t.strip()})
    unknown = [t for t in types if t not in SERVED_TYPES]
    if unknown or not types:
        raise Invalid(f"_type names types this server does not serve: {unknown}", ["_type"])
    for type_ in types:
        ctx.access.require(type_, "s")
    return types, rest
