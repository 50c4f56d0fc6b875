"""Slicing: identifier by system, coding by system, extensions by url, and the other
discriminator types; slice cardinality, closed and ordered slicing."""

from __future__ import annotations

from typing import Any

from profiles.validation import Validator
from tests.validation.support import EX, issues, resource

SOR = "urn:oid:1.2.208.176.1.1"
LOINC = "http://loinc.org"


def organization(*identifiers: dict[str, str]) -> dict[str, Any]:
    return resource("Organization", name="Lægehuset", identifier=list(identifiers))


def test_identifier_slices_by_system(validator: Validator) -> None:
    good = organization(
        {"system": SOR, "value": "12345678901"},
        {"system": "http://cvr.dk", "value": "24256790"},
        {"system": "http://www.gs1.org/gln", "value": "5790000000029"},
    )
    assert validator.validate(good, [EX + "test-organization"]) == []


def test_sor_of_six_digits_and_other_bad_identifiers(validator: Validator) -> None:
    bad = organization(
        {"system": SOR, "value": "123456"},
        {"system": "http://cvr.dk", "value": "24256791"},
        {"system": "http://www.gs1.org/gln", "value": "5790000000028"},
    )
    assert issues(validator, bad, "test-organization") == {
        ("error", "invariant", "Organization.identifier[0].value", "test-organization"),
        ("error", "invariant", "Organization.identifier[1].value", "test-organization"),
        ("error", "invariant", "Organization.identifier[2].value", "test-organization"),
    }


def test_closed_slicing_and_required_slice(validator: Validator) -> None:
    assert issues(
        validator, organization({"system": "http://other", "value": "1"}), "test-organization"
    ) == {
        ("error", "structure", "Organization.identifier[0]", "test-organization"),
        ("error", "required", "Organization.identifier", "test-organization"),
    }
    assert issues(validator, resource("Organization", name="x"), "test-organization") == {
        ("error", "required", "Organization.identifier", "test-organization")
    }


def test_coding_slices_by_system(validator: Validator) -> None:
    def statement(*codings: dict[str, str]) -> dict[str, Any]:
        return resource(
            "MedicationStatement",
            status="active",
            subject={"reference": "Patient/1"},
            medicationCodeableConcept={"coding": list(codings)},
            effectiveDateTime="2024-01-01",
            informationSource={"reference": "Patient/1"},
            dosage=[{"text": "x"}],
        )

    atc = {"system": "http://www.whocc.no/atc", "code": "A10BA02"}
    assert issues(
        validator,
        statement({"system": "urn:oid:1.2.208.176.2.4", "code": "1"}),
        "test-medicationstatement",
    ) == {
        (
            "error",
            "required",
            "MedicationStatement.medicationCodeableConcept.coding",
            "test-medicationstatement",
        )
    }
    assert issues(
        validator, statement(atc, dict(atc, code="A10BB01")), "test-medicationstatement"
    ) == {
        (
            "error",
            "structure",
            "MedicationStatement.medicationCodeableConcept.coding",
            "test-medicationstatement",
        )
    }
    no_code = {"system": "http://www.whocc.no/atc"}
    assert issues(validator, statement(no_code), "test-medicationstatement") == {
        (
            "error",
            "required",
            "MedicationStatement.medicationCodeableConcept.coding[0].code",
            "test-medicationstatement",
        )
    }


def test_pattern_discriminator_on_the_element_itself(validator: Validator) -> None:
    home = {"coding": [{"system": "http://snomed.info/sct", "code": "658161000005107"}]}
    request = resource(
        "ServiceRequest",
        status="active",
        intent="order",
        subject={"reference": "Patient/1"},
        priority="routine",
        category=[
            home,
            {"text": "other"},
            {"coding": [*home["coding"], {"system": "x", "code": "y"}]},
        ],
    )
    assert issues(validator, request, "test-servicerequest") == {
        ("error", "structure", "ServiceRequest.category", "test-servicerequest")  # 2 > max 1
    }


def test_extension_slices_by_url(validator: Validator) -> None:
    nickname = {"url": EX + "test-ext-simple", "valueString": "Jensemand"}
    care = {
        "url": EX + "test-ext-complex",
        "extension": [{"url": "type", "valueCode": "new"}, {"url": "reason", "valueString": "x"}],
    }
    patient = resource(
        "Patient",
        identifier=[{"system": "urn:oid:1.2.208.176.1.6.1.1", "value": "X"}],
        name=[{"family": "Hansen"}],
        gender="male",
        extension=[nickname, care, care],
    )
    assert validator.validate(patient, [EX + "test-patient"]) == []
    patient["extension"] = [nickname, nickname]
    assert issues(validator, patient, "test-patient") == {
        ("error", "structure", "Patient.extension", "test-patient")  # nickname is 0..1
    }


