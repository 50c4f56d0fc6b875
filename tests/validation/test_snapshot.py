"""Reading snapshots: element ids, slices, and choice elements written under their type name."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from profiles.library import Library
from profiles.validation import ProfileError, Validator
from profiles.validation.snapshot import parse_snapshot
from tests.validation.support import EX, resource


def _renamed(validator: Validator) -> dict[str, Any]:
    """test-observation with ``value[x]:valueQuantity`` written as ``Observation.valueQuantity``."""
    sd = copy.deepcopy(validator.library.structure_definitions[EX + "test-observation"])
    sd["url"] = EX + "test-observation-renamed"
    for element in sd["snapshot"]["element"]:
        if element["id"].startswith("Observation.value[x]:valueQuantity"):
            element["id"] = element["id"].replace("value[x]:valueQuantity", "valueQuantity")
            element["path"] = element["path"].replace("value[x]", "valueQuantity")
            element.pop("sliceName", None)
    return sd


def test_renamed_choice_elements_are_type_slices(validator: Validator) -> None:
    sd = _renamed(validator)
    root = parse_snapshot(sd)
    value = root.child("value")
    assert value is not None and value.name == "value[x]"
    assert "valueQuantity" in [s.slice_name for s in value.slices]

    library = Library(
        dict(validator.library.structure_definitions),
        validator.library.value_sets,
        validator.library.code_systems,
    )
    library.add(sd)
    observation = resource(
        "Observation",
        status="final",
        code={"text": "x"},
        valueQuantity={"value": 1},
        component=[
            {"code": {"coding": [{"system": "http://loinc.org", "code": c}]}}
            for c in ("8480-6", "8462-4")
        ],
    )
    found = {(i.code, i.expression) for i in Validator(library).validate(observation, [sd["url"]])}
    assert found == {
        ("required", "Observation.valueQuantity.system"),
        ("required", "Observation.valueQuantity.code"),
    }


@pytest.mark.parametrize(
    ("elements", "message"),
    [
        ([], "has no snapshot"),
        (
            [{"id": "Patient", "path": "Patient"}, {"id": "Patient.name.family", "path": "x"}],
            "has no parent Patient.name",
        ),
        (
            [
                {"id": "Patient", "path": "Patient"},
                {"id": "Patient.identifier", "path": "Patient.identifier"},
                {"id": "Patient.identifier:a", "path": "Patient.identifier"},
                {"id": "Patient.identifier:a/b", "path": "Patient.identifier"},
            ],
            "re-slicing",
        ),
        (
            [{"id": "Patient", "path": "Patient"}, {"id": "Patient", "path": "Patient"}],
            "appears twice",
        ),
    ],
)
def test_snapshots_the_validator_refuses(elements: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        parse_snapshot({"url": "x", "snapshot": {"element": elements}})
