"""``_include`` and ``_revinclude`` (with ``:iterate`` and ``*``), through the store's public
read and search, so every store supports them alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from fhir_server.references import local_targets
from fhir_server.search.fhirpath import compile_expression
from fhir_server.search.registry import KnownParameters, SearchParam
from fhir_server.search.terms import Filter, Include, ReferenceValue, SearchQuery
from fhir_server.stored import StoredResource

MAX_ITERATIONS = 4
CHUNK = 100

Read = Callable[[str, str], Awaitable[StoredResource | None]]
Search = Callable[[SearchQuery], Awaitable[list[StoredResource]]]


def _params(params: KnownParameters, source: str, name: str) -> list[SearchParam]:
    found = params.params_for(source)
    if name == "*":
        return [p for p in found.values() if p.type == "reference"]
    return [found[name]] if name in found else []


def _targets(
    params: KnownParameters, resource: dict[str, Any], inc: Include
) -> list[tuple[str, str]]:
    type_ = resource["resourceType"]
    out = []
    for param in _params(params, type_, inc.param):
        found = local_targets(compile_expression(param.expression or "", type_)(resource))
        out += [(t, i) for t, i in found if inc.target is None or inc.target == t]
    return out


async def _include(
    read: Read,
    params: KnownParameters,
    inc: Include,
    sources: list[StoredResource],
    seen: set[tuple[str, str]],
) -> list[StoredResource]:
    out = []
    for s in sources:
        if inc.source != "*" and s.type != inc.source:
            continue
        for key in _targets(params, orjson.loads(s.content or b"{}"), inc):
            if key not in seen:
                seen.add(key)
                found = await read(*key)
                if found is not None and not found.deleted:
                    out.append(found)
    return out


async def _revinclude(
    search: Search,
    params: KnownParameters,
    inc: Include,
    targets: list[StoredResource],
    seen: set[tuple[str, str]],
) -> list[StoredResource]:
    out: list[StoredResource] = []
    if inc.source == "*":
        return out
    for param in _params(params, inc.source, inc.param):
        wanted = [t for t in targets if inc.target is None or t.type == inc.target]
        for i in range(0, len(wanted), CHUNK):
            values = tuple(ReferenceValue(t.type, t.id) for t in wanted[i : i + CHUNK])
            query = SearchQuery(inc.source, [Filter(param.name, "reference", values)], count=1000)
            for found in await search(query):
                if (found.type, found.id) not in seen:
                    seen.add((found.type, found.id))
                    out.append(found)
    return out


async def included(
    read: Read,
    search: Search,
    params: KnownParameters,
    matches: list[StoredResource],
    includes: list[Include],
    revincludes: list[Include],
) -> list[StoredResource]:
    """The resources the includes add to ``matches`` (each once, never a match again)."""
    seen = {(m.type, m.id) for m in matches}
    out: list[StoredResource] = []
    frontier = matches
    for round_ in range(MAX_ITERATIONS):
        new: list[StoredResource] = []
        for inc in includes:
            if round_ == 0 or inc.iterate:
                new += await _include(read, params, inc, frontier, seen)
        for inc in revincludes:
            if round_ == 0 or inc.iterate:
                new += await _revinclude(search, params, inc, frontier, seen)
        if not new:
            break
        out += new
        frontier = new
    return out