def test_known_extension_is_validated_against_its_definition(validator: Validator) -> None:
    """Wherever it appears, and whether or not a profile was asked for."""
    patient = resource(
        "Patient",
        extension=[
            {"url": EX + "test-ext-simple", "valueInteger": 3},
            {"url": EX + "test-ext-simple", "valueString": "x" * 21},
            {
                "url": EX + "test-ext-complex",
                "valueString": "x",
                "extension": [
                    {"url": "type", "valueCode": "old"},
                    {"url": "other", "valueString": "x"},
                ],
            },
            {"url": EX + "test-ext-complex", "extension": [{"url": "reason", "valueString": "x"}]},
        ],
    )
    assert issues(validator, patient) == {
        ("error", "structure", "Patient.extension[0].valueInteger", "test-ext-simple"),
        ("error", "value", "Patient.extension[1].valueString", "test-ext-simple"),  # maxLength
        ("error", "invariant", "Patient.extension[2]", None),  # ext-1: value and extensions
        ("error", "structure", "Patient.extension[2].valueString", "test-ext-complex"),
        (
            "error",
            "code-invalid",
            "Patient.extension[2].extension[0].valueCode",
            "test-ext-complex",
        ),
        ("error", "structure", "Patient.extension[2].extension[1]", "test-ext-complex"),
        ("error", "required", "Patient.extension[3].extension", "test-ext-complex"),
    }


def test_exists_discriminator(validator: Validator) -> None:
    observation = resource(
        "Observation",
        status="final",
        code={"text": "bp"},
        identifier=[
            {"value": "1"},
            {"value": "2", "period": {"start": "2020"}},
            {"value": "3", "period": {"start": "2021"}},
        ],
        component=_blood_pressure(),
    )
    assert issues(validator, observation, "test-observation") == {
        ("error", "structure", "Observation.identifier", "test-observation")  # dated 0..1
    }


def _blood_pressure(*order: str) -> list[dict[str, Any]]:
    codes = {"systolic": "8480-6", "diastolic": "8462-4"}
    return [
        {
            "code": {"coding": [{"system": LOINC, "code": codes[name]}]},
            "valueQuantity": {"value": 1},
        }
        for name in (order or ("systolic", "diastolic"))
    ]


def test_pattern_on_a_child_closed_and_ordered(validator: Validator) -> None:
    observation = resource(
        "Observation",
        status="final",
        code={"text": "bp"},
        component=[*_blood_pressure("diastolic", "systolic"), {"code": {"text": "pulse"}}],
    )
    assert issues(validator, observation, "test-observation") == {
        ("error", "structure", "Observation.component[1]", "test-observation"),  # order
        ("error", "structure", "Observation.component[2]", "test-observation"),  # closed
    }
    missing = resource(
        "Observation", status="final", code={"text": "bp"}, component=_blood_pressure("systolic")
    )
    assert issues(validator, missing, "test-observation") == {
        ("error", "required", "Observation.component", "test-observation")
    }


def test_type_discriminator_on_a_choice_element(validator: Validator) -> None:
    quantity = resource(
        "Observation",
        status="final",
        code={"text": "bp"},
        component=_blood_pressure(),
        valueQuantity={"value": 120},
    )
    assert issues(validator, quantity, "test-observation") == {
        ("error", "required", "Observation.valueQuantity.system", "test-observation"),
        ("error", "required", "Observation.valueQuantity.code", "test-observation"),
    }
    text = resource(
        "Observation",
        status="final",
        code={"text": "bp"},
        component=_blood_pressure(),
        valueString="x",
    )
    assert issues(validator, text, "test-observation") == {
        ("error", "structure", "Observation.valueString", "test-observation")  # valueString 0..0
    }


def test_type_discriminator_on_contained_resources(validator: Validator) -> None:
    observation = resource(
        "Observation",
        status="final",
        code={"text": "bp"},
        component=_blood_pressure(),
        subject={"reference": "#p"},
        performer=[{"reference": "#o"}],
        contained=[
            {"resourceType": "Patient", "id": "p"},
            {"resourceType": "Organization", "id": "o", "name": "x"},
        ],
    )
    assert issues(validator, observation, "test-observation") == {
        ("error", "structure", "Observation.contained[1]", "test-observation")  # closed
    }


def test_profile_discriminator(validator: Validator) -> None:
    def practitioner(*values: str) -> dict[str, Any]:
        ids = [{"system": "urn:oid:1.2.208.176.1.2", "value": v} for v in values]
        return resource("Practitioner", identifier=ids)

    assert validator.validate(practitioner("0101011234"), [EX + "test-practitioner"]) == []
    # a CPR with an impossible date does not conform, so it is in no slice (the slicing is open)
    assert validator.validate(practitioner("3102011234"), [EX + "test-practitioner"]) == []
    assert issues(validator, practitioner("0101011234", "0202021234"), "test-practitioner") == {
        ("error", "structure", "Practitioner.identifier", "test-practitioner")  # cpr 0..1
    }


def test_slice_whose_discriminating_value_is_in_its_type_profile(validator: Validator) -> None:
    """``identifier:cpr`` only names a type profile; the CPR system it fixes picks the slice,
    and the profile's rules apply to the values in it."""
    cpr = "urn:oid:1.2.208.176.1.2"
    person = resource(
        "RelatedPerson",
        patient={"reference": "Patient/1"},
        identifier=[
            {"system": cpr, "value": "3102011234"},
            {"system": "urn:oid:1.2.208.176.1.6.1.1", "value": "X-eCPR"},
        ],
    )
    assert issues(validator, person, "test-relatedperson") == {
        ("error", "invariant", "RelatedPerson.identifier[0].value", "test-identifier-cpr")
    }
    person["identifier"] = [
        {"system": cpr, "value": "0101011234"},
        {"system": cpr, "value": "0202021234"},
    ]
    assert issues(validator, person, "test-relatedperson") == {
        ("error", "structure", "RelatedPerson.identifier", "test-relatedperson")
    }
