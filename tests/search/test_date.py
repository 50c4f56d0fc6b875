"""Date search (search.html#date, #prefix): a value is the range its precision implies
(``1950`` is the whole year), a Period its [start, end] with open ends unbounded, and every prefix
compares the two ranges:

  eq  search range contains the target      ne  it does not
  gt  target extends above the search range lt  target extends below it
  ge  gt or eq                              le  lt or eq
  sa  target starts after the search range  eb  target ends before it
  ap  the ranges overlap, the search range widened by 10 % of the gap between now and the value

Search values without a timezone are UTC, as are stored dates without one.
"""

from __future__ import annotations

import pytest

from tests.search.conftest import Seeded
from tests.search.support import Searcher

# birthDate: p1 1950-03-15, p2 1962-07, p3 1985, p4 1950-03-16, p5 2001-12-31, p6 none
BIRTHDATE = [
    ("1950-03-15", ["p1"]),
    ("eq1950-03-15", ["p1"]),
    ("1950-03", ["p1", "p4"]),
    ("1950", ["p1", "p4"]),
    ("1962-07", ["p2"]),
    ("1962", ["p2"]),
    ("1962-07-14", []),  # a month is not within a day
    ("1985", ["p3"]),
    ("1985-06", []),
    ("1950-03-15T12:00:00+01:00", []),  # a day is not within a second
    ("ne1950-03-15", ["p2", "p3", "p4", "p5"]),  # never matches a resource without a value
    ("ne1962-07-14", ["p1", "p2", "p3", "p4", "p5"]),
    ("gt1962", ["p3", "p5"]),
    ("gt1962-07-14", ["p2", "p3", "p5"]),  # July 1962 extends beyond the 14th
    ("gt1962-07", ["p3", "p5"]),
    ("ge1962-07", ["p2", "p3", "p5"]),
    ("ge1962-07-14", ["p2", "p3", "p5"]),
    ("lt1962-07-14", ["p1", "p2", "p4"]),  # July 1962 starts before the 14th
    ("lt1962-07", ["p1", "p4"]),
    ("le1962-07", ["p1", "p2", "p4"]),
    ("le1950-03-15", ["p1"]),
    ("lt1950-03-15", []),
    ("sa1962-07-14", ["p3", "p5"]),
    ("sa1962-06", ["p2", "p3", "p5"]),
    ("sa1962", ["p3", "p5"]),
    ("eb1962-07-14", ["p1", "p4"]),
    ("eb1962-08", ["p1", "p2", "p4"]),
    ("eb1985", ["p1", "p2", "p4"]),
    ("ap1985-06", ["p3"]),  # ±4 years around mid-1985 (in 2026)
    ("1950-03-15,1985", ["p1", "p3"]),
    ("lt1950,gt2000", ["p5"]),
]


@pytest.mark.parametrize(("value", "expected"), BIRTHDATE)
async def test_birthdate(search: Searcher, value: str, expected: list[str]) -> None:
    assert await search.ids("Patient", f"birthdate={value}") == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("birthdate=ge1950-03-15&birthdate=lt1950-03-16", ["p1"]),
        ("birthdate=ge1950&birthdate=le1962-12-31", ["p1", "p2", "p4"]),
        ("birthdate=gt1950&birthdate=lt1950", []),
        # deceasedDateTime at second precision with an offset: the same instant in UTC
        ("death-date=2020-05-01", ["p2"]),
        ("death-date=2020-05-01T10:00:00+02:00", ["p2"]),
        ("death-date=2020-05-01T08:00:00Z", ["p2"]),
        ("death-date=2020-05-01T10:00:00Z", []),
        ("death-date=ge2020", ["p2"]),
    ],
)
async def test_patient_dates(search: Searcher, query: str, expected: list[str]) -> None:
    assert await search.ids("Patient", query) == expected


