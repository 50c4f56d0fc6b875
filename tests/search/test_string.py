"""String search (search.html#string): starts-with by default, case- and accent-insensitive —
with æ, ø and å kept as Danish letters of their own (ø is not an accented o, å is not an a) —
``:exact`` (whole value, case- and accent-sensitive) and ``:contains``."""

from __future__ import annotations

import pytest

from tests.search.support import Searcher

CASES = [
    # starts-with over every part of a HumanName (family, given, text)
    ("Patient", "name=hans", ["p3"]),
    ("Patient", "name=Hansen", ["p3"]),
    ("Patient", "name=ansen", []),
    ("Patient", "name=ukendt", ["p6"]),
    ("Patient", "name=anne-mette", ["p5"]),
    ("Patient", "name=s", ["p1", "p4"]),  # Søren, Soren
    # accents fold away...
    ("Patient", "name=jose", ["p3"]),
    ("Patient", "name=JOSÉ", ["p3"]),
    ("Patient", "name=josé", ["p3"]),
    ("Patient", "name=jöse", ["p3"]),
    # ...but æ, ø and å are letters: soren is not Søren, ase is not Åse
    ("Patient", "name=soren", ["p4"]),
    ("Patient", "name=søren", ["p1"]),
    ("Patient", "name=SØREN", ["p1"]),
    ("Patient", "name=ærø", ["p1"]),
    ("Patient", "name=ÆRØ", ["p1"]),
    ("Patient", "name=aero", []),
    ("Patient", "name=aerø", []),
    ("Patient", "name=åse", ["p2"]),
    ("Patient", "name=Åse", ["p2"]),
    ("Patient", "name=ase", []),
    ("Patient", "name=aase", []),
    ("Patient", "name=østergård", ["p2"]),
    ("Patient", "name=ostergard", []),
    ("Patient", "name=møller", ["p5"]),
    ("Patient", "name=moller", []),
    ("Practitioner", "name=nørg", ["pr2"]),
    ("Practitioner", "family=norg", []),
    ("Organization", "name=læge", ["o3"]),
    ("Organization", "name=laege", []),
    # å typed decomposed (a + combining ring, NFD) is still å
    ("Patient", "name=a\u030ase", ["p2"]),
    # family / given
    ("Patient", "family=hans", ["p3"]),
    ("Patient", "family=jose", []),
    ("Patient", "given=jose", ["p3"]),
    ("Patient", "given=aks", ["p4"]),  # the second given name
    ("Organization", "name=rh", ["o1"]),  # Organization.alias
    ("Organization", "name=rigs", ["o1"]),
    # :exact — the whole value as written
    ("Patient", "name:exact=José", ["p3"]),
    ("Patient", "name:exact=jose", []),
    ("Patient", "name:exact=josé", []),
    ("Patient", "name:exact=Jos", []),
    ("Patient", "family:exact=Østergård", ["p2"]),
    ("Patient", "family:exact=østergård", []),
    ("Patient", "family:exact=Ærø", ["p1"]),
    ("Organization", "name:exact=Rigshospitalet", ["o1"]),
    ("Organization", "name:exact=Rigshospital", []),
    # :contains — anywhere, folded like the default
    ("Patient", "name:contains=ans", ["p3"]),
    ("Patient", "name:contains=METTE", ["p5"]),
    ("Patient", "name:contains=ø", ["p1", "p2", "p5"]),  # Søren Ærø, Østergård, Møller
    ("Patient", "name:contains=OSÉ", ["p3"]),
    ("Patient", "name:contains=rgå", ["p2"]),
    ("Patient", "name:contains=rga", []),
    ("Organization", "name:contains=universitet", ["o2"]),
    ("Organization", "name:contains=østerg", ["o3"]),
    ("Observation", "value-string:contains=æbler", ["obs6"]),
    # Address: every part (line, city, postalCode, country)
    ("Patient", "address=østerbro", ["p1"]),
    ("Patient", "address=2100", ["p1"]),
    ("Patient", "address=københavn", ["p1", "p5"]),
    ("Patient", "address=KØBENHAVN K", ["p5"]),
    ("Patient", "address=kobenhavn", []),
    ("Patient", "address:contains=havn", ["p1", "p5"]),
    ("Patient", "address:contains=5\\, 2", ["p5"]),  # an escaped comma is part of the value
    ("Patient", "address-city=københavn", ["p1", "p5"]),
    ("Patient", "address-city=aarhus", ["p2"]),
    ("Patient", "address-city=østerbro", []),  # a line, not a city
    ("Patient", "address-city:exact=København K", ["p5"]),
    ("Patient", "address-city:exact=København", []),
    ("Patient", "address-postalcode=21", ["p1"]),
    ("Patient", "address-country=dk", ["p2"]),
    ("Organization", "address-city=københavn", ["o1"]),
    # Observation value-string: valueString and valueCodeableConcept.text
    ("Observation", "value-string=patienten", ["obs6"]),
    ("Observation", "value-string=negativ", ["obs7"]),
    # OR and AND
    ("Patient", "name=jose,åse", ["p2", "p3"]),
    ("Patient", "given=soren,åse", ["p2", "p4"]),
    ("Patient", "name:exact=José,Åse", ["p2", "p3"]),
    ("Patient", "name=s&name=aks", ["p4"]),
    ("Patient", "name=s&name=ærø", ["p1"]),
    ("Patient", "name=s&name=hansen", []),
    ("Patient", "name=s&address-city=københavn", ["p1"]),
]


@pytest.mark.parametrize(("type_", "query", "expected"), CASES)
async def test_string(search: Searcher, type_: str, query: str, expected: list[str]) -> None:
    assert await search.ids(type_, query) == expected


@pytest.mark.parametrize(
    ("query", "expression"),
    [
        ("name:text=jose", "name:text"),
        ("name:not=jose", "name:not"),
        ("name:below=jose", "name:below"),
        ("name=", "name"),
        ("address-city:exact=", "address-city:exact"),
    ],
)
async def test_string_errors(search: Searcher, query: str, expression: str) -> None:
    await search.error("Patient", query, [expression])
