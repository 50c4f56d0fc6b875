"""Danish identifier checks (DOMAIN.md §4) in Python and as FHIRPath functions."""

from __future__ import annotations

from datetime import date

import pytest

from profiles.danish.identifiers import cpr_birth_date, cpr_valid, cvr_valid, gln_valid
from profiles.validation import Validator


@pytest.mark.parametrize(
    ("cpr", "born"),
    [
        ("0101011234", date(1901, 1, 1)),  # 7th digit 0-3: 19xx
        ("3112993999", date(1999, 12, 31)),
        ("0101364000", date(2036, 1, 1)),  # 4: 20xx up to 36 ...
        ("0101374000", date(1937, 1, 1)),  # ... else 19xx
        ("0101369000", date(2036, 1, 1)),  # 9 works like 4
        ("0101379000", date(1937, 1, 1)),
        ("0101575000", date(2057, 1, 1)),  # 5-8: 20xx up to 57 ...
        ("0101588000", date(1858, 1, 1)),  # ... else 18xx
        ("2902004000", date(2000, 2, 29)),  # 2000 is a leap year
        ("2902565000", date(2056, 2, 29)),
        ("2902961234", date(1996, 2, 29)),
    ],
)
def test_cpr_birth_dates(cpr: str, born: date) -> None:
    assert cpr_birth_date(cpr) == born
    assert cpr_valid(cpr)


@pytest.mark.parametrize(
    "cpr",
    [
        "2902001000",  # 1900 was not a leap year
        "2902585000",  # 1858 neither
        "2902971234",  # 1997 neither
        "3102011234",  # 31 February
        "0013011234",  # month 13
        "0001011234",  # day 0
        "3104011234",  # 31 April
        "010101123",  # 9 digits
        "01010112345",  # 11 digits
        "010101-1234",  # with a hyphen
        "01010l1234",  # a letter
        "\uff10\uff11\uff10\uff11\uff10\uff11\uff11\uff12\uff13\uff14",  # full-width digits
        "",
    ],
)
def test_cpr_invalid(cpr: str) -> None:
    assert cpr_birth_date(cpr) is None
    assert not cpr_valid(cpr)


@pytest.mark.parametrize(
    ("cvr", "valid"),
    [
        ("24256790", True),  # Novo Nordisk A/S
        ("61126228", True),  # Danske Bank A/S
        ("24256791", False),  # last digit changed
        ("42256790", False),  # two digits swapped
        ("2425679", False),
        ("242567900", False),
        ("2425679O", False),
    ],
)
def test_cvr_modulus_11(cvr: str, valid: bool) -> None:
    assert cvr_valid(cvr) is valid


@pytest.mark.parametrize(
    ("gln", "valid"),
    [
        ("5901234123457", True),  # GS1's example number
        ("4006381333931", True),
        ("5790000000029", True),
        ("5901234123458", False),  # wrong check digit
        ("4006381333930", False),
        ("590123412345", False),  # 12 digits
        ("59012341234570", False),
        ("590123412345X", False),
    ],
)
def test_gln_modulus_10(gln: str, valid: bool) -> None:
    assert gln_valid(gln) is valid


@pytest.mark.parametrize(
    ("expression", "focus", "expected"),
    [
        ("value.dkCprValid()", {"value": "2902004000"}, [True]),
        ("value.dkCprValid()", {"value": "2902001000"}, [False]),
        ("value.dkCprValid()", {}, []),
        ("value.dkCvrValid()", {"value": "24256790"}, [True]),
        ("value.dkCvrValid()", {"value": "24256791"}, [False]),
        ("value.dkGlnValid()", {"value": "5901234123457"}, [True]),
        ("value.dkGlnValid()", {"value": "5901234123458"}, [False]),
        ("value.dkGlnValid()", {"value": 5901234123457}, [False]),
        ("identifier.value.dkCprValid()", {"identifier": [{"value": "0101011234"}]}, [True]),
    ],
)
def test_fhirpath_functions(
    validator: Validator, expression: str, focus: dict[str, object], expected: list[bool]
) -> None:
    compiled = validator.fhirpath.compile(expression)
    assert compiled.native
    assert compiled.evaluate(focus) == expected


def test_fhirpath_functions_in_the_fallback_engine(validator: Validator) -> None:
    """An expression the compiler leaves to fhirpathpy still has the Danish functions."""
    compiled = validator.fhirpath.compile(
        "identifier.aggregate($total | $this.value, {}).dkCprValid()"
    )
    assert not compiled.native
    assert compiled.evaluate({"identifier": [{"value": "0101011234"}]}) == [True]
    assert compiled.evaluate({"identifier": [{"value": "3102011234"}]}) == [False]
