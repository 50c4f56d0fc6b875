"""The examples in profiles/examples: named by convention, listed in the manifest, and each one,
run through the server's validator, valid or broken in exactly the way the manifest says."""

from __future__ import annotations

import importlib
import re

import pytest

from profiles.validation import Validator
from tests.profiles import support

MEDCOM = "http://medcomfhir.dk/"
NAMES = sorted(support.manifest())
INVALID = [n for n in NAMES if "-invalid-" in n]
VALID = [n for n in NAMES if "-valid-" in n]


def _element(expression: str) -> str:
    """The last element name of a location: ``MedicationStatement.effective`` → effective."""
    return re.sub(r"\[\d+\]", "", expression).rsplit(".", 1)[-1]


def _issues(name: str) -> set[tuple[str, str, str]]:
    found = Validator.default().validate(support.example(name))
    return {(i.severity, i.code, i.expression) for i in found if i.severity != "information"}


def test_every_example_file_is_in_the_manifest_and_back() -> None:
    files = sorted(p.name for p in support.EXAMPLES.glob("*.json") if p.name != "manifest.json")
    assert files == NAMES


def test_every_resource_profile_has_valid_and_invalid_examples() -> None:
    """MedCom's profiles are tested with MedCom's published messages instead
    (tests/profiles/test_medcom_messages.py)."""
    for sd in support.resource_profiles():
        if sd["url"].startswith(MEDCOM):
            continue
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
        elements = {_element(i["expression"]) for i in support.manifest()[name]["expect"]}
        assert any(element in str(exc) for element in elements), str(exc)


@pytest.mark.parametrize("name", VALID)
def test_valid_example_breaks_no_rule(name: str) -> None:
    assert support.manifest()[name]["expect"] == []
    assert _issues(name) == set()


@pytest.mark.parametrize("name", INVALID)
def test_invalid_example_is_refused_for_the_rule_it_names(name: str) -> None:
    """Each expected issue is reported (a defect may break a second rule too, e.g. a missing
    provision also breaks the rule on what the provision must say); nothing but the named
    defect is wrong, so a valid twin of the example has no issue."""
    expected = support.manifest()[name]["expect"]
    assert expected, "an invalid example names the issue it should produce"
    found = _issues(name)
    for issue in expected:
        assert (issue["severity"], issue["code"], issue["expression"]) in found, (issue, found)
