"""The strict base pass: JSON shape, unknown elements, cardinality, primitive formats, types."""

from __future__ import annotations

from typing import Any

import pytest

from profiles.validation import Validator
from tests.validation.support import issues, resource


def test_a_valid_patient_has_no_issues(validator: Validator) -> None:
    patient = resource(
        "Patient",
        id="p1",
        meta={"versionId": "1", "lastUpdated": "2024-01-01T10:00:00.123+01:00"},
        identifier=[{"system": "urn:oid:1.2.208.176.1.2", "value": "0101011234"}],
        active=True,
        name=[{"family": "Hansen", "given": ["Jens", "Peter"]}],
        telecom=[{"system": "phone", "value": "+4512345678"}],
        gender="male",
        birthDate="2001-01-01",
        deceasedBoolean=False,
        address=[{"line": ["Nørregade 1"], "postalCode": "1165", "city": "København K"}],
        generalPractitioner=[{"reference": "Organization/gp1"}],
        multipleBirthInteger=1,
    )
    assert validator.validate(patient) == []


def test_unknown_elements_are_structure_errors(validator: Validator) -> None:
    patient = resource("Patient", foo=1, name=[{"family": "x", "nickname": "y"}])
    assert issues(validator, patient) == {
        ("error", "structure", "Patient.foo", None),
        ("error", "structure", "Patient.name[0].nickname", None),
    }


def test_not_a_resource(validator: Validator) -> None:
    [issue] = validator.validate(["Patient"])
    assert (issue.code, issue.expression) == ("structure", "")
    [issue] = validator.validate({"resourceType": "Foo"})
    assert (issue.code, issue.expression) == ("not-supported", "resourceType")


def test_json_shape(validator: Validator) -> None:
    patient = resource(
        "Patient",
        name={"family": "x"},
        gender=["male"],
        identifier=[],
        telecom=[None],
        maritalStatus={"id": "only-an-id"},
        contact=[{}],
    )
    assert issues(validator, patient) == {
        ("error", "structure", "Patient.name", None),  # repeats: must be an array
        ("error", "structure", "Patient.gender", None),  # does not repeat: no array
        ("error", "structure", "Patient.identifier", None),  # empty array
        ("error", "structure", "Patient.telecom[0]", None),  # null
        ("error", "structure", "Patient.maritalStatus", None),  # ele-1
        ("error", "structure", "Patient.contact[0]", None),  # ele-1
    }


def test_one_value_per_choice_element(validator: Validator) -> None:
    observation = resource(
        "Observation", status="final", code={"text": "x"}, valueString="a", valueBoolean=True
    )
    assert issues(validator, observation) == {
        ("error", "structure", "Observation.valueBoolean", None)
    }


def test_minimum_cardinality_of_elements_choices_and_backbones(validator: Validator) -> None:
    assert issues(validator, resource("Observation")) == {
        ("error", "required", "Observation.status", None),
        ("error", "required", "Observation.code", None),
    }
    statement = resource("MedicationStatement", status="active", subject={"reference": "Patient/1"})
    assert issues(validator, statement) == {
        ("error", "required", "MedicationStatement.medication", None)
    }
    audit = resource(
        "AuditEvent",
        type={"code": "rest"},
        recorded="2024-01-01T10:00:00Z",
        agent=[{"type": {"text": "x"}}],
        source={"observer": {"reference": "Device/1"}},
    )
    assert issues(validator, audit) == {
        ("error", "required", "AuditEvent.agent[0].requestor", None)
    }


@pytest.mark.parametrize(
    ("element", "value", "code"),
    [
        ("active", "true", "structure"),
        ("active", 1, "structure"),
        ("multipleBirthInteger", 1.5, "structure"),
        ("multipleBirthInteger", "2", "structure"),
        ("multipleBirthInteger", 2**31, "value"),
        ("birthDate", "2001-02-29", "value"),
        ("birthDate", "2001-13-01", "value"),
        ("birthDate", "01-01-2001", "value"),
        ("birthDate", "", "value"),
        ("birthDate", 2001, "structure"),
        ("deceasedDateTime", "2020-01-01T10:00:00", "value"),  # a time needs a zone
        ("deceasedDateTime", "2020-01-01T10:00Z", "value"),  # and seconds
        ("id", "a b", "value"),
        ("id", "x" * 65, "value"),
        ("language", "da  DK", "value"),  # code: single spaces only
        ("implicitRules", "", "value"),
        ("implicitRules", "http://x y", "value"),
    ],
)
def test_primitive_formats(validator: Validator, element: str, value: Any, code: str) -> None:
    patient = resource("Patient", **{element: value})
    assert issues(validator, patient) == {("error", code, f"Patient.{element}", None)}


@pytest.mark.parametrize(
    ("element", "value"),
    [
        ("birthDate", "2000-02-29"),
        ("birthDate", "2001-05"),
        ("birthDate", "2001"),
        ("deceasedDateTime", "2020-01-01T10:00:00.5+14:00"),
        ("deceasedDateTime", "2020-01-01T23:59:60Z"),
        ("id", "A-b.1"),
        ("language", "da-DK"),
        ("multipleBirthInteger", -(2**31)),
    ],
)
def test_valid_primitives(validator: Validator, element: str, value: Any) -> None:
    assert validator.validate(resource("Patient", **{element: value})) == []


