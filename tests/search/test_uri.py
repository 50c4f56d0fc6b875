"""URI search (search.html#uri): exact (case-sensitive, whole URI), ``:below`` (the stored URI
starts with the value) and ``:above`` (the value starts with the stored URI); ``_profile`` and
``_source`` on every type."""

from __future__ import annotations

import pytest

from tests.search.fixtures import DK_CORE, DK_PATIENT, SOURCE_A
from tests.search.support import Searcher

# meta.profile: p1, p2 dk-core-patient; p3 dk-core-patient|3.0.0. meta.source: p1 system-a#req-1,
# p3 system-b.
CASES = [
    ("Patient", f"_profile={DK_PATIENT}", ["p1", "p2"]),
    ("Patient", f"_profile={DK_PATIENT}|3.0.0", ["p3"]),
    ("Patient", f"_profile={DK_PATIENT.upper()}", []),
    ("Patient", f"_profile={DK_CORE}", []),  # exact, not a prefix
    ("Patient", f"_profile={DK_PATIENT}/", []),
    ("Patient", f"_profile:below={DK_CORE}", ["p1", "p2", "p3"]),
    ("Patient", "_profile:below=http://hl7.dk/fhir/", ["p1", "p2", "p3"]),
    ("Patient", f"_profile:below={DK_PATIENT}", ["p1", "p2", "p3"]),
    ("Patient", "_profile:below=http://hl7.org/fhir/", []),
    ("Patient", f"_profile:above={DK_PATIENT}/_history/2", ["p1", "p2"]),
    ("Patient", f"_profile:above={DK_PATIENT}", ["p1", "p2"]),
    ("Patient", f"_profile:above={DK_CORE}", []),
    ("Patient", f"_profile={DK_PATIENT},{DK_PATIENT}|3.0.0", ["p1", "p2", "p3"]),
    ("Patient", f"_profile={DK_PATIENT}&gender=female", ["p2"]),
    ("Organization", f"_profile:below={DK_CORE}", []),  # another type's profiles
    ("Patient", f"_source={SOURCE_A}#req-1", ["p1"]),
    ("Patient", f"_source={SOURCE_A}", []),
    ("Patient", "_source=http://sundhed.dk/fhir/system-b", ["p3"]),
    ("Patient", "_source:below=http://sundhed.dk/fhir/", ["p1", "p3"]),
    ("Patient", f"_source:below={SOURCE_A}", ["p1"]),
    ("Patient", f"_source:above={SOURCE_A}#req-1/more", ["p1"]),
    ("Patient", f"_source=http://sundhed.dk/fhir/system-b,{SOURCE_A}#req-1", ["p1", "p3"]),
]


@pytest.mark.parametrize(("type_", "query", "expected"), CASES)
async def test_uri(search: Searcher, type_: str, query: str, expected: list[str]) -> None:
    assert await search.ids(type_, query) == expected


@pytest.mark.parametrize(
    ("query", "expression"),
    [
        ("_profile:contains=dk", "_profile:contains"),
        ("_profile:exact=x", "_profile:exact"),
        ("_profile:not=x", "_profile:not"),
        ("_source:text=x", "_source:text"),
    ],
)
async def test_uri_errors(search: Searcher, query: str, expression: str) -> None:
    await search.error("Patient", query, [expression])
