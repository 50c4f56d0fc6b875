"""Small pieces several interactions share: ids, bodies, conditional matching."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fhir_server.access import VISIBLE
from fhir_server.errors import Gone, Invalid, MultipleMatches, NotFound, UnknownType
from fhir_server.interactions.context import Context, FhirRequest
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search.resolve import build_query
from fhir_server.search.terms import SearchQuery
from fhir_server.stored import StoredResource

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def check_type(type_: str) -> str:
    if type_ not in SERVED_TYPES:
        raise UnknownType(f"Resource type {type_!r} is not served here", [type_])
    return type_


def check_id(id_: str) -> str:
    """The one test of a client-chosen id (URL paths, bodies, Bundle entries): R4's
    ``[A-Za-z0-9-.]{1,64}``, but not ``.`` or ``..`` — dot segments, which URL
    normalization removes, so a resource so named could never be addressed."""
    if not _ID.fullmatch(id_) or not id_.strip("."):
        shown = id_ if len(id_) <= 80 else id_[:80] + "…"
        raise Invalid(f"{shown!r} is not a valid resource id ([A-Za-z0-9-.]{{1,64}})", ["id"])
    return id_


def new_id() -> str:
    """A UUID version 7 (RFC 9562): milliseconds since the epoch, then 74 random bits. Ids
    assigned in time order are inserted at the right edge of every B-tree keyed by id (in
    SQLite: the resource and version tables, reference targets), so a write dirties a few
    pages instead of one random page per index; the random part keeps them unguessable
    enough and unique across server processes."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & (2**62 - 1)
    return str(uuid.UUID(int=value))


def body_resource(ctx: Context, req: FhirRequest, type_: str) -> dict[str, Any]:
    """The request's resource, structurally valid for ``type_``."""
    resource = req.document()
    if resource is None:
        raise Invalid(f"A {type_} resource is required in the request body")
    if not req.body_checked:
        resource = ctx.services.checks.check_resource(type_, resource, req.warnings)
    return ctx.access.prepare(type_, resource)


def live(stored: StoredResource | None, type_: str, id_: str) -> StoredResource:
    """The current version, or 404 / 410 (deleted) — the read-side existence rule in one place."""
    if stored is None:
        raise NotFound(f"{type_}/{id_} is not known", [f"{type_}/{id_}"])
    if stored.deleted:
        raise Gone(f"{type_}/{id_} was deleted (version {stored.version})", [f"{type_}/{id_}"])
    return stored


def criteria_pairs(raw: str) -> list[tuple[str, str]]:
    """``Patient?identifier=x`` or ``identifier=x`` → query pairs."""
    return parse_qsl(raw.split("?", 1)[1] if "?" in raw else raw, keep_blank_values=True)


async def match(
    ctx: Context,
    type_: str,
    pairs: list[tuple[str, str]],
    limit: int = 2,
    letters: str = VISIBLE,
) -> list[StoredResource]:
    """Resources matching conditional criteria, at most ``limit`` (enough to tell 0, 1 or many).

    Only resources the principal may see (or act on: ``letters``) can match: a conditional
    operation must not reveal that others exist. The search is narrowed by the access, and
    every match is then checked against the resource itself, exactly as a write by id is
    (`Access.admit_target`): one it may not see is no match, one it sees but may not act on
    is 403."""
    filters = [(k, v) for k, v in pairs if k not in ("_format", "_pretty")]
    query = await build_query(
        searcher(ctx),
        type_,
        filters,
        params=ctx.params,
        default_count=limit,
        max_count=limit,
        base=ctx.base_url,
    )
    if not query.filters:  # `_count`/`_cursor` alone would match every resource of the type
        raise Invalid(
            "A conditional interaction needs at least one search parameter that filters",
            [name for name, _ in filters][:1],
        )
    query.count = limit
    query.after_id = None
    seen = VISIBLE + "".join(c for c in letters if c not in VISIBLE)
    await ctx.access.narrow(query, seen, quiet=True)
    if ctx.uow is not None:  # the match decides a write: racing deciders must conflict
        # on the type, not the criteria text: different criteria can match the same resource
        await ctx.uow.lock(type_)
    found: list[StoredResource] = []
    while len(found) < limit:
        page = await ctx.search(query)
        for stored in await ctx.access.admit_all(page.items, seen):
            if len(found) < limit and await ctx.access.admit_target(stored, letters) is not None:
                found.append(stored)
        if page.next_cursor is None:
            break
        query.after_id = page.next_cursor
    return found


async def match_one(
    ctx: Context, type_: str, pairs: list[tuple[str, str]], letters: str = VISIBLE
) -> StoredResource | None:
    found = await match(ctx, type_, pairs, letters=letters)
    if len(found) > 1:
        raise MultipleMatches(
            f"The criteria {_qs(pairs)} match more than one {type_}", [f"{type_}?{_qs(pairs)}"]
        )
    return found[0] if found else None


def _qs(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in pairs)


def searcher(ctx: Context) -> Callable[[SearchQuery], Awaitable[list[StoredResource]]]:
    """Every match of a query, page after page (for inner searches and includes), among the
    resources the principal may see: a chain, ``_has`` or ``_revinclude`` never reaches more."""

    async def search_all(query: SearchQuery) -> list[StoredResource]:
        await ctx.access.narrow(query, VISIBLE, quiet=True)
        return await every(ctx, query)

    return search_all


async def every(ctx: Context, query: SearchQuery) -> list[StoredResource]:
    """Every match of an already narrowed query, page after page, up to ``query.count``."""
    out: list[StoredResource] = []
    while True:
        page = await ctx.search(query)
        out += page.items
        if page.next_cursor is None or len(out) >= query.count:
            return out
        query.after_id = page.next_cursor
