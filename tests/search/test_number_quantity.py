"""Quantity search (search.html#quantity) and number precision (search.html#number).

A search value denotes the range its precision implies: ``5.4`` is [5.35, 5.45), ``5.40`` is
[5.395, 5.405), ``5`` is [4.5, 5.5). ``eq`` and ``ne`` compare with that range; ``gt lt ge le``
with the value exactly; ``ap`` within 10 % of the value. ``value|system|code`` also requires the
system and code; ``value||code`` matches the code or the unit. There is no unit conversion.

No served type has a ``number`` parameter, so number parsing is tested on the parser directly.
"""

from __future__ import annotations

import pytest

from fhir_server.errors import Invalid
from fhir_server.search.params import number
from fhir_server.search.terms import RangeValue
from tests.search.fixtures import UCUM
from tests.search.support import Searcher

# value-quantity: obs1 5.4 mmol/L, obs2 5.35 mmol/L, obs3 5.45 mmol/L (all UCUM), obs5 80 kg (UCUM),
# obs8 5.4 with unit "mmol/l" only; obs4 has components 120 and 80 mm[Hg]; the rest no quantity.
VALUE_QUANTITY = [
    ("5.4", ["obs1", "obs2", "obs8"]),  # [5.35, 5.45): 5.35 in, 5.45 out
    ("eq5.4", ["obs1", "obs2", "obs8"]),
    ("5.40", ["obs1", "obs8"]),
    ("5.350", ["obs2"]),
    ("5.45", ["obs3"]),
    ("5.5", ["obs3"]),
    ("5", ["obs1", "obs2", "obs3", "obs8"]),
    ("80", ["obs5"]),
    ("80.0", ["obs5"]),
    ("8e1", ["obs5"]),
    ("120", []),  # a component's value is not the Observation's value
    ("ne5.4", ["obs3", "obs5"]),
    ("gt5.4", ["obs3", "obs5"]),
    ("ge5.4", ["obs1", "obs3", "obs5", "obs8"]),
    ("lt5.4", ["obs2"]),
    ("le5.4", ["obs1", "obs2", "obs8"]),
    ("lt5.45", ["obs1", "obs2", "obs8"]),
    ("le5.35", ["obs2"]),
    ("sa6", ["obs5"]),
    ("eb6", ["obs1", "obs2", "obs3", "obs8"]),
    ("ap5", ["obs1", "obs2", "obs3", "obs8"]),
    ("ap75", ["obs5"]),  # 80 is within 10 % of 75
    ("ap70", []),
    ("lt-1", []),
    ("-5.4", []),
    # system and code
    (f"5.4|{UCUM}|mmol/L", ["obs1", "obs2"]),
    (f"5.4|{UCUM}|mmol/l", []),  # UCUM codes are case-sensitive; obs8 has no system
    ("5.4||mmol/L", ["obs1", "obs2"]),
    ("5.4||mmol/l", ["obs8"]),  # the unit, when there is no code
    (f"gt5.4|{UCUM}|mmol/L", ["obs3"]),
    (f"80|{UCUM}|kg", ["obs5"]),
    (f"80|{UCUM}|g", []),
    (f"80000|{UCUM}|g", []),  # no unit conversion
    (f"5.4|{UCUM}|kg", []),
    # OR
    ("5.35,80", ["obs2", "obs5"]),
    (f"5.45|{UCUM}|mmol/L,80||kg", ["obs3", "obs5"]),
]


@pytest.mark.parametrize(("value", "expected"), VALUE_QUANTITY)
async def test_value_quantity(search: Searcher, value: str, expected: list[str]) -> None:
    assert await search.ids("Observation", [("value-quantity", value)]) == expected


@pytest.mark.parametrize(
    ("type_", "query", "expected"),
    [
        ("Observation", "value-quantity=gt5.4&value-quantity=lt100", ["obs3", "obs5"]),
        ("Observation", "value-quantity=ge5.35&value-quantity=le5.4", ["obs1", "obs2", "obs8"]),
        ("Observation", "value-quantity=5.4&code=15074-8&subject=Patient/p1", ["obs1", "obs2"]),
        ("Observation", "component-value-quantity=120", ["obs4"]),
        ("Observation", f"component-value-quantity=gt100|{UCUM}|mm[Hg]", ["obs4"]),
        ("Observation", "component-value-quantity=80", ["obs4"]),
        ("Observation", "combo-value-quantity=80", ["obs4", "obs5"]),
        # Encounter.length: 60 min, unit written "minutter"
        ("Encounter", "length=60", ["enc1"]),
        ("Encounter", f"length=60|{UCUM}|min", ["enc1"]),
        ("Encounter", "length=60||min", ["enc1"]),
        ("Encounter", "length=60||minutter", ["enc1"]),  # the unit as written
        ("Encounter", f"length=60|{UCUM}|minutter", []),  # with a system, the code
        ("Encounter", f"length=1|{UCUM}|h", []),
        ("Encounter", "length=ge60", ["enc1"]),
        ("Encounter", "length=gt60", []),
    ],
)
async def test_quantities(search: Searcher, type_: str, query: str, expected: list[str]) -> None:
    assert await search.ids(type_, query) == expected


@pytest.mark.parametrize(
    "value",
    ["abc", "xx5", "NaN", "Infinity", "5.4.3", "5.4|mmol", "5.4|a|b|c", "5.4|", "gt", "ap"],
)
async def test_quantity_errors(search: Searcher, value: str) -> None:
    await search.error("Observation", [("value-quantity", value)], ["value-quantity"])


async def test_quantity_modifier_errors(search: Searcher) -> None:
    await search.error("Observation", "value-quantity:exact=5", ["value-quantity:exact"])
    await search.error("Encounter", "length:missing=yes", ["length:missing"])


@pytest.mark.parametrize(
    ("raw", "prefix", "low", "high"),
    [
        ("100", "eq", 99.5, 100.5),
        ("100.00", "eq", 99.995, 100.005),
        ("5.4", "eq", 5.35, 5.45),
        ("ne5.4", "ne", 5.35, 5.45),
        ("-2.5", "eq", -2.55, -2.45),
        ("lt100", "lt", 100, 100),  # the other comparisons use the value exactly
        ("gt100", "gt", 100, 100),
        ("ge100", "ge", 100, 100),
        ("le100", "le", 100, 100),
        ("ap100", "ap", 90, 110),  # ±10 %
    ],
)
def test_number_precision(raw: str, prefix: str, low: float, high: float) -> None:
    (value,) = number.parse("probability", None, [raw]).values
    assert isinstance(value, RangeValue)
    assert value.prefix == prefix
    assert value.low == pytest.approx(low)
    assert value.high == pytest.approx(high)


@pytest.mark.parametrize("raw", ["abc", "1,5", "NaN", "xx1", "1e", ""])
def test_number_errors(raw: str) -> None:
    with pytest.raises(Invalid) as err:
        number.parse("probability", None, [raw])
    assert err.value.issues[0].expression == ("probability",)


def test_number_modifier_error() -> None:
    with pytest.raises(Invalid):
        number.parse("probability", "exact", ["1"])
