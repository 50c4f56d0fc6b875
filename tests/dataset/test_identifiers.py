"""Danish identifiers: the generators make only valid values, the checkers refuse invalid ones."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from dataset import identifiers as ids


@pytest.mark.parametrize(
    ("cpr", "born"),
    [
        ("0101001234", date(1900, 1, 1)),  # 7th digit 0-3: 19xx
        ("3112993999", date(1999, 12, 31)),
        ("0101364234", date(2036, 1, 1)),  # 4: 20xx up to YY 36 ...
        ("0101374234", date(1937, 1, 1)),  # ... 19xx from 37
        ("0101369234", date(2036, 1, 1)),  # 9 as 4
        ("0101379234", date(1937, 1, 1)),
        ("0101575234", date(2057, 1, 1)),  # 5-8: 20xx up to YY 57 ...
        ("0101588234", date(1858, 1, 1)),  # ... 18xx from 58
        ("3112996234", date(1899, 12, 31)),
        ("2902004000", date(2000, 2, 29)),  # 2000 was a leap year
        ("2902962000", date(1996, 2, 29)),
        ("2902245000", date(2024, 2, 29)),
    ],
)
def test_cpr_birth_date_follows_the_century_rule(cpr: str, born: date) -> None:
    assert ids.cpr_birth_date(cpr) == born
    assert ids.cpr_valid(cpr)


@pytest.mark.parametrize(
    "cpr",
    [
        "2902001000",  # 29 Feb 1900: not a leap year (7th digit 1 → 19xx)
        "2902975000",  # 29 Feb 2097 would need YY ≤ 57 → 1897 is not a leap year either
        "2902254000",  # 29 Feb 2025
        "3002904000",  # 30 February
        "3104901000",  # 31 April
        "0013901000",  # month 13
        "0001901000",  # day 0
        "010190123",  # 9 digits
        "01019012345",  # 11 digits
        "010190-1234",  # the printed form with a hyphen is not the identifier value
        "01019O1234",  # a letter
        "",
    ],
)
def test_cpr_checker_refuses_numbers_without_a_real_birth_date(cpr: str) -> None:
    assert ids.cpr_birth_date(cpr) is None
    assert not ids.cpr_valid(cpr)


def test_generated_cpr_encodes_its_birth_date_and_sex_for_every_representable_year() -> None:
    rng = random.Random(5)
    for year in (1858, 1899, 1900, 1936, 1937, 1999, 2000, 2024, 2036, 2037, 2057):
        for day in (date(year, 1, 1), date(year, 12, 31), date(year, 3, 1) - timedelta(days=1)):
            for female in (True, False):
                cpr = ids.make_cpr(day, female, rng)
                assert ids.cpr_birth_date(cpr) == day, cpr
                assert ids.cpr_female(cpr) is female


@pytest.mark.parametrize("year", [1857, 2058, 2100])
def test_no_cpr_number_can_encode_a_birth_outside_1858_to_2057(year: int) -> None:
    with pytest.raises(ValueError, match=str(year)):
        ids.make_cpr(date(year, 6, 1), True, random.Random(1))


def test_sor_ids_have_eleven_digits_or_more_and_the_sor_check_digit() -> None:
    assert ids.sor_valid("12345678901")
    assert ids.sor_valid("633271000016006")
    for bad in ("1234567890", "12345678901a", "", "6332710000160 06"):
        assert not ids.sor_valid(bad)
    # real SOR ids are SNOMED-style: item, namespace 1000016, partition 00, Verhoeff digit
    assert ids.make_sor(63327) == "633271000016006"
    assert ids.make_sor(113318) == "1133181000016000"
    made = {ids.make_sor(n) for n in range(1, 2000)}
    assert len(made) == 1999 and all(ids.sor_valid(s) for s in made)


def test_cvr_modulus_11() -> None:
    assert ids.cvr_valid("64942212")
    assert not ids.cvr_valid("64942213")
    assert not ids.cvr_valid("6494221")
    assert not ids.cvr_valid("6494221a")
    made = [ids.make_cvr(n) for n in range(0, 5000)]
    assert all(ids.cvr_valid(v) for v in made)
    assert len(set(made)) == len(made)


def test_gln_modulus_10() -> None:
    assert ids.gln_valid("5798002472264")
    assert not ids.gln_valid("5798002472265")
    assert not ids.gln_valid("579800247226")
    made = [ids.make_gln(n) for n in range(0, 5000)]
    assert all(ids.gln_valid(v) and v.startswith("579") for v in made)
    assert len(set(made)) == len(made)


def test_authorisation_ids_are_five_digits_or_consonants() -> None:
    for good in ("005ML", "CBDJ6", "yx9zz"):
        assert ids.authorisation_id_valid(good)
    for bad in ("005MA", "CBDE6", "005M", "005MLL", "00 5M", ""):
        assert not ids.authorisation_id_valid(bad)
    rng = random.Random(3)
    assert all(ids.authorisation_id_valid(ids.make_authorisation_id(rng)) for _ in range(2000))


def test_ydernummer_and_municipality_codes() -> None:
    assert ids.ydernummer_valid(ids.make_ydernummer(77410)) and ids.make_ydernummer(7) == "000007"
    assert not ids.ydernummer_valid("7741O")
    assert ids.municipality_valid("0751") and ids.municipality_valid("0101")
    assert ids.municipality_valid("0411")  # Christiansø: in the code list, no municipality
    for bad in ("751", "0999", "07510", "Aarhus"):
        assert not ids.municipality_valid(bad)
