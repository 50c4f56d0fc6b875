"""Chained parameters and ``_has``, answered by inner searches through the store's public search.

``subject:Patient.name=x`` becomes ``subject`` ∈ {the Patients named x}; ``_has:Observation:
patient:code=y`` becomes ``_id`` ∈ {the targets of the matching Observations' ``patient``}.
Inner searches nest (``subject.organization.name=x``). Written once for every store; an inner
search matching more than `INNER_LIMIT` resources is refused as too costly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson

from fhir_server.errors import Invalid, TooCostly
from fhir_server.references import local_targets
from fhir_server.search.fhirpath import compile_expression
from fhir_server.search.parse import parse_search
from fhir_server.search.registry import KnownParameters
from fhir_server.search.terms import Chain, Filter, ReferenceValue, SearchQuery, ids_filter
from fhir_server.stored import StoredResource

INNER_LIMIT = 10_000

Search = Callable[[SearchQuery], Awaitable[list[StoredResource]]]


async def build_query(
    search: Search,
    type_: str,
    pairs: list[tuple[str, str]],
    *,
    params: KnownParameters,
    **options: object,
) -> SearchQuery:
    """Parse ``pairs`` and turn every chain into a plain filter (by running its inner search)."""
    query = parse_search(type_, pairs, params=params, **options)  # type: ignore[arg-type]
    for chain in query.chains:
        query.filters.append(await _resolve(search, params, type_, chain))
    query.chains = []
    return query


async def _inner(
    search: Search, params: KnownParameters, type_: str, chain: Chain
) -> list[StoredResource]:
    limit = INNER_LIMIT + 1
    query = await build_query(
        search, type_, list(chain.inner), params=params, default_count=limit, max_count=limit
    )
    query.count = INNER_LIMIT + 1
    found = await search(query)
    if len(found) > INNER_LIMIT:
        raise TooCostly(
            f"{chain.written} matches more than {INNER_LIMIT} {type_} resources; narrow it",
            [chain.written],
        )
    return found


def _first_name(chain: Chain) -> str:
    name = chain.inner[0][0]
    return name if name.startswith("_has:") else name.split(".", 1)[0].split(":", 1)[0]


async def _resolve(search: Search, params: KnownParameters, type_: str, chain: Chain) -> Filter:
    if chain.param == "_has":
        assert chain.target is not None and chain.via is not None
        via = params.params_for(chain.target)[chain.via]
        evaluate = compile_expression(via.expression or "", chain.target)
        ids: set[str] = set()
        for found in await _inner(search, params, chain.target, chain):
            for ref_type, ref_id in local_targets(evaluate(orjson.loads(found.content or b"{}"))):
                if ref_type == type_:
                    ids.add(ref_id)
        return ids_filter(ids)
    param = params.params_for(type_)[chain.param]
    inner_name = _first_name(chain)
    targets = [chain.target] if chain.target else list(param.targets)
    targets = [
        t for t in targets if inner_name.startswith("_has:") or inner_name in params.params_for(t)
    ]
    if not targets:
        raise Invalid(
            f"{chain.written}: no target of {type_}.{chain.param} has a parameter {inner_name!r}",
            [chain.written],
        )
    values = [
        ReferenceValue(t, found.id)
        for t in targets
        for found in await _inner(search, params, t, chain)
    ]
    return Filter(chain.param, "reference", tuple(values))  # none: matches nothing
