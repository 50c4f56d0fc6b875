"""``:missing=true|false`` (search.html#missing) on every parameter type: true finds the resources
without any value for the parameter, false those with at least one."""

from __future__ import annotations

import pytest

from tests.search.support import Searcher

ALL_PATIENTS = ["p1", "p2", "p3", "p4", "p5", "p6"]

CASES = [
    # date
    ("Patient", "birthdate:missing=true", ["p6"]),
    ("Patient", "birthdate:missing=false", ["p1", "p2", "p3", "p4", "p5"]),
    ("Patient", "death-date:missing=false", ["p2"]),
    ("CarePlan", "date:missing=true", ["cp5"]),  # Periods with an open end are values
    ("CarePlan", "date:missing=false", ["cp1", "cp2", "cp3", "cp4"]),
    ("MedicationStatement", "effective:missing=true", []),
    ("Task", "modified:missing=true", ["t1", "t2"]),
    ("Patient", "_lastUpdated:missing=true", []),
    # token
    ("Patient", "gender:missing=true", ["p6"]),
    ("Patient", "identifier:missing=true", ["p6"]),
    ("Patient", "active:missing=true", ["p4", "p5", "p6"]),
    ("Patient", "active:missing=false", ["p1", "p2", "p3"]),  # false is a value
    ("Patient", "email:missing=false", ["p1", "p2"]),
    ("Patient", "_tag:missing=false", ["p2"]),
    ("CarePlan", "category:missing=true", ["cp4", "cp5"]),
    ("ServiceRequest", "priority:missing=true", ["sr3"]),
    ("MedicationStatement", "code:missing=true", []),  # text alone is a value
    ("Observation", "component-code:missing=false", ["obs4"]),
    # id: every resource has one
    ("Patient", "_id:missing=true", []),
    ("Patient", "_id:missing=false", ALL_PATIENTS),
    # string
    ("Patient", "name:missing=true", []),
    ("Patient", "address:missing=true", ["p4", "p6"]),
    ("Patient", "address:missing=false", ["p1", "p2", "p3", "p5"]),
    ("Patient", "address-country:missing=false", ["p2"]),
    ("Observation", "value-string:missing=false", ["obs6", "obs7"]),
    # reference
    ("Patient", "organization:missing=true", ["p3", "p4", "p5", "p6"]),
    ("Patient", "general-practitioner:missing=false", ["p1", "p3"]),
    ("Observation", "subject:missing=true", ["obs8"]),
    ("CarePlan", "patient:missing=true", ["cp5"]),  # a Group subject is no patient
    ("CarePlan", "subject:missing=true", []),
    ("ServiceRequest", "requester:missing=true", []),  # sr3's holds only an identifier
    # quantity
    ("Observation", "value-quantity:missing=true", ["obs4", "obs6", "obs7", "obs9"]),
    ("Observation", "value-quantity:missing=false", ["obs1", "obs2", "obs3", "obs5", "obs8"]),
    ("Observation", "component-value-quantity:missing=false", ["obs4"]),
    ("Encounter", "length:missing=true", ["enc2"]),
    # uri
    ("Patient", "_profile:missing=true", ["p4", "p5", "p6"]),
    ("Patient", "_source:missing=true", ["p2", "p4", "p5", "p6"]),
    ("Patient", "_source:missing=false", ["p1", "p3"]),
    # combined with other parameters
    ("Patient", "gender=male&address:missing=true", ["p4"]),
    ("Patient", "birthdate:missing=false&active:missing=true", ["p4", "p5"]),
    ("Patient", "address:missing=true&address:missing=false", []),
]


@pytest.mark.parametrize(("type_", "query", "expected"), CASES)
async def test_missing(search: Searcher, type_: str, query: str, expected: list[str]) -> None:
    assert await search.ids(type_, query) == expected


@pytest.mark.parametrize(
    "query", ["birthdate:missing=yes", "birthdate:missing=TRUE", "birthdate:missing=true,false"]
)
async def test_missing_takes_true_or_false(search: Searcher, query: str) -> None:
    await search.error("Patient", query, ["birthdate:missing"])
