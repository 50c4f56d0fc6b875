"""Danish identifier checks (DOMAIN.md §4), as plain Python and as FHIRPath functions.

Profiles call them from invariants (``value.dkCprValid()``); other code (the data-set generator,
tests) calls the Python functions directly. None of them logs or echoes the number: a CPR number
is personal data.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from profiles.validation.fhirpath import UserFunction

CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)


def cpr_birth_date(cpr: str) -> date | None:
    """The birth date a CPR number encodes, or None if it is not 10 digits with a real date.

    The century comes from the 7th digit and the year: 0-3 → 19xx; 4 or 9 → 20xx when the year
    is 00-36, else 19xx; 5-8 → 20xx when the year is 00-57, else 18xx.
    """
    if len(cpr) != 10 or not cpr.isascii() or not cpr.isdigit():
        return None
    day, month, year = int(cpr[0:2]), int(cpr[2:4]), int(cpr[4:6])
    seventh = int(cpr[6])
    if seventh <= 3:
        century = 1900
    elif seventh in (4, 9):
        century = 2000 if year <= 36 else 1900
    else:
        century = 2000 if year <= 57 else 1800
    try:
        return date(century + year, month, day)
    except ValueError:
        return None


def cpr_valid(cpr: str) -> bool:
    return cpr_birth_date(cpr) is not None


def cvr_valid(cvr: str) -> bool:
    """8 digits whose weighted sum (2,7,6,5,4,3,2,1) is divisible by 11."""
    if len(cvr) != 8 or not cvr.isascii() or not cvr.isdigit():
        return False
    return sum(int(d) * w for d, w in zip(cvr, CVR_WEIGHTS, strict=True)) % 11 == 0


def gln_valid(gln: str) -> bool:
    """13 digits with a correct GS1 check digit (weights 3,1,3,… from the right, mod 10)."""
    if len(gln) != 13 or not gln.isascii() or not gln.isdigit():
        return False
    body = [int(d) for d in gln[:12]]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == int(gln[12])


def _fhirpath(check: Any) -> UserFunction:
    """Empty on empty input; else true when every input is a string that passes ``check``."""

    def run(items: list[Any]) -> list[bool]:
        if not items:
            return []
        return [all(isinstance(i, str) and check(i) for i in items)]

    return UserFunction(run, (0,))


FHIRPATH_FUNCTIONS: dict[str, UserFunction] = {
    "dkCprValid": _fhirpath(cpr_valid),
    "dkCvrValid": _fhirpath(cvr_valid),
    "dkGlnValid": _fhirpath(gln_valid),
}
