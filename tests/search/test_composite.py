"""Composite search (search.html#composite): ``code$value``, both components matching within the
same element the composite's expression selects — the Observation itself (``code-value-*``), each
``Observation.component`` (``component-code-value-*``) or either (``combo-code-value-*``). Each
component takes its own type's syntax (token ``system|code``, quantity and date prefixes); OR by
comma, AND by repetition, ``:missing``.

Data (fixtures.py): obs1-3 and obs8 glucose 15074-8 at 5.4, 5.35, 5.45 mmol/L (obs8: unit
"mmol/l" only); obs4 blood pressure 85354-9 with components systolic (LOINC 8480-6 and SNOMED
271649006) 120 mm[Hg] and diastolic 8462-4 80 mm[Hg]; obs5 weight 29463-7 80 kg; obs6 note
48767-8 "Patienten har det godt, spiser æbler"; obs7 94500-6 = SNOMED 260385009; obs9 8665-2 =
2024-02-20.
"""

from __future__ import annotations

import pytest

from tests.search.fixtures import LOINC, SCT, UCUM
from tests.search.support import Searcher

GLUCOSE_54 = ["obs1", "obs2", "obs8"]  # 5.4 is [5.35, 5.45)

CASES = [
    # code-value-quantity: the Observation's code and value
    ("code-value-quantity", f"{LOINC}|15074-8$5.4", GLUCOSE_54),
    ("code-value-quantity", "15074-8$5.40", ["obs1", "obs8"]),
    ("code-value-quantity", "15074-8$gt5.4", ["obs3"]),
    ("code-value-quantity", "15074-8$le5.35", ["obs2"]),
    ("code-value-quantity", f"15074-8$5.4|{UCUM}|mmol/L", ["obs1", "obs2"]),
    ("code-value-quantity", "15074-8$5.4||mmol/l", ["obs8"]),
    ("code-value-quantity", "29463-7$80", ["obs5"]),
    ("code-value-quantity", "29463-7$5.4", []),  # the code of one, the value of others
    ("code-value-quantity", "15074-8$80", []),
    ("code-value-quantity", "|15074-8$5.4", []),  # the code has a system
    ("code-value-quantity", f"{SCT}|15074-8$5.4", []),
    ("code-value-quantity", f"{LOINC}|$gt50", ["obs5"]),  # any LOINC code
    ("code-value-quantity", "8480-6$120", []),  # a component is not the Observation
    ("code-value-quantity", "15074-8$gt5.4,29463-7$lt100", ["obs3", "obs5"]),  # OR
    # component-code-value-quantity: code and value of the same component
    ("component-code-value-quantity", f"{LOINC}|8480-6$gt100", ["obs4"]),
    ("component-code-value-quantity", "8480-6$80", []),  # 80 is the diastolic's value
    ("component-code-value-quantity", "8462-4$80", ["obs4"]),
    ("component-code-value-quantity", "8462-4$gt100", []),
    ("component-code-value-quantity", f"{SCT}|271649006$120", ["obs4"]),  # the other coding
    ("component-code-value-quantity", "271649006$80", []),
    ("component-code-value-quantity", f"8480-6$120|{UCUM}|mm[Hg]", ["obs4"]),
    ("component-code-value-quantity", "8480-6$120||kg", []),
    ("component-code-value-quantity", "85354-9$120", []),  # the Observation's own code
    # combo-code-value-quantity: the Observation or any of its components
    ("combo-code-value-quantity", "29463-7$80", ["obs5"]),
    ("combo-code-value-quantity", "8462-4$80", ["obs4"]),
    ("combo-code-value-quantity", "85354-9$80", []),  # the Observation's code, a component's value
    ("combo-code-value-quantity", f"{LOINC}|$ge80", ["obs4", "obs5"]),
    ("combo-code-value-quantity", "15074-8$5.4", GLUCOSE_54),
    # code-value-concept and friends: token and token
    ("code-value-concept", "94500-6$260385009", ["obs7"]),
    ("code-value-concept", f"{LOINC}|94500-6${SCT}|260385009", ["obs7"]),
    ("code-value-concept", f"94500-6${SCT}|", ["obs7"]),
    ("code-value-concept", f"94500-6${LOINC}|260385009", []),
    ("code-value-concept", "94500-6$|260385009", []),  # the value has a system
    ("code-value-concept", "15074-8$260385009", []),
    ("combo-code-value-concept", "94500-6$260385009", ["obs7"]),
    ("component-code-value-concept", "94500-6$260385009", []),  # no components
    # code-value-string: starts-with, case- and accent-insensitive; \, and \$ are escapes
    ("code-value-string", "48767-8$patienten", ["obs6"]),
    ("code-value-string", "48767-8$PATIENTEN HAR", ["obs6"]),
    ("code-value-string", "48767-8$Patienten har det godt\\, spiser", ["obs6"]),
    ("code-value-string", "48767-8$spiser", []),
    ("code-value-string", "48767-8$patienten\\$", []),
    ("code-value-string", "94500-6$negativ", []),  # a CodeableConcept is no string value
    # code-value-date: date prefixes over the value's range
    ("code-value-date", "8665-2$2024-02-20", ["obs9"]),
    ("code-value-date", "8665-2$2024-02", ["obs9"]),
    ("code-value-date", "8665-2$2024-03", []),
    ("code-value-date", "8665-2$ge2024-02-20", ["obs9"]),
    ("code-value-date", "8665-2$lt2024-02-20", []),
    ("code-value-date", "8665-2$gt2024-01", ["obs9"]),
    ("code-value-date", "15074-8$2024", []),
]


