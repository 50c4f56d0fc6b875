"""Danish identifiers: generators that only produce valid values, and checkers for each rule.

The rules are those of DOMAIN.md §4 and dk-core 3.7.0: CPR (a real birth date with the century
from the 7th digit; no modulus 11, not used since 2007), SOR (at least 11 digits), authorisation
id (exactly 5 characters, digits and consonants), CVR (modulus 11), GLN (GS1 modulus 10),
ydernummer (digits), municipality code (4 digits of the official list). Generated SOR ids also
carry a SNOMED-style Verhoeff check digit in the SOR namespace (1000016), as real ones do; the
checker requires only what dk-core requires.
"""

from __future__ import annotations

import random
import re
from datetime import date

from fhir_server.dataset.geography import VALID_MUNICIPALITY_CODES

CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
YDERNUMMER_SYSTEM = "urn:oid:1.2.208.176.1.4"
AUTHORISATION_SYSTEM = "https://autregweb.sst.dk"
CVR_SYSTEM = "http://cvr.dk"
GLN_SYSTEM = "http://www.gs1.org/gln"
KOMBIT_ORG_SYSTEM = "https://kombit.dk/sts/organisation"
MUNICIPALITY_SYSTEM = "http://hl7.dk/fhir/core/CodeSystem/dk-core-municipality-codes"
REGION_SYSTEM = "urn:iso:std:iso:3166:-2"

_CPR = re.compile(r"[0-9]{10}")
_SOR = re.compile(r"[0-9]{11,}")
_AUTHORISATION = re.compile(r"[B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z0-9]{5}")
_DIGITS = re.compile(r"[0-9]+")
AUTHORISATION_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ0123456789"
"""dk-core's authorisation-id alphabet: digits and the consonants (Y counts as one)."""

_CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)


# --- CPR -------------------------------------------------------------------------------------


def cpr_century(yy: int, seventh: int) -> int | None:
    """The century of a CPR birth year from its 7th digit (the CPR office's table)."""
    if seventh <= 3:
        return 1900
    if seventh in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800


def cpr_birth_date(cpr: str) -> date | None:
    """The birth date a CPR number encodes, or None if it encodes none."""
    if not _CPR.fullmatch(cpr):
        return None
    dd, mm, yy, seventh = int(cpr[0:2]), int(cpr[2:4]), int(cpr[4:6]), int(cpr[6])
    century = cpr_century(yy, seventh)
    try:
        return date(century + yy, mm, dd) if century is not None else None
    except ValueError:
        return None


def cpr_valid(cpr: str) -> bool:
    return cpr_birth_date(cpr) is not None


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


def cpr_female(cpr: str) -> bool:
    return int(cpr[9]) % 2 == 0


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


def sor_valid(value: str) -> bool:
    return bool(_SOR.fullmatch(value))


def make_ydernummer(n: int) -> str:
    return f"{n:06d}"


def ydernummer_valid(value: str) -> bool:
    return bool(_DIGITS.fullmatch(value))


def make_authorisation_id(rng: random.Random) -> str:
    return "".join(rng.choice(AUTHORISATION_ALPHABET) for _ in range(5))


def authorisation_id_valid(value: str) -> bool:
    return bool(_AUTHORISATION.fullmatch(value))


# --- CVR, GLN, municipality ------------------------------------------------------------------


def cvr_valid(value: str) -> bool:
    if not (len(value) == 8 and value.isascii() and value.isdigit()):
        return False
    return sum(int(d) * w for d, w in zip(value, _CVR_WEIGHTS, strict=True)) % 11 == 0


def make_cvr(n: int) -> str:
    """The ``n``-th valid CVR number from 10000000 upwards (every digit weighted mod 11)."""
    candidate = 1000000 + n * 7  # spread the first seven digits; each start yields one number
    while True:
        body = f"{candidate:07d}"
        total = sum(int(d) * w for d, w in zip(body, _CVR_WEIGHTS[:7], strict=True))
        check = -total % 11
        if check < 10:
            return body + str(check)
        candidate += 1


def gln_check_digit(body12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return str(-total % 10)


def make_gln(n: int) -> str:
    """A Danish GLN (GS1 prefix 579) with its modulus-10 check digit."""
    body = f"579{n:09d}"
    return body + gln_check_digit(body)


def gln_valid(value: str) -> bool:
    if not (len(value) == 13 and value.isascii() and value.isdigit()):
        return False
    return gln_check_digit(value[:12]) == value[12]


def municipality_valid(code: str) -> bool:
    return len(code) == 4 and code in VALID_MUNICIPALITY_CODES
