"""``:missing`` on every store is what `Index.present` says: for every built-in parameter of
every type in the demo data set, ``param:missing=true`` finds exactly the resources whose index
lacks ``param`` (and ``false`` the others). MongoDB keeps ``present`` as ``has``, SQLite as
``idx_present``: one definition, rendered by each store."""

from __future__ import annotations

from collections import defaultdict

from dataset.demo import demo_resources
from fhir_server.search.extract import index_resource
from fhir_server.search.registry import builtin_params
from fhir_server.search.terms import Filter, SearchQuery
from fhir_server.store.base import Store

ALWAYS = {"_lastUpdated"}
"""Every stored version has one (the store stamps it: `with_last_updated`)."""


async def _ids(store: Store, type_: str, param: str, kind: str, missing: bool) -> set[str]:
    only = Filter(param, kind, (), modifier="missing", missing=missing)
    page = await store.search(SearchQuery(type_, [only], count=1000))
    assert page.next_cursor is None
    return {r.id for r in page.items}


async def test_missing_finds_what_the_index_says_is_absent(store: Store) -> None:
    by_type: dict[str, dict[str, set[str]]] = defaultdict(dict)
    async with store.transaction() as uow:
        for resource in demo_resources():
            type_, id_ = resource["resourceType"], resource["id"]
            await uow.write(type_, id_, resource, method="PUT")
            present = set(index_resource(type_, resource).present) | ALWAYS
            by_type[type_][id_] = present
    checked = 0
    for type_, resources in sorted(by_type.items()):
        for name, param in sorted(builtin_params(type_).items()):
            if param.type == "id":  # every resource has an id
                continue
            absent = {id_ for id_, present in resources.items() if name not in present}
            assert await _ids(store, type_, name, param.type, True) == absent, (type_, name)
            assert await _ids(store, type_, name, param.type, False) == set(resources) - absent
            checked += 1
    assert checked > 300
