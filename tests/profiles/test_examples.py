"""The examples in profiles/examples: named by convention, listed in the manifest, and each one
valid or broken in exactly the way the manifest says (as far as invariants, cardinality of
unsliced elements and required bindings can show without the validator)."""

from __future__ import annotations

import importlib
import re

import pytest

from tests.profiles import support

NAMES = sorted(support.manifest())
INVALID = [n for n in NAMES if "-invalid-" in n]
VALID = [n for n in NAMES if "-valid-" in n]

# Rules the checker cannot see: slices, fixed/pattern values, reference targets and types are the
# validator's work. Every other expected issue must be found by the checker.
NOT_CHECKABLE_SUFFIXES = ("-target", "-fixed", "-pattern", "-type", "-reference")
NOT_CHECKABLE = {
    "dk-core-patient-invalid-official-name-family.json",  # slice name:official
    "dk-core-patient-invalid-municipality-binding.json",  # binding inside an extension slice
    "ff-medicationstatement-invalid-atc-min.json",  # slice coding:atc
    "ff-medicationstatement-invalid-change-type-min.json",  # slice extension:type
    "ff-medicationstatement-invalid-change-type-binding.json",  # binding inside an extension
}


def _norm(expression: str) -> str:
    """FHIRPath location without indexes or type filters: the element path."""
    expression = re.sub(r"\[\d+\]", "", expression)
    expression = re.sub(r"\.ofType\([A-Za-z]+\)", "", expression)
    return expression.replace("[x]", "")


def _found(name: str) -> set[tuple[str, str, str]]:
    entry = support.manifest()[name]
    findings = support.check(support.example(name), entry["profile"])
    return {(f.severity, f.code, _norm(f.path)) for f in findings} | {
        (f.severity, f.code, f.rule) for f in findings if f.code == "invariant"
    }


def _expected(issue: dict[str, str]) -> set[tuple[str, str, str]]:
    keys = {(issue["severity"], issue["code"], _norm(issue["expression"]))}
    if issue["code"] == "invariant":
        keys.add((issue["severity"], issue["code"], issue["rule"]))
    return keys


def test_every_example_file_is_in_the_manifest_and_back() -> None:
    files = sorted(p.name for p in support.EXAMPLES.glob("*.json") if p.name != "manifest.json")
    assert files == NAMES


def test_every_resource_profile_has_valid_and_invalid_examples() -> None:
    for sd in support.resource_profiles():
        assert any(n.startswith(f"{sd['id']}-valid-") for n in VALID), sd["id"]
        assert sum(n.startswith(f"{sd['id']}-invalid-") for n in INVALID) >= 2, sd["id"]


def _parse(resource: dict) -> None:
    module = importlib.import_module(f"fhir.resources.R4B.{resource['resourceType'].lower()}")
    getattr(module, resource["resourceType"]).model_validate(resource)


@pytest.mark.parametrize("name", NAMES)
def test_example_names_its_profile(name: str) -> None:
    entry = support.manifest()[name]
    resource = support.example(name)
    sd = support.by_url()[entry["profile"]]
    profile_id = name.split("-valid-")[0].split("-invalid-")[0]
    assert sd["id"] == profile_id
    assert resource["meta"]["profile"] == [entry["profile"]]
    assert resource["resourceType"] == sd["type"]
    assert resource["text"]["status"] == "generated"


@pytest.mark.parametrize("name", VALID)
def test_valid_example_parses_as_r4(name: str) -> None:
    _parse(support.example(name))


@pytest.mark.parametrize("name", INVALID)
def test_invalid_example_parses_unless_its_defect_breaks_the_base(name: str) -> None:
    """An invalid example is well-formed R4 except, at most, for the defect it names."""
    try:
        _parse(support.example(name))
    except ValueError as exc:
        elements = {
            _norm(i["expression"]).rsplit(".", 1)[-1] for i in support.manifest()[name]["expect"]
        }
        assert any(element in str(exc) for element in elements), str(exc)


@pytest.mark.parametrize("name", VALID)
def test_valid_example_breaks_no_rule(name: str) -> None:
    assert support.manifest()[name]["expect"] == []
    assert _found(name) == set()


@pytest.mark.parametrize("name", INVALID)
def test_invalid_example_breaks_only_the_rules_it_names(name: str) -> None:
    expected = support.manifest()[name]["expect"]
    assert expected, "an invalid example names the issue it should produce"
    allowed = set().union(*(_expected(issue) for issue in expected))
    found = _found(name)
    assert found <= allowed
    if name in NOT_CHECKABLE or any(i["rule"].endswith(NOT_CHECKABLE_SUFFIXES) for i in expected):
        return
    for issue in expected:
        assert _expected(issue) & found, issue
