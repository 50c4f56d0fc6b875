"""Profiles: cardinality, types, fixed/pattern values, bindings, invariants, targets, limits.

The profiles are the test fixtures in fixtures/ (snapshots built by tests/validation/snapshots.py).
Every issue names the profile whose rule failed.
"""

from __future__ import annotations

from typing import Any

from profiles.validation import Validator
from tests.validation.support import EX, issues, resource

CPR = "urn:oid:1.2.208.176.1.2"


def patient(**elements: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "identifier": [{"use": "official", "system": CPR, "value": "0101011234"}],
        "name": [{"family": "Hansen"}],
        "gender": "female",
    }
    return resource("Patient", **{**base, **elements})


def test_a_conforming_patient(validator: Validator) -> None:
    assert validator.validate(patient(), [EX + "test-patient"]) == []


def test_cardinality_added_by_the_profile(validator: Validator) -> None:
    bare = resource("Patient", telecom=[{"value": "1", "system": "phone"}, {"value": "2"}])
    assert issues(validator, bare, "test-patient") == {
        ("error", "required", "Patient.identifier", "test-patient"),
        ("error", "required", "Patient.name", "test-patient"),
        ("error", "required", "Patient.gender", "test-patient"),
        ("error", "required", "Patient.telecom[1].system", "test-patient"),
        ("error", "invariant", "Patient.telecom[1]", None),  # cpt-2 of the base
    }


def test_cpr_with_an_impossible_date(validator: Validator) -> None:
    bad = patient(identifier=[{"use": "official", "system": CPR, "value": "3102011234"}])
    found = validator.validate(bad, [EX + "test-patient"])
    assert [(i.code, i.expression, i.profile) for i in found] == [
        ("invariant", "Patient.identifier[0].value", EX + "test-patient")
    ]
    assert found[0].diagnostics == "test-cpr: CPR number has no valid birth date"
    assert "3102011234" not in found[0].diagnostics


def test_fixed_value_and_slice_maximum(validator: Validator) -> None:
    two = patient(
        identifier=[
            {"use": "usual", "system": CPR, "value": "0101011234"},
            {"use": "official", "system": CPR, "value": "0202021234"},
        ]
    )
    assert issues(validator, two, "test-patient") == {
        ("error", "value", "Patient.identifier[0].use", "test-patient"),
        ("error", "structure", "Patient.identifier", "test-patient"),
    }


def test_open_slicing_allows_other_identifiers(validator: Validator) -> None:
    other = patient(identifier=[{"system": "urn:oid:1.2.208.176.1.6.1.1", "value": "X-1"}])
    assert issues(validator, other, "test-patient") == set()


def test_limits_length_and_root_invariant(validator: Validator) -> None:
    bad = patient(
        birthDate="1850-01-01",
        address=[{"postalCode": "12345"}],
        name=[{"given": ["Jens"]}],
    )
    assert issues(validator, bad, "test-patient") == {
        ("error", "value", "Patient.birthDate", "test-patient"),  # minValueDate
        ("error", "value", "Patient.address[0].postalCode", "test-patient"),  # maxLength
        ("error", "invariant", "Patient.address[0].postalCode", "test-patient"),
        ("error", "invariant", "Patient", "test-patient"),  # test-pat-1
    }


def test_required_binding_added_by_a_profile(validator: Validator) -> None:
    category = "http://example.org/fhir/CodeSystem/test-category"
    good = patient(maritalStatus={"coding": [{"system": category, "code": "discharge"}]})
    assert issues(validator, good, "test-patient") == set()
    bad = patient(maritalStatus={"coding": [{"system": category, "code": "nope"}]})
    assert issues(validator, bad, "test-patient") == {
        ("error", "code-invalid", "Patient.maritalStatus", "test-patient")
    }


def test_reference_target_narrowed_by_the_profile(validator: Validator) -> None:
    to_practitioner = patient(generalPractitioner=[{"reference": "Practitioner/1"}])
    assert issues(validator, to_practitioner, "test-patient") == {
        ("error", "structure", "Patient.generalPractitioner[0]", "test-patient")
    }
    assert (
        validator.validate(
            patient(generalPractitioner=[{"reference": "Organization/1"}]), [EX + "test-patient"]
        )
        == []
    )