# CarePlan.period: cp1 [2024-01-01, 2024-06-30], cp2 [2023-03-01T08:00+01, 2023-03-31T16:00+02],
# cp3 [2024-05-01, open), cp4 (open, 2022-12-31], cp5 no period
CAREPLAN_DATE = [
    ("2024", ["cp1"]),  # cp3 is open-ended, so not within 2024
    ("2024-03", []),
    ("2023-03", ["cp2"]),
    ("2023", ["cp2"]),
    ("2023-03-01T07:00:00Z", []),
    ("ne2024", ["cp2", "cp3", "cp4"]),
    ("gt2024-06-30", ["cp3"]),
    ("gt2024-06-29", ["cp1", "cp3"]),
    ("gt2024-07", ["cp3"]),
    ("ge2024-06-30", ["cp3"]),
    ("ge2024", ["cp1", "cp3"]),
    ("lt2023-01-01", ["cp4"]),
    ("lt2024-01-01", ["cp2", "cp4"]),
    ("lt2024-01-02", ["cp1", "cp2", "cp4"]),
    ("le2024-01-01", ["cp2", "cp4"]),
    ("le2023", ["cp2", "cp4"]),
    ("sa2023-12-31", ["cp1", "cp3"]),
    ("sa2022", ["cp1", "cp2", "cp3"]),  # cp4's open start never starts after anything
    ("eb2024", ["cp2", "cp4"]),
    ("eb2023-04", ["cp2", "cp4"]),
    ("eb2023-03-31", ["cp4"]),  # cp2 ends on the 31st, not before it
    ("eb2030", ["cp1", "cp2", "cp4"]),  # cp3's open end never ends before anything
    ("ap2010", ["cp4"]),  # overlaps only the open start (±1.6 years in 2026)
    ("2023-03,2024", ["cp1", "cp2"]),
]


@pytest.mark.parametrize(("value", "expected"), CAREPLAN_DATE)
async def test_careplan_period(search: Searcher, value: str, expected: list[str]) -> None:
    assert await search.ids("CarePlan", f"date={value}") == expected


async def test_period_bounds_with_offsets(search: Searcher) -> None:
    # cp2 runs 2023-03-01T07:00Z .. 2023-03-31T14:00Z (second precision at both ends)
    query = "date=ge2023-03-01T07:00:00Z&date=le2023-03-31T14:00:00Z"
    assert await search.ids("CarePlan", query) == ["cp2"]
    assert await search.ids("CarePlan", "date=2023-03-01T07:00:00Z") == []
    assert await search.ids("CarePlan", "date=sa2023-03-01T06:59:59Z") == [
        "cp1",
        "cp2",
        "cp3",
    ]
    assert await search.ids("CarePlan", "date=sa2023-03-01T07:00:00Z") == ["cp1", "cp3"]


# MedicationStatement.effective: ms1 2024-03-01T08:00:00Z (dateTime), ms2 [2023-01-01, 2023-12-31],
# ms3 [2024-01-15, open), ms4 2022 (a year as dateTime)
EFFECTIVE = [
    ("2024-03-01", ["ms1"]),
    ("2024-03-01T08:00:00Z", ["ms1"]),
    ("2024-03-01T09:00:00+01:00", ["ms1"]),
    ("2024-03-01T08:00:01Z", []),
    ("2024", ["ms1"]),
    ("2023", ["ms2"]),
    ("2022", ["ms4"]),
    ("2022-06", []),  # a year is not within a month
    ("ne2024", ["ms2", "ms3", "ms4"]),
    ("gt2024-02", ["ms1", "ms3"]),
    ("lt2023-06", ["ms2", "ms4"]),
    ("ge2024-03-01T08:00:00Z", ["ms1", "ms3"]),
    ("le2024-03-01T08:00:00Z", ["ms1", "ms2", "ms3", "ms4"]),
    ("sa2023-12-31", ["ms1", "ms3"]),
    ("eb2024-01-15", ["ms2", "ms4"]),
    ("eb2023", ["ms4"]),
    ("2021-06", []),
    ("ap2021-06", ["ms4"]),  # widened by ~200 days in 2026: reaches 2022
]


@pytest.mark.parametrize(("value", "expected"), EFFECTIVE)
async def test_medication_effective(search: Searcher, value: str, expected: list[str]) -> None:
    assert await search.ids("MedicationStatement", f"effective={value}") == expected


