"""Defects the fuzzers found whose fix has not landed yet: each is tolerated in the seeded run —
and counted apart in `make fuzz` — by its exact shape, until its fix lands.

Empty since issue 10 was merged whole: every shape once listed here (Unicode digits, integers
past 2^63, year 9999, ``contained`` not an array, Bundle entry fields of the wrong JSON type,
patch results, deep nesting) is now answered with a 4xx, so the seeded run proves each fix
holds. Add an entry (a name and a matcher of `Finding`) only for a defect with an open issue,
and remove it with the fix.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.fuzz.harness import Finding

Matcher = Callable[[Finding], bool]

KNOWN: list[tuple[str, Matcher]] = []


def owner(finding: Finding) -> str | None:
    """The open issue a finding belongs to, or None (a defect nobody owns: the run fails)."""
    if finding.status < 500:
        return None  # every tolerated defect is a 500 answered as an OperationOutcome
    for name, matches in KNOWN:
        if matches(finding):
            return name
    return None