def test_servicerequest_priority_stat_is_refused(validator: Validator) -> None:
    request = resource(
        "ServiceRequest",
        status="active",
        intent="order",
        subject={"reference": "Patient/1"},
        priority="stat",
    )
    found = validator.validate(request, [EX + "test-servicerequest"])
    assert [(i.severity, i.code, i.expression) for i in found] == [
        ("error", "code-invalid", "ServiceRequest.priority")
    ]
    assert "http://example.org/fhir/ValueSet/test-priority" in found[0].diagnostics
    request["priority"] = "asap"
    assert validator.validate(request, [EX + "test-servicerequest"]) == []


def test_types_restricted_by_the_profile(validator: Validator) -> None:
    request = resource(
        "ServiceRequest",
        status="active",
        intent="order",
        subject={"reference": "Group/1"},
        priority="routine",
        occurrenceTiming={"event": ["2024-01-01"]},
        code={"coding": [{"system": "http://snomed.info/sct", "code": "1"}]},
    )
    assert issues(validator, request, "test-servicerequest") == {
        ("error", "structure", "ServiceRequest.subject", "test-servicerequest"),
        ("error", "structure", "ServiceRequest.occurrenceTiming", "test-servicerequest"),
        ("error", "code-invalid", "ServiceRequest.code", "test-servicerequest"),
    }


def test_careplan_profile(validator: Validator) -> None:
    plan = resource(
        "CarePlan",
        status="active",
        intent="plan",
        subject={"reference": "Patient/1"},
        category=[
            {
                "coding": [
                    {"system": "http://example.org/fhir/CodeSystem/test-category", "code": "nope"}
                ]
            },
            {"text": "without coding"},
        ],
        activity=[{"reference": {"reference": "Task/1"}}, {"detail": {"status": "scheduled"}}],
    )
    assert issues(validator, plan, "test-careplan") == {
        ("error", "code-invalid", "CarePlan.category[0].coding[0].code", "test-careplan"),
        ("error", "required", "CarePlan.category[1].coding", "test-careplan"),
        ("error", "required", "CarePlan.activity[0].detail", "test-careplan"),
        ("error", "required", "CarePlan.activity[1].detail.performer", "test-careplan"),
        ("error", "required", "CarePlan.title", "test-careplan"),
        ("error", "required", "CarePlan.careTeam", "test-careplan"),
    }


def test_careplan_with_unknown_status(validator: Validator) -> None:
    plan = resource("CarePlan", status="running", intent="plan", subject={"reference": "Patient/1"})
    assert ("error", "code-invalid", "CarePlan.status", None) in issues(
        validator, plan, "test-careplan"
    )


def test_medicationstatement_profile(validator: Validator) -> None:
    statement = resource(
        "MedicationStatement",
        status="active",
        subject={"reference": "Patient/1"},
        medicationReference={"reference": "Medication/1"},
        effectivePeriod={"end": "2024-01-01"},
        dosage=[{"sequence": 1}],
    )
    assert issues(validator, statement, "test-medicationstatement") == {
        (
            "error",
            "structure",
            "MedicationStatement.medicationReference",
            "test-medicationstatement",
        ),
        (
            "error",
            "required",
            "MedicationStatement.effectivePeriod.start",
            "test-medicationstatement",
        ),
        ("error", "required", "MedicationStatement.dosage[0].text", "test-medicationstatement"),
        ("error", "required", "MedicationStatement.informationSource", "test-medicationstatement"),
    }
    fine = resource(
        "MedicationStatement",
        status="active",
        subject={"reference": "Patient/1"},
        medicationCodeableConcept={
            "coding": [
                {"system": "http://www.whocc.no/atc", "code": "A10BA02"},
                {"system": "urn:oid:1.2.208.176.2.4", "code": "28100636073"},
            ]
        },
        effectiveDateTime="2024-01-01",
        informationSource={"reference": "Practitioner/1"},
        dosage=[{"text": "1 tablet morgen og aften"}],
    )
    assert validator.validate(fine, [EX + "test-medicationstatement"]) == []


def test_choice_element_minimum_from_the_profile(validator: Validator) -> None:
    statement = resource(
        "MedicationStatement",
        status="active",
        subject={"reference": "Patient/1"},
        medicationCodeableConcept={"coding": [{"system": "http://www.whocc.no/atc", "code": "A"}]},
        informationSource={"reference": "Patient/1"},
        dosage=[{"text": "x"}],
    )
    assert issues(validator, statement, "test-medicationstatement") == {
        ("error", "required", "MedicationStatement.effective", "test-medicationstatement")
    }


