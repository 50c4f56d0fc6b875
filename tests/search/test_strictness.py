"""Strict parsing (search.html#errors): an unknown parameter or modifier, a parameter type the
server cannot search (special) or a malformed value is a 400 naming the parameter as
written — never silently ignored, unless the client asks for ``Prefer: handling=lenient``.
Also ``_id`` with OR lists and AND repetition."""

from __future__ import annotations

import pytest

from tests.search.conftest import Seeded
from tests.search.support import Searcher

ALL_PATIENTS = ["p1", "p2", "p3", "p4", "p5", "p6"]


@pytest.mark.parametrize(
    ("type_", "query", "expected"),
    [
        ("Patient", "", ALL_PATIENTS),
        ("Patient", "_id=p1", ["p1"]),
        ("Patient", "_id=p3,p1,nope", ["p1", "p3"]),
        ("Patient", "_id=nope", []),
        ("Patient", "_id=p1,p3&_id=p3,p5", ["p3"]),
        ("Patient", "_id=p1&_id=p3", []),
        ("Patient", "_id=p1,p2,p3&gender=female", ["p2"]),
        ("Patient", "_id=obs1", []),  # an Observation's id
        ("Observation", "_id=obs1,p1", ["obs1"]),
        ("CarePlan", "_id=cp1,cp2,cp3&status=active,completed&intent=plan", ["cp1"]),
        # unknown parameters are never a reason to match less or more
        ("Patient", "_count=2", ["p1", "p2"]),
        ("Patient", "_count=2&_id=p5,p6,p4", ["p4", "p5"]),
    ],
)
async def test_id_and_or_lists(
    search: Searcher, type_: str, query: str, expected: list[str]
) -> None:
    assert await search.ids(type_, query if query else []) == expected


UNKNOWN = [
    ("Patient", "foo=bar", "foo"),
    ("Patient", "foo:exact=bar", "foo:exact"),
    ("Patient", "Name=jose", "Name"),  # names are case-sensitive
    ("Patient", "subject=Patient/p1", "subject"),  # another type's parameter
    ("Patient", "status=active", "status"),
    ("Observation", "birthdate=1950", "birthdate"),
    # special parameters without an expression
    ("Patient", "_text=hansen", "_text"),
    ("Patient", "_content=hansen", "_content"),
    ("Patient", "_query=everything", "_query"),
    ("Patient", "_filter=name eq jose", "_filter"),
    ("Patient", "_list=l1", "_list"),
]


@pytest.mark.parametrize(("type_", "query", "expression"), UNKNOWN)
async def test_unknown_parameter(search: Searcher, type_: str, query: str, expression: str) -> None:
    body = await search.error(type_, query, [expression])
    assert repr(expression.split(":")[0]) in body["issue"][0]["diagnostics"]


UNKNOWN_MODIFIER = [
    ("Patient", "name:foo=jose", "name:foo"),
    ("Patient", "name:EXACT=José", "name:EXACT"),
    ("Patient", "gender:foo=male", "gender:foo"),
    ("Patient", "gender:not-in=http://x", "gender:not-in"),
    ("Patient", "birthdate:foo=1950", "birthdate:foo"),
    ("Patient", "_id:foo=p1", "_id:foo"),
    ("Patient", "_id:not=p1", "_id:not"),
    ("Patient", "_profile:foo=x", "_profile:foo"),
    ("Patient", "organization:foo=o1", "organization:foo"),
    ("Observation", "value-quantity:foo=5", "value-quantity:foo"),
]


@pytest.mark.parametrize(("type_", "query", "expression"), UNKNOWN_MODIFIER)
async def test_unknown_modifier(search: Searcher, type_: str, query: str, expression: str) -> None:
    await search.error(type_, query, [expression])


@pytest.mark.parametrize(
    ("query", "expression"),
    [
        ("_count=abc", "_count"),
        ("_count=-1", "_count"),
        ("gender=", "gender"),
        ("gender=,", "gender"),
        ("identifier=\\,&foo=1", "foo"),
    ],
)
async def test_malformed(search: Searcher, query: str, expression: str) -> None:
    await search.error("Patient", query, [expression])


async def test_first_error_wins_and_nothing_is_ignored(search: Searcher) -> None:
    # a valid parameter does not hide an invalid one after it
    await search.error("Patient", "gender=male&birthdate=notadate", ["birthdate"])
    await search.error("Patient", "foo=1&birthdate=notadate", ["foo"])


async def test_lenient_handling_ignores_unknown_parameters(seeded: Seeded) -> None:
    resp = await seeded.client.get(
        "Patient",
        params=[("gender", "female"), ("foo", "bar")],
        headers={"Prefer": "handling=lenient"},
    )
    assert resp.status_code == 200, resp.text
    entries = resp.json()["entry"]
    matches = [e["resource"]["id"] for e in entries if e["search"]["mode"] == "match"]
    assert matches == ["p2", "p5"]
    (outcome,) = [e["resource"] for e in entries if e["search"]["mode"] == "outcome"]
    assert outcome["issue"][0]["code"] == "not-supported"
    assert outcome["issue"][0]["expression"] == ["foo"]
    # invalid values of known parameters are still errors
    resp = await seeded.client.get(
        "Patient", params=[("birthdate", "notadate")], headers={"Prefer": "handling=lenient"}
    )
    assert resp.status_code == 400
    assert resp.json()["issue"][0]["expression"] == ["birthdate"]


async def test_post_search_matches_get(seeded: Seeded, search: Searcher) -> None:
    form = {"name": "søren,åse", "birthdate": "lt1960"}
    resp = await seeded.client.post("Patient/_search", data=form)
    assert resp.status_code == 200, resp.text
    assert [e["resource"]["id"] for e in resp.json()["entry"]] == ["p1"]
    assert await search.ids("Patient", list(form.items())) == ["p1"]
