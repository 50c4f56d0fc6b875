"""history for an instance, a type and the whole system (http://hl7.org/fhir/R4/http.html#history).

Newest first; paged by an opaque keyset cursor from the store, so pages do not shift when new
versions are written between requests.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fhir_server.bundles.build import bundle, full_url, page_url, resource_fragment
from fhir_server.errors import Invalid, NotFound
from fhir_server.interactions.common import check_id
from fhir_server.interactions.context import Context, FhirRequest, FhirResult
from fhir_server.numbers import parse_count
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search.dates import date_range
from fhir_server.store.base import HistoryQuery
from fhir_server.stored import StoredResource

_ALLOWED = frozenset({"_since", "_at", "_count", "_cursor", "_format", "_pretty"})
_ONCE = frozenset({"_since", "_at", "_count"})
"""http.html#history: "Each of these parameters SHALL NOT appear more than once"."""
_STATUS = {"POST": "201 Created", "DELETE": "204 No Content"}


def _query(ctx: Context, req: FhirRequest, type_: str | None, id_: str | None) -> HistoryQuery:
    since = at = None
    count = ctx.settings.default_page_size
    cursor = None
    seen: set[str] = set()
    for name, value in req.params:
        if name not in _ALLOWED:
            raise Invalid(f"Unknown or unsupported history parameter {name!r}", [name])
        if name in seen and name in _ONCE:
            raise Invalid(f"History parameter {name} may appear only once", [name])
        seen.add(name)
        if name == "_since":
            since = date_range(value, name)[0]
        elif name == "_at":
            at = date_range(value, name)
        elif name == "_count":
            parsed = parse_count(value, ctx.settings.max_page_size, clamp=True)
            if parsed is None:
                raise Invalid(f"_count must be a non-negative integer, not {value!r}", ["_count"])
            count = parsed
        elif name == "_cursor":
            cursor = value
    return HistoryQuery(type_, id_, since, at, count, cursor)


def _entry(base: str, stored: StoredResource) -> dict[str, Any]:
    url = f"{stored.type}/{stored.id}"
    entry: dict[str, Any] = {"fullUrl": full_url(base, stored)}
    if not stored.deleted:
        entry["resource"] = resource_fragment(stored)
    status = _STATUS.get(stored.method, "201 Created" if stored.version == 1 else "200 OK")
    entry["request"] = {
        "method": stored.method,
        "url": stored.type if stored.method == "POST" else url,
    }
    entry["response"] = {
        "status": status,
        "etag": stored.etag,
        "lastModified": stored.last_updated,
    }
    return entry


async def history(
    ctx: Context, req: FhirRequest, type_: str | None = None, id_: str | None = None
) -> FhirResult:
    if id_ is not None:
        check_id(id_)
    letters = "r" if id_ is not None else "s"  # instance history is a read, the others searches
    if type_ is not None:
        ctx.access.require(type_, letters)
    elif not any(ctx.access.decide(t, "s").permit for t in SERVED_TYPES):
        ctx.access.require("Resource", "s")
    query = _query(ctx, req, type_, id_)
    if type_ is not None and id_ is not None and await _current(ctx, type_, id_) is None:
        # http.html#history: a history that is not available is a 404 (a deleted one is not)
        raise NotFound(f"{type_}/{id_} is not known", [f"{type_}/{id_}"])
    try:
        shown, next_cursor = await _page(ctx, query, letters)
    except ValueError as err:  # the stores reject a cursor they did not issue
        if query.cursor is None:
            raise
        msg = f"_cursor {query.cursor!r} is not a cursor this server issued"
        raise Invalid(msg, ["_cursor"]) from err
    here = "/".join(p for p in (ctx.base_url, type_, id_, "_history") if p)
    links = [("self", page_url(here, req.params, query.cursor))]
    if next_cursor:
        links.append(("next", page_url(here, req.params, next_cursor)))
    ctx.access.disclose(shown)
    entries = [_entry(ctx.base_url, s) for s in shown]
    return FhirResult(200, body=bundle("history", entries, links))


_SCAN = 10_000
"""Versions one history request reads at most to fill its page with ones the principal may see."""


async def _page(
    ctx: Context, query: HistoryQuery, letters: str
) -> tuple[list[StoredResource], str | None]:
    """A page of ``query.count`` versions the principal may see, and the cursor after its last
    one when another it may see follows. The versions it may not see are skipped, not merely
    left out of the store's page: page sizes and next links must not count them (a page short
    of ``_count``, or a next link to an empty page, would reveal that hidden versions exist).
    Past `_SCAN` versions read, the page ends where the reading did."""
    if ctx.access.unrestricted:
        page = await ctx.store.history(query)
        return page.items, page.next_cursor
    out: list[StoredResource] = []
    last: str | None = None  # the position of the last version on the page
    cursor, scanned = query.cursor, 0
    while True:
        size = query.count + 1 if scanned == 0 else max(query.count + 1, 100)
        page = await ctx.store.history(replace(query, count=size, cursor=cursor))
        kept = {id(s) for s in await ctx.access.admit_all(page.items, letters)}
        for item, position in zip(page.items, page.positions or (), strict=True):
            if id(item) not in kept:
                continue
            if len(out) == query.count:
                return out, last  # a version it may see follows the page
            out.append(item)
            last = position
        scanned += len(page.items)
        if page.next_cursor is None:
            return out, None
        if scanned >= _SCAN:
            return out, last if len(out) == query.count else page.next_cursor
        cursor = page.next_cursor


async def _current(ctx: Context, type_: str, id_: str) -> StoredResource | None:
    """The current version, if the principal may see the resource (else as if unknown)."""
    return await ctx.access.admit(await ctx.read(type_, id_))