@pytest.mark.parametrize(
    ("type_", "query", "expected"),
    [
        # sr1 2024-02-10T09:30:00+01:00, sr2 2024-02-10 (a day), sr3 2023-11-30T23:30:00Z
        ("ServiceRequest", "authored=2024-02-10", ["sr1", "sr2"]),
        ("ServiceRequest", "authored=2024-02-10T09:30:00+01:00", ["sr1"]),
        ("ServiceRequest", "authored=2024-02-10T08:30Z", ["sr1"]),  # minute precision
        ("ServiceRequest", "authored=2023-11-30", ["sr3"]),
        ("ServiceRequest", "authored=2023-12-01T00:30:00+01:00", ["sr3"]),
        ("ServiceRequest", "authored=2023-12", []),
        ("ServiceRequest", "authored=lt2024-02-10T10:00:00+01:00", ["sr1", "sr2", "sr3"]),
        ("ServiceRequest", "authored=gt2024-02-10T09:30:00+01:00", ["sr2"]),
        ("Observation", "date=2024-03-01", ["obs1"]),
        ("Observation", "date=2024-03-01T09:00:00Z", ["obs1"]),
        ("Encounter", "date=2024-03-01", ["enc1"]),
        ("Encounter", "date=2024-03-01T09:30:00+01:00", []),  # an hour is not within a second
        ("Encounter", "date=ge2024-03-01T09:30:00+01:00", ["enc1", "enc2"]),
        ("Encounter", "date=gt2024-03-01T10:00:00+01:00", ["enc2"]),
        ("Task", "period=2024-02-12", ["t2"]),
        ("Task", "authored-on=2024-02", ["t1", "t2"]),
        ("Task", "authored-on=2024-02-11", ["t1"]),
    ],
)
async def test_other_dates(search: Searcher, type_: str, query: str, expected: list[str]) -> None:
    assert await search.ids(type_, query) == expected


async def test_last_updated(search: Searcher, seeded: Seeded) -> None:
    """meta.lastUpdated is a µs instant, strictly increasing in write order (p1 … p6)."""
    at = {i: seeded.last_updated[f"Patient/{i}"] for i in ("p1", "p3", "p5")}
    cases = [
        (at["p3"], ["p3"]),
        (f"eq{at['p3']}", ["p3"]),
        (f"ne{at['p3']}", ["p1", "p2", "p4", "p5", "p6"]),
        (f"gt{at['p3']}", ["p4", "p5", "p6"]),
        (f"ge{at['p3']}", ["p3", "p4", "p5", "p6"]),
        (f"lt{at['p3']}", ["p1", "p2"]),
        (f"le{at['p3']}", ["p1", "p2", "p3"]),
        (f"sa{at['p3']}", ["p4", "p5", "p6"]),
        (f"eb{at['p3']}", ["p1", "p2"]),
        (f"ge{at['p1'][:10]}", ["p1", "p2", "p3", "p4", "p5", "p6"]),
        ("gt2020-01-01", ["p1", "p2", "p3", "p4", "p5", "p6"]),
        ("lt2020-01-01", []),
        (f"{at['p1']},{at['p5']}", ["p1", "p5"]),
    ]
    for value, expected in cases:
        assert await search.ids("Patient", [("_lastUpdated", value)]) == expected, value
    between = [("_lastUpdated", f"gt{at['p1']}"), ("_lastUpdated", f"lt{at['p5']}")]
    assert await search.ids("Patient", between) == ["p2", "p3", "p4"]
    # another type written later is not a Patient
    org = seeded.last_updated["Organization/o1"]
    assert await search.ids("Patient", [("_lastUpdated", f"ge{org}")]) == []
    assert await search.ids("Organization", [("_lastUpdated", f"ge{org}")]) == ["o1", "o2", "o3"]


ERRORS = [
    ("Patient", "birthdate=notadate", "birthdate"),
    ("Patient", "birthdate=xx2020", "birthdate"),
    ("Patient", "birthdate=2020-13", "birthdate"),
    ("Patient", "birthdate=2020-02-30", "birthdate"),
    ("Patient", "birthdate=20", "birthdate"),
    ("Patient", "birthdate=ge", "birthdate"),
    ("Patient", "birthdate=1950-03-15T25:00", "birthdate"),
    ("Patient", "birthdate=1950,notadate", "birthdate"),
    ("Patient", "birthdate:exact=1950", "birthdate:exact"),
    ("Patient", "birthdate:missing=maybe", "birthdate:missing"),
    ("Patient", "_lastUpdated=yesterday", "_lastUpdated"),
    ("CarePlan", "date=2024-1-1", "date"),
    ("MedicationStatement", "effective=gt", "effective"),
]


@pytest.mark.parametrize(("type_", "query", "expression"), ERRORS)
async def test_date_errors(search: Searcher, type_: str, query: str, expression: str) -> None:
    await search.error(type_, query, [expression])
