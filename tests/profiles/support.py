"""Loading the generated definitions and examples, and a small checker for the examples.

The checker is not the validator (that is ``profiles.validation``); it evaluates the three kinds
of rule that are plain FHIRPath over one resource — invariants, cardinality of unsliced elements,
required bindings to our own enumerated value sets — so the tests can show that every valid
example satisfies them and every invalid one breaks exactly the rule it names. The Danish
identifier functions are implemented here from their contract (briefs: dkCprValid, dkCvrValid,
dkGlnValid) so the invariants can be run without the validator.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

REPO = Path(__file__).resolve().parents[2]
DEFINITIONS = REPO / "profiles" / "definitions"
EXAMPLES = REPO / "profiles" / "examples"

Json = dict[str, Any]

# Generic R4 invariants the checker leaves out: ele-1 needs hasValue() (not in fhirpathpy),
# dom-3 (contained references) prints traces, and rules that resolve() references need other
# resources; none of them concerns the Danish rules.
SKIPPED_KEYS = frozenset({"ele-1", "dom-3"})


def _checkable(constraint: Json) -> bool:
    return constraint["key"] not in SKIPPED_KEYS and "resolve()" not in constraint["expression"]


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


@dataclass(frozen=True)
class Finding:
    severity: str
    code: str
    rule: str
    path: str  # element path without indexes


def _fhirpath(path: str, sd: Json) -> str:
    """The FHIRPath for an element path; a choice narrowed to one type reads ``.ofType(T)``."""
    single = {
        e["path"]: e["type"][0]["code"]
        for e in sd["snapshot"]["element"]
        if e["path"].endswith("[x]") and len(e.get("type", [])) == 1
    }
    out, prefix = [], []
    for segment in path.split("."):
        prefix.append(segment)
        choice = single.get(".".join(prefix))
        out.append(f"{segment[:-3]}.ofType({choice})" if choice else segment.replace("[x]", ""))
    return ".".join(out)


def _unsliced(snapshot: list[Json]) -> list[Json]:
    return [e for e in snapshot if ":" not in e["id"]]


def invariant_findings(resource: Json, sd: Json) -> list[Finding]:
    out = []
    for element in _unsliced(sd["snapshot"]["element"]):
        for constraint in element.get("constraint", []):
            if not _checkable(constraint):
                continue
            expression = f"{_fhirpath(element['path'], sd)}.select(({constraint['expression']}))"
            if False in evaluate(resource, expression):
                out.append(
                    Finding(constraint["severity"], "invariant", constraint["key"], element["path"])
                )
    return out


def cardinality_findings(resource: Json, sd: Json) -> list[Finding]:
    out = []
    for element in _unsliced(sd["snapshot"]["element"])[1:]:
        parent = _fhirpath(element["path"].rpartition(".")[0], sd)
        name = element["path"].rpartition(".")[2].replace("[x]", "")
        counts = evaluate(resource, f"{parent}.select({name}.count())")
        if element["min"] > 0 and any(c < element["min"] for c in counts):
            out.append(Finding("error", "required", f"{name}-min", element["path"]))
        if element["max"] != "*" and any(c > int(element["max"]) for c in counts):
            out.append(Finding("error", "structure", f"{name}-max", element["path"]))
    return out


def _expansion(url: str) -> set[tuple[str, str]] | None:
    value_set = by_url().get(url)
    if value_set is None or "expansion" not in value_set:
        return None
    return {(c["system"], c["code"]) for c in value_set["expansion"]["contains"]}


def binding_findings(resource: Json, sd: Json) -> list[Finding]:
    out = []
    for element in _unsliced(sd["snapshot"]["element"]):
        binding = element.get("binding", {})
        allowed = (
            _expansion(binding.get("valueSet", ""))
            if binding.get("strength") == "required"
            else None
        )
        if not allowed:
            continue
        codes = {code for _, code in allowed}
        for value in evaluate(resource, _fhirpath(element["path"], sd)):
            if isinstance(value, str):
                ok = value in codes
            else:
                codings = value.get("coding", []) if "coding" in value else [value]
                ok = any((c.get("system"), c.get("code")) in allowed for c in codings)
            if not ok:
                out.append(
                    Finding("error", "code-invalid", f"{element['path']}-binding", element["path"])
                )
    return out


def check(resource: Json, profile_url: str) -> list[Finding]:
    sd = by_url()[profile_url]
    return [
        *invariant_findings(resource, sd),
        *cardinality_findings(resource, sd),
        *binding_findings(resource, sd),
    ]
