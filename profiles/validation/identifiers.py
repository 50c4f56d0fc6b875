"""The Danish identifier checks (`profiles.danish.identifiers`) as FHIRPath functions.

Profiles call them from invariants (``value.dkCprValid()``); other code calls the Python
functions in `profiles.danish.identifiers` directly.
"""

from __future__ import annotations

from typing import Any

from profiles.danish.identifiers import cpr_valid, cvr_valid, gln_valid
from profiles.validation.fhirpath import UserFunction


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