def test_consent_profile_fixed_scope_and_deny_needs_start(validator: Validator) -> None:
    consent = resource(
        "Consent",
        status="active",
        scope={
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}
            ]
        },
        category=[{"text": "x"}],
        policyRule={"text": "x"},
        provision={"type": "deny"},
    )
    assert issues(validator, consent, "test-consent") == {
        ("error", "value", "Consent.scope", "test-consent"),
        ("error", "invariant", "Consent.provision", "test-consent"),
        ("error", "required", "Consent.patient", "test-consent"),
        ("error", "required", "Consent.dateTime", "test-consent"),
    }


def test_data_type_profile_on_an_element(validator: Validator) -> None:
    practitioner = resource(
        "Practitioner",
        qualification=[
            {
                "code": {"text": "læge"},
                "identifier": [{"system": "https://autregweb.sst.dk", "value": "1234"}],
            },
            {
                "code": {"text": "læge"},
                "identifier": [{"system": "http://other", "value": "ABCDE"}],
            },
        ],
    )
    assert issues(validator, practitioner, "test-practitioner") == {
        (
            "error",
            "invariant",
            "Practitioner.qualification[0].identifier[0].value",
            "test-identifier-auth",
        ),
        (
            "error",
            "value",
            "Practitioner.qualification[1].identifier[0].system",
            "test-identifier-auth",
        ),
    }


def test_profiles_from_meta_profile(validator: Validator) -> None:
    claimed = patient(meta={"profile": [EX + "test-patient"]}, gender=None)
    del claimed["gender"]
    assert issues(validator, claimed) == {("error", "required", "Patient.gender", "test-patient")}


def test_unknown_profile_is_an_error(validator: Validator) -> None:
    claimed = patient(meta={"profile": ["http://example.org/fhir/StructureDefinition/nope"]})
    found = validator.validate(claimed)
    assert [(i.severity, i.code, i.expression, i.profile) for i in found] == [
        (
            "error",
            "not-supported",
            "Patient.meta.profile[0]",
            "http://example.org/fhir/StructureDefinition/nope",
        )
    ]
    assert [(i.code, i.expression) for i in validator.validate(patient(), [EX + "nope"])] == [
        ("not-supported", "Patient")
    ]


def test_profile_for_another_type_and_the_base_definition(validator: Validator) -> None:
    claimed = patient(
        meta={
            "profile": [
                "http://hl7.org/fhir/StructureDefinition/Patient",
                EX + "test-careplan",
            ]
        }
    )
    assert issues(validator, claimed) == {
        ("error", "processing", "Patient.meta.profile[1]", "test-careplan")
    }


def test_versioned_profile_canonical(validator: Validator) -> None:
    assert validator.validate(patient(), [EX + "test-patient|0.0.1"]) == []
    assert [i.code for i in validator.validate(patient(), [EX + "test-patient|9.9"])] == [
        "not-supported"
    ]


def test_issue_as_operation_outcome_issue(validator: Validator) -> None:
    bad = patient(identifier=[{"use": "official", "system": CPR, "value": "3102011234"}])
    [issue] = validator.validate(bad, [EX + "test-patient"])
    assert issue.to_json() == {
        "severity": "error",
        "code": "invariant",
        "diagnostics": f"test-cpr: CPR number has no valid birth date (profile {EX}test-patient)",
        "expression": ["Patient.identifier[0].value"],
    }


def test_base_invariants_copied_into_a_profile_are_not_reported_twice(
    validator: Validator,
) -> None:
    library = validator.library
    sd = dict(library.structure_definitions[EX + "test-consent"])
    sd["url"] = EX + "consent-copied-invariants"
    elements = [dict(e) for e in sd["snapshot"]["element"]]
    for element in elements:
        if element["id"] == "Consent.provision":
            per_1 = {
                "key": "per-1",
                "severity": "error",
                "human": "If present, start SHALL have a lower value than end",
                "expression": "period.start <= period.end",
                "source": "http://hl7.org/fhir/StructureDefinition/Period",
            }
            element["constraint"] = [*element.get("constraint", []), per_1]
    sd["snapshot"] = {"element": elements}
    fresh = Validator(
        type(library)(dict(library.structure_definitions), library.value_sets, library.code_systems)
    )
    fresh.library.add(sd)
    consent = resource(
        "Consent",
        status="active",
        scope={
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        category=[{"text": "x"}],
        patient={"reference": "Patient/1"},
        dateTime="2024-01-01",
        policyRule={"text": "x"},
        provision={"type": "permit", "period": {"start": "2024-02-01", "end": "2024-01-01"}},
    )
    found = [(i.code, i.expression, i.profile) for i in fresh.validate(consent, [sd["url"]])]
    assert found == [("invariant", "Consent.provision.period", None)]
