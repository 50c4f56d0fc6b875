"""The Danish identifier systems and the rules their values follow (DOMAIN.md §4, dk-core 3.7.0),
stated once: the profiles' invariants use the patterns and (through the validator's FHIRPath
functions) the checkers, the authorization layer the systems, the demo data set all three.

CPR: a real birth date with the century from the 7th digit (no modulus 11, not used since 2007);
SOR: at least 11 digits; authorisation id: exactly 5 characters, digits and consonants; CVR:
modulus 11; GLN: GS1 modulus 10; ydernummer: digits. None of the checkers logs or echoes the
value: a CPR number is personal data.
"""

from __future__ import annotations

import re
from datetime import date

CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
X_ECPR_SYSTEM = "urn:oid:1.2.208.176.1.6.1.1"
D_ECPR_SYSTEM = "urn:oid:1.2.208.176.1.6.1.3"
D_ECPR_REGIONAL_SYSTEMS = tuple(f"{D_ECPR_SYSTEM}.{n}" for n in (177, 179, 181, 183, 187))
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
YDERNUMMER_SYSTEM = "urn:oid:1.2.208.176.1.4"
AUTHORISATION_SYSTEM = "https://autregweb.sst.dk"
CVR_SYSTEM = "http://cvr.dk"
GLN_SYSTEM = "http://www.gs1.org/gln"
GLN_HTTPS_SYSTEM = "https://www.gs1.org/gln"
KOMBIT_ORG_SYSTEM = "https://kombit.dk/sts/organisation"
MUNICIPALITY_SYSTEM = "http://hl7.dk/fhir/core/CodeSystem/dk-core-municipality-codes"
REGION_SYSTEM = "urn:iso:std:iso:3166:-2"

# Patterns, written so that FHIRPath ``matches()`` and Python's ``re.fullmatch`` read them alike.
# DDMM with the number of days each month can have (29 for February; the leap year is left to
# the CPR checker, which knows the century).
_DDMM = (
    "((0[1-9]|[12][0-9]|3[01])(0[13578]|1[02])|(0[1-9]|[12][0-9]|30)(0[469]|11)"
    "|(0[1-9]|1[0-9]|2[0-9])02)"
)
X_ECPR_PATTERN = f"^{_DDMM}[0-9]{{2}}[17][A-Z]{{2}}[0-9]$"
D_ECPR_PATTERN = f"^{_DDMM}[0-9]{{2}}[056][A-Z]{{2}}[0-9]$"
SOR_PATTERN = "^[0-9]{11,}$"
# Authorisation ids are five characters, digits and consonants only (no vowels), as issued by
# the Danish Patient Safety Authority.
AUTHORISATION_PATTERN = "^[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{5}$"
AUTHORISATION_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ0123456789"
"""dk-core's authorisation-id alphabet: digits and the consonants (Y counts as one)."""
YDERNUMMER_PATTERN = "^[0-9]+$"
MUNICIPALITY_PATTERN = "^[0-9]{4}$"
REGION_PATTERN = "^DK-8[1-5]$"

_CPR = re.compile(r"[0-9]{10}")
_SOR = re.compile(SOR_PATTERN)
_AUTHORISATION = re.compile(AUTHORISATION_PATTERN)
_YDERNUMMER = re.compile(YDERNUMMER_PATTERN)

CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)


# --- CPR -------------------------------------------------------------------------------------


def cpr_century(yy: int, seventh: int) -> int | None:
    """The century of a CPR birth year from its 7th digit (the CPR office's table): 0-3 → 19xx;
    4 or 9 → 20xx when the year is 00-36, else 19xx; 5-8 → 20xx when the year is 00-57, else
    18xx."""
    if seventh <= 3:
        return 1900
    if seventh in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800


def cpr_birth_date(cpr: str) -> date | None:
    """The birth date a CPR number encodes, or None if it is not 10 digits with a real date."""
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


def cpr_female(cpr: str) -> bool:
    """The sex a (valid) CPR number records: the last digit is even for women."""
    return int(cpr[9]) % 2 == 0


# --- SOR, ydernummer, authorisation id -------------------------------------------------------


def sor_valid(value: str) -> bool:
    return bool(_SOR.fullmatch(value))


def ydernummer_valid(value: str) -> bool:
    return bool(_YDERNUMMER.fullmatch(value))


def authorisation_id_valid(value: str) -> bool:
    return bool(_AUTHORISATION.fullmatch(value))


# --- CVR, GLN --------------------------------------------------------------------------------


def cvr_valid(value: str) -> bool:
    """8 digits whose weighted sum (2,7,6,5,4,3,2,1) is divisible by 11."""
    if not (len(value) == 8 and value.isascii() and value.isdigit()):
        return False
    return sum(int(d) * w for d, w in zip(value, CVR_WEIGHTS, strict=True)) % 11 == 0


def gln_check_digit(body12: str) -> str:
    """The GS1 check digit of 12 digits (weights 3,1,3,… from the right, mod 10)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return str(-total % 10)


def gln_valid(value: str) -> bool:
    """13 digits with a correct GS1 check digit."""
    if not (len(value) == 13 and value.isascii() and value.isdigit()):
        return False
    return gln_check_digit(value[:12]) == value[12]
