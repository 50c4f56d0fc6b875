"""One FHIRPath engine: the validator's compiler with fhirpathpy as its one fallback
(`profiles.validation.compile_fhirpath`), used by invariants, search indexing and FHIRPath Patch.
Nothing else in the server evaluates FHIRPath with fhirpathpy directly."""

from __future__ import annotations

import ast
from pathlib import Path

from fhir_server.search.fhirpath import compile_expression
from profiles.validation import compile_fhirpath

ROOT = Path(__file__).resolve().parents[2]
ENGINE = "profiles/validation/fhirpath/"
PARSER_ONLY = {"fhir_server/search/custom.py"}  # reads the syntax tree to bound the cost


def _fhirpathpy_imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "fhirpathpy"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "fhirpathpy":
            out.add(str(node.module))
    return out


def test_only_the_engine_evaluates_with_fhirpathpy() -> None:
    found = {}
    for package in ("fhir_server", "auth", "profiles"):
        for path in sorted((ROOT / package).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            imports = _fhirpathpy_imports(path)
            if imports and not name.startswith(ENGINE):
                found[name] = imports
    assert found == {name: {"fhirpathpy.parser"} for name in PARSER_ONLY}


def test_search_indexing_falls_back_to_the_one_engine() -> None:
    """An expression the indexing walker does not compile (a custom SearchParameter's) gives
    what the invariants' engine gives."""
    patient = {"resourceType": "Patient", "name": [{"given": ["A", "B"]}, {"given": ["C"]}]}
    expression = "Patient.name.given.where(length() = 1)"
    assert compile_expression(expression, "Patient")(patient) == ["A", "B", "C"]
    assert compile_fhirpath(expression).evaluate(patient) == ["A", "B", "C"]