@pytest.mark.parametrize(("param", "value", "expected"), CASES)
async def test_composite(search: Searcher, param: str, value: str, expected: list[str]) -> None:
    assert await search.ids("Observation", [(param, value)]) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # AND: each repetition may match another element
        (
            "component-code-value-quantity=8480-6$gt100&component-code-value-quantity=8462-4$lt90",
            ["obs4"],
        ),
        (
            "component-code-value-quantity=8480-6$gt100&component-code-value-quantity=8462-4$gt90",
            [],
        ),
        ("code-value-quantity=15074-8$ge5.35&code-value-quantity=15074-8$le5.4", GLUCOSE_54),
        ("code-value-quantity=15074-8$5.4&subject=Patient/p1", ["obs1", "obs2"]),
        ("status=final&combo-code-value-quantity=8462-4$80", ["obs4"]),
        # :missing
        ("code-value-quantity:missing=false", ["obs1", "obs2", "obs3", "obs5", "obs8"]),
        ("code-value-quantity:missing=true", ["obs4", "obs6", "obs7", "obs9"]),
        ("component-code-value-quantity:missing=false", ["obs4"]),
        ("code-value-string:missing=false", ["obs6"]),
        ("code-value-date:missing=false", ["obs9"]),
        ("code-value-concept:missing=true&code=94500-6", []),
    ],
)
async def test_composite_combined(search: Searcher, query: str, expected: list[str]) -> None:
    assert await search.ids("Observation", query) == expected


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("code-value-quantity", "15074-8"),  # one part
        ("code-value-quantity", "15074-8$5.4$1"),  # three parts
        ("code-value-quantity", "15074-8$"),
        ("code-value-quantity", "$5.4"),
        ("code-value-quantity", "15074-8\\$5.4"),  # an escaped $ does not separate
        ("code-value-quantity", "15074-8$xx5"),  # bad prefix in a component
        ("code-value-quantity", "15074-8$abc"),
        ("code-value-quantity", "15074-8$5.4|mmol"),
        ("code-value-quantity", "15074-8$5.4,29463-7"),  # every OR value is checked
        ("code-value-date", "8665-2$2024-13"),
        ("code-value-date", "8665-2$zz2024"),
        ("component-code-value-quantity", "8480-6$gt"),
    ],
)
async def test_bad_composite_values(search: Searcher, param: str, value: str) -> None:
    body = await search.error("Observation", [(param, value)], [param])
    assert param in body["issue"][0]["diagnostics"]


async def test_composite_modifiers(search: Searcher) -> None:
    await search.error(
        "Observation", "code-value-quantity:exact=1$5", ["code-value-quantity:exact"]
    )
    await search.error("Observation", "code-value-date:missing=1", ["code-value-date:missing"])


async def test_composite_in_chains_and_not_sortable(search: Searcher) -> None:
    has = "_has:Observation:subject:component-code-value-quantity"
    assert await search.ids("Patient", [(has, "8480-6$gt100")]) == ["p2"]
    assert await search.ids("Patient", [(has, "8480-6$lt100")]) == []
    assert await search.ids(
        "CarePlan",
        [("subject:Patient._has:Observation:subject:code-value-quantity", "15074-8$5.45")],
    ) == ["cp2"]
    await search.error("Observation", "_sort=code-value-quantity", ["_sort"])
