"""Loading the generated definitions and examples, and FHIRPath evaluation of single rules.

The Danish identifier functions (dkCprValid, dkCvrValid, dkGlnValid) are implemented here from
their contract, independently of the validator's, so the rules are tested against a second
reading of the contract; the examples as a whole go through the validator (test_examples.py).
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

REPO = Path(__file__).resolve().parents[2]
DEFINITIONS = REPO / "profiles" / "definitions"
EXAMPLES = REPO / "profiles" / "examples"

Json = dict[str, Any]

# --- the validator's Danish functions, from the contract ---------------------------------------


def cpr_valid(value: str) -> bool:
    if len(value) != 10 or not value.isdigit():
        return False
    day, month, yy, seventh = int(value[0:2]), int(value[2:4]), int(value[4:6]), int(value[6])
    if seventh <= 3:
        century = 1900
    elif seventh in (4, 9):
        century = 2000 if yy <= 36 else 1900
    else:
        century = 2000 if yy <= 57 else 1800
    try:
        dt.date(century + yy, month, day)
    except ValueError:
        return False
    return True


def cvr_valid(value: str) -> bool:
    if len(value) != 8 or not value.isdigit():
        return False
    weights = (2, 7, 6, 5, 4, 3, 2, 1)
    return sum(int(d) * w for d, w in zip(value, weights, strict=True)) % 11 == 0


def gln_valid(value: str) -> bool:
    if len(value) != 13 or not value.isdigit():
        return False
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(value[:12]))
    return (10 - total % 10) % 10 == int(value[12])


def _string_function(check: Any) -> Any:
    def function(inputs: list[Any]) -> list[bool]:
        return [check(str(v)) for v in inputs]

    return {"fn": function, "arity": {0: []}}


FHIRPATH_OPTIONS = {
    "userInvocationTable": {
        "dkCprValid": _string_function(cpr_valid),
        "dkCvrValid": _string_function(cvr_valid),
        "dkGlnValid": _string_function(gln_valid),
    }
}


@cache
def compiled(expression: str) -> Any:
    return fhirpathpy.compile(expression, models["r4"], FHIRPATH_OPTIONS)


def evaluate(resource: Json, expression: str) -> list[Any]:
    return compiled(expression)(resource, {})


# --- loading -------------------------------------------------------------------------------------


@cache
def definitions() -> dict[str, Json]:
    """File name -> resource for every generated definition."""
    return {
        p.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(DEFINITIONS.glob("*.json"))
    }


@cache
def by_url() -> dict[str, Json]:
    return {r["url"]: r for r in definitions().values()}


def structure_definitions() -> list[Json]:
    return [r for r in definitions().values() if r["resourceType"] == "StructureDefinition"]


def resource_profiles() -> list[Json]:
    return [sd for sd in structure_definitions() if sd["kind"] == "resource"]


@cache
def manifest() -> dict[str, Json]:
    return json.loads((EXAMPLES / "manifest.json").read_text(encoding="utf-8"))["examples"]


def example(name: str) -> Json:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


# --- checking ------------------------------------------------------------------------------------
