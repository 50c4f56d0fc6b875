"""Danish identifiers for the data set: generators that only produce valid values.

The systems and the checkers (the rules of DOMAIN.md §4 and dk-core 3.7.0) live once, in
`profiles.danish.identifiers`; they are re-exported here so the generators' callers find both in
one place. Generated SOR ids also carry a SNOMED-style Verhoeff check digit in the SOR namespace
(1000016), as real ones do; the checker requires only what dk-core requires.
"""

from __future__ import annotations

import random
from datetime import date

from dataset.geography import VALID_MUNICIPALITY_CODES
from profiles.danish.identifiers import (
    AUTHORISATION_ALPHABET,
    AUTHORISATION_SYSTEM,
    CPR_SYSTEM,
    CVR_SYSTEM,
    CVR_WEIGHTS,
    GLN_SYSTEM,
    KOMBIT_ORG_SYSTEM,
    MUNICIPALITY_SYSTEM,
    REGION_SYSTEM,
    SOR_SYSTEM,
    YDERNUMMER_SYSTEM,
    authorisation_id_valid,
    cpr_birth_date,
    cpr_century,
    cpr_female,
    cpr_valid,
    cvr_valid,
    gln_check_digit,
    gln_valid,
    sor_valid,
    ydernummer_valid,
)

__all__ = [
    "AUTHORISATION_SYSTEM",
    "CPR_SYSTEM",
    "CVR_SYSTEM",
    "GLN_SYSTEM",
    "KOMBIT_ORG_SYSTEM",
    "MUNICIPALITY_SYSTEM",
    "REGION_SYSTEM",
    "SOR_SYSTEM",
    "YDERNUMMER_SYSTEM",
    "authorisation_id_valid",
    "cpr_birth_date",
    "cpr_female",
    "cpr_valid",
    "cvr_valid",
    "gln_valid",
    "make_authorisation_id",
    "make_cpr",
    "make_cvr",
    "make_gln",
    "make_sor",
    "make_ydernummer",
    "municipality_valid",
    "sor_valid",
    "verhoeff_digit",
    "ydernummer_valid",
]


# --- CPR -------------------------------------------------------------------------------------


def _seventh_digits(year: int) -> list[int]:
    yy = year % 100
    return [d for d in range(10) if cpr_century(yy, d) == year - yy]


def make_cpr(birth: date, female: bool, rng: random.Random) -> str:
    """A CPR number for this birth date and sex (last digit even for women, odd for men)."""
    digits = _seventh_digits(birth.year)
    if not digits:
        raise ValueError(f"no CPR number can encode the birth year {birth.year}")
    serial = rng.randrange(50)
    last = rng.choice((0, 2, 4, 6, 8) if female else (1, 3, 5, 7, 9))
    return f"{birth:%d%m%y}{rng.choice(digits)}{serial:02d}{last}"


# --- SOR, ydernummer, authorisation id -------------------------------------------------------


# The Verhoeff scheme (SNOMED CT ids): multiplication in the dihedral group D5 and a permutation.
def _d5(i: int, j: int) -> int:
    if i < 5 and j < 5:
        return (i + j) % 5
    if i < 5:
        return 5 + (i + j - 5) % 5
    if j < 5:
        return 5 + (i - 5 - j) % 5
    return (i - j) % 5


_PERM = ((0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4))


def _perm(pos: int, digit: int) -> int:
    for _ in range(pos % 8):
        digit = _PERM[1][digit]
    return digit


def _inverse(x: int) -> int:
    return next(j for j in range(10) if _d5(x, j) == 0)


def verhoeff_digit(body: str) -> str:
    """The Verhoeff check digit to append to ``body``."""
    c = 0
    for pos, ch in enumerate(reversed(body), start=1):
        c = _d5(c, _perm(pos, int(ch)))
    return str(_inverse(c))


def make_sor(item: int) -> str:
    """A SOR id: item number, the SOR namespace 1000016, partition 00, Verhoeff check digit."""
    body = f"{item}100001600"
    return body + verhoeff_digit(body)


def make_ydernummer(n: int) -> str:
    return f"{n:06d}"


def make_authorisation_id(rng: random.Random) -> str:
    return "".join(rng.choice(AUTHORISATION_ALPHABET) for _ in range(5))


# --- CVR, GLN, municipality ------------------------------------------------------------------


def make_cvr(n: int) -> str:
    """The ``n``-th valid CVR number from 10000000 upwards (every digit weighted mod 11)."""
    candidate = 1000000 + n * 7  # spread the first seven digits; each start yields one number
    while True:
        body = f"{candidate:07d}"
        total = sum(int(d) * w for d, w in zip(body, CVR_WEIGHTS[:7], strict=True))
        check = -total % 11
        if check < 10:
            return body + str(check)
        candidate += 1


def make_gln(n: int) -> str:
    """A Danish GLN (GS1 prefix 579) with its modulus-10 check digit."""
    body = f"579{n:09d}"
    return body + gln_check_digit(body)


def municipality_valid(code: str) -> bool:
    return len(code) == 4 and code in VALID_MUNICIPALITY_CODES
