"""`FilterGroup` (an OR of ANDs of criteria, maybe negated, nested) on every store, checked as a
property: for random groups over a pool of plain filters — references (one, several, and more
than SQLite binds one by one), tokens, ``:not``, ``:missing``, dates, ``_id``, ``_security`` —
the store's matches, its count and every page equal the set algebra of the leaves' own
matches, evaluated in Python. What consent narrowing builds (``owner ∈ patients AND NOT
(_security = R)``) is one such group."""

from __future__ import annotations

import random
from typing import Any

from fhir_server.search.parse import parse_search
from fhir_server.search.registry import SPECIFICATION
from fhir_server.search.terms import (
    Criterion,
    Filter,
    FilterGroup,
    ReferenceValue,
    SearchQuery,
    SortKey,
)
from fhir_server.store.base import Store

CONFIDENTIAL = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
PLANS = 18


def _plan(n: int) -> dict[str, Any]:
    """Attributes spread so that every leaf matches some plans and misses others."""
    body: dict[str, Any] = {
        "resourceType": "CarePlan",
        "status": ("active", "completed", "draft")[n % 3],
        "intent": "plan",
        "subject": {"reference": f"Patient/p{n % 5}"},
        "period": {
            "start": f"202{3 + n % 3}-0{1 + n % 9}-01",
            "end": f"202{3 + n % 3}-0{1 + n % 9}-28",
        },
    }
    if n % 4:
        body["category"] = [{"coding": [{"code": ("psych", "somatic", "social")[n % 3]}]}]
    if n % 3 == 1:
        body["meta"] = {"security": [{"system": CONFIDENTIAL, "code": "R"}]}
    return body


def _parsed(*pairs: tuple[str, str]) -> Filter:
    [only] = parse_search(
        "CarePlan", list(pairs), params=SPECIFICATION, default_count=10, max_count=10
    ).filters
    assert isinstance(only, Filter)
    return only


MANY = tuple(ReferenceValue("Patient", f"nobody{n}") for n in range(70))

LEAVES: list[Filter] = [
    _parsed(("patient", "Patient/p0")),
    _parsed(("patient", "Patient/p1,Patient/p2")),
    Filter("patient", "reference", (*MANY, ReferenceValue("Patient", "p3"))),  # json_each
    _parsed(("status", "active")),
    _parsed(("status:not", "active")),
    _parsed(("_security", f"{CONFIDENTIAL}|R")),
    _parsed(("category", "psych,social")),
    _parsed(("category:missing", "true")),
    _parsed(("date", "ge2025-01-01")),
    _parsed(("date", "lt2024-06-01")),
    _parsed(("_id", "cp1,cp4,cp7,cp12")),
    _parsed(("_tag", "nothing-has-it")),
]


async def _all_ids(store: Store, query: SearchQuery) -> list[str]:
    ids: list[str] = []
    while True:
        page = await store.search(query)
        ids += [r.id for r in page.items]
        if page.next_cursor is None:
            return ids
        query.after_id = page.next_cursor


def _tree(
    rng: random.Random, depth: int, leaves: list[set[str]], every: set[str]
) -> tuple[Criterion, set[str]]:
    """A random criterion and the ids it must match, computed from the leaves' own matches."""
    if depth == 0 or rng.random() < 0.35:
        n = rng.randrange(len(LEAVES))
        return LEAVES[n], leaves[n]
    branches: list[tuple[Criterion, ...]] = []
    matched: set[str] = set()
    for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
        parts = [_tree(rng, depth - 1, leaves, every) for _ in range(rng.choice((0, 1, 2, 2, 3)))]
        branches.append(tuple(c for c, _ in parts))
        matched |= set.intersection(every, *(ids for _, ids in parts))
    negate = rng.random() < 0.4
    return FilterGroup(tuple(branches), negate), (every - matched if negate else matched)


async def test_groups_match_their_set_algebra_with_exact_counts_and_pages(store: Store) -> None:
    async with store.transaction() as uow:
        for n in range(PLANS):
            await uow.write("CarePlan", f"cp{n}", _plan(n), method="PUT")
        await uow.write("CarePlan", "gone", _plan(0), method="PUT")
    async with store.transaction() as uow:
        await uow.delete("CarePlan", "gone")  # a negation never brings back what was deleted

    every = set(await _all_ids(store, SearchQuery("CarePlan", count=100)))
    assert len(every) == PLANS
    leaves = [set(await _all_ids(store, SearchQuery("CarePlan", [f], count=100))) for f in LEAVES]
    assert all(0 < len(ids) < PLANS for ids in leaves[:-1]) and leaves[-1] == set()

    rng = random.Random(12)
    for round_ in range(70):
        group, expected = _tree(rng, 3, leaves, every)
        filters: list[Criterion] = [group]
        if rng.random() < 0.5:  # beside a plain filter, which may drive the query
            n = rng.randrange(len(LEAVES))
            filters.append(LEAVES[n])
            expected = expected & leaves[n]
        rng.shuffle(filters)
        count = rng.choice((1, 2, 5, 50))
        where = f"round {round_}: {filters}"

        assert await store.count(SearchQuery("CarePlan", list(filters))) == len(expected), where
        walked = await _all_ids(store, SearchQuery("CarePlan", list(filters), count=count))
        assert walked == sorted(expected), where
        last = await store.search(
            SearchQuery("CarePlan", list(filters), count=count, backward=True)
        )
        assert [r.id for r in last.items] == sorted(expected)[-count:], where
        by_date = SearchQuery(
            "CarePlan", list(filters), count=count, sort=[SortKey("date", "date")]
        )
        assert set(await _all_ids(store, by_date)) == expected, where


async def test_the_consent_shape(store: Store) -> None:
    """``owner ∈ related AND NOT (_security = R)`` for a partly blocked patient, OR'd with the
    unblocked ones: the shape consent narrowing pushes into a clinician's search."""
    async with store.transaction() as uow:
        for n in range(PLANS):
            await uow.write("CarePlan", f"cp{n}", _plan(n), method="PUT")
    restricted = _parsed(("_security", f"{CONFIDENTIAL}|R"))
    narrowing = FilterGroup(
        (
            (_parsed(("patient", "Patient/p0,Patient/p1")),),
            (_parsed(("patient", "Patient/p2")), FilterGroup(((restricted,),), negate=True)),
        )
    )
    query = SearchQuery("CarePlan", [_parsed(("status", "active")), narrowing], count=2)
    expected = sorted(
        f"cp{n}"
        for n in range(PLANS)
        if n % 3 == 0 and (n % 5 in (0, 1) or (n % 5 == 2 and n % 3 != 1))
    )
    assert expected  # the data has such plans
    assert await store.count(query) == len(expected)
    assert await _all_ids(store, query) == expected
