"""`profiles.elements.Definitions` — the R4 definitions' answers for representation and patch —
checked against an independent second opinion: fhir.resources' R4B models (a test dependency
only; for the served types their elements match R4 4.0.1)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from fhir.resources.R4B import get_fhir_model_class

from fhir_server.resource_types import SERVED_TYPES
from profiles.elements import Definitions

DEFINITIONS = Definitions.default()

NOT_COMPARABLE = {
    # R4B redefined these (or dropped them: no R4B model), so its models are no second opinion
    "Evidence", "EvidenceVariable", "EffectEvidenceSynthesis", "RiskEvidenceSynthesis",
    "MedicinalProduct", "MedicinalProductAuthorization", "MedicinalProductContraindication",
    "MedicinalProductIndication", "MedicinalProductIngredient", "MedicinalProductInteraction",
    "MedicinalProductManufactured", "MedicinalProductPackaged", "MedicinalProductPharmaceutical",
    "MedicinalProductUndesirableEffect", "SubstanceNucleicAcid", "SubstancePolymer",
    "SubstanceProtein", "SubstanceReferenceInformation", "SubstanceSourceMaterial",
    "SubstanceSpecification",
    # the definitions' package ships R5's shape (docs/conformance.md)
    "ResearchStudy",
}  # fmt: skip
COMPARED = sorted(SERVED_TYPES - NOT_COMPARABLE)


def _flagged(type_: str, flag: str) -> set[str]:
    fields = get_fhir_model_class(type_).model_fields.items()
    return {
        f.alias or name
        for name, f in fields
        if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get(flag)
    }


def _is_list(annotation: Any) -> bool:
    stack = [annotation]
    while stack:
        t = stack.pop()
        if get_origin(t) is list:
            return True
        stack.extend(get_args(t))
    return False


@pytest.mark.parametrize("type_", COMPARED)
def test_summary_elements_match_the_models(type_: str) -> None:
    assert DEFINITIONS.summary_elements(type_) == _flagged(type_, "summary_element_property")


@pytest.mark.parametrize("type_", COMPARED)
def test_required_elements_match_the_models(type_: str) -> None:
    """The models mark a required choice (MedicationStatement.medication[x]) with a root
    validator, not on its fields; the definitions name each of its JSON names."""
    model = get_fhir_model_class(type_).model_fields
    required = {f.alias or n for n, f in model.items() if f.is_required()}
    required |= _flagged(type_, "element_required")
    choices = {k for k, e in DEFINITIONS.elements(type_).items() if e.path.endswith("[x]")}
    assert DEFINITIONS.required_elements(type_) - choices == required


@pytest.mark.parametrize("type_", COMPARED)
def test_repeating_elements_match_the_models(type_: str) -> None:
    model = get_fhir_model_class(type_).model_fields
    lists = {f.alias or n for n, f in model.items() if _is_list(f.annotation)}
    lists = {k for k in lists if not k.startswith("_") and k != "fhir_comments"}
    assert {k for k, e in DEFINITIONS.elements(type_).items() if e.repeats} == lists


@pytest.mark.parametrize(
    ("type_", "names", "max_", "types"),
    [
        ("Patient", ["name", "given"], None, ("string",)),
        ("Patient", ["contact", "name"], 1, ("HumanName",)),
        ("Observation", ["valueQuantity", "value"], 1, ("decimal",)),
        ("Observation", ["component"], None, ("BackboneElement",)),
        ("Patient", ["deceasedBoolean"], 1, ("boolean",)),
        ("Patient", ["colour"], "unknown", ()),
    ],
)
def test_element_lookup_follows_types(
    type_: str, names: list[str], max_: int | str | None, types: tuple[str, ...]
) -> None:
    element = DEFINITIONS.element(type_, names)
    if max_ == "unknown":
        assert element is None
        return
    assert element is not None
    assert (element.max, element.types) == (max_, types)


def test_primitive_types() -> None:
    assert DEFINITIONS.is_primitive("dateTime")
    assert not DEFINITIONS.is_primitive("HumanName")
    assert DEFINITIONS.is_resource("Patient")
    assert not DEFINITIONS.is_resource("HumanName")


def test_the_server_never_imports_fhir_resources() -> None:
    """fhir.resources is a test and bench dependency only: the server's packages never import
    it (the R4 definitions are the one structural model at run time)."""
    root = Path(__file__).resolve().parents[2]
    offenders = []
    for package in ("fhir_server", "auth", "profiles"):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(n == "fhir.resources" or n.startswith("fhir.resources.") for n in names):
                    offenders.append(str(path.relative_to(root)))
    assert offenders == []