def test_other_primitive_types(validator: Validator) -> None:
    observation = resource(
        "Observation",
        status="final",
        code={"text": "x"},
        issued="2020-01-01",  # instant needs date and time
        valueQuantity={"value": "1.5"},  # decimal must be a JSON number
        component=[{"code": {"text": "c"}, "valueTime": "25:00:00"}],
    )
    communication = resource(
        "Communication",
        status="completed",
        payload=[{"contentAttachment": {"contentType": "text/plain", "data": "not base64!"}}],
    )
    assert issues(validator, observation) == {
        ("error", "value", "Observation.issued", None),
        ("error", "structure", "Observation.valueQuantity.value", None),
        ("error", "value", "Observation.component[0].valueTime", None),
    }
    assert issues(validator, communication) == {
        ("error", "value", "Communication.payload[0].contentAttachment.data", None)
    }


def test_primitive_extensions(validator: Validator) -> None:
    ext = {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}
    fine = resource(
        "Patient",
        birthDate="2001-01-01",
        _birthDate=ext,
        _gender=ext,  # a primitive may carry only extensions
        name=[{"given": ["a", None], "_given": [None, ext]}],
    )
    assert validator.validate(fine) == []
    broken = resource(
        "Patient",
        _birthDate={"id": "a"},  # no value, no extension: ele-1
        _gender={"foo": 1},
        name=[{"given": ["a", None], "_given": [None]}],  # a null without extensions
    )
    assert issues(validator, broken) == {
        ("error", "structure", "Patient.birthDate", None),
        ("error", "structure", "Patient.gender.foo", None),
        ("error", "structure", "Patient.name[0].given[1]", None),
    }


def test_primitive_companions_must_align(validator: Validator) -> None:
    ext = {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}
    patient = resource(
        "Patient",
        gender="male",
        _gender=[ext],  # a list beside a single value
        name=[{"given": ["a"], "_given": [None, ext]}],  # longer than the value array
        birthDate=None,
        _birthDate=ext,  # an explicit null is still not allowed
    )
    assert issues(validator, patient) == {
        ("error", "structure", "Patient.gender", None),
        ("error", "structure", "Patient.name[0].given", None),
        ("error", "structure", "Patient.birthDate", None),
    }


def test_contained_resources_are_validated_as_their_type(validator: Validator) -> None:
    statement = resource(
        "MedicationStatement",
        status="active",
        subject={"reference": "Patient/1"},
        medicationReference={"reference": "#m"},
        contained=[{"resourceType": "Medication", "id": "m", "status": "bogus"}],
    )
    assert issues(validator, statement) == {
        ("error", "code-invalid", "MedicationStatement.contained[0].status", None)
    }


def test_contained_resource_of_an_unserved_type_is_a_warning(validator: Validator) -> None:
    patient = resource(
        "Patient",
        contained=[{"resourceType": "Parameters", "id": "l"}],
        managingOrganization={"reference": "#l"},
    )
    assert issues(validator, patient) == {
        ("warning", "not-supported", "Patient.contained[0]", None),
        # Parameters is no Organization
        ("error", "structure", "Patient.managingOrganization", None),
    }


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ({"reference": "Organization/1"}, None),
        ({"reference": "Practitioner/1/_history/2"}, None),
        ({"reference": "https://other.example/fhir/PractitionerRole/7"}, None),
        ({"reference": "urn:uuid:0b1c2d3e-0000-4000-8000-000000000000"}, None),
        ({"reference": "https://example.org/some/page"}, None),
        ({"type": "Organization", "identifier": {"value": "1"}}, None),
        ({"reference": "Patient/1"}, "structure"),
        ({"reference": "Foo/1"}, "value"),
        ({"reference": "not a reference"}, "value"),
        ({"type": "Patient", "identifier": {"value": "1"}}, "structure"),
        ({"reference": "Organization/1", "type": "Practitioner"}, "structure"),
        ({"reference": "#missing"}, "invariant"),  # ref-1
    ],
)
def test_reference_targets(
    validator: Validator, reference: dict[str, Any], expected: str | None
) -> None:
    patient = resource("Patient", generalPractitioner=[reference])
    found = issues(validator, patient)
    want = (
        set() if expected is None else {("error", expected, "Patient.generalPractitioner[0]", None)}
    )
    assert found == want


def test_contained_reference_target_type(validator: Validator) -> None:
    patient = resource(
        "Patient",
        contained=[{"resourceType": "Practitioner", "id": "gp"}],
        generalPractitioner=[{"reference": "#gp"}],
        managingOrganization={"reference": "#gp"},
    )
    assert issues(validator, patient) == {
        ("error", "structure", "Patient.managingOrganization", None)
    }


def test_extensions_without_a_known_definition_are_allowed(validator: Validator) -> None:
    patient = resource(
        "Patient",
        extension=[{"url": "http://example.org/unknown", "valueCodeableConcept": {"text": "x"}}],
        modifierExtension=[{"url": "http://example.org/unknown-modifier", "valueBoolean": True}],
    )
    assert validator.validate(patient) == []
    broken = resource("Patient", extension=[{"url": "http://example.org/x", "valueFoo": 1}])
    assert issues(validator, broken) == {
        ("error", "structure", "Patient.extension[0].valueFoo", None),
        ("error", "invariant", "Patient.extension[0]", None),  # ext-1: no value left
    }
