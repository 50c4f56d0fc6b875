"""The R4 base specification's required bindings, at least one per served resource type."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.resource_types import SERVED_TYPES
from profiles.validation import Validator
from tests.validation.support import resource

VS = "http://hl7.org/fhir/ValueSet/"
PATIENT = {"reference": "Patient/1"}
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("Patient", {"gender": "mael"}, "Patient.gender", "administrative-gender"),
    ("Practitioner", {"gender": "M"}, "Practitioner.gender", "administrative-gender"),
    (
        "PractitionerRole",
        {"availableTime": [{"daysOfWeek": ["monday"]}]},
        "PractitionerRole.availableTime[0].daysOfWeek[0]",
        "days-of-week",
    ),
    (
        "Organization",
        {"name": "x", "telecom": [{"system": "telephone", "value": "1"}]},
        "Organization.telecom[0].system",
        "contact-point-system",
    ),
    (
        "RelatedPerson",
        {"patient": PATIENT, "gender": "f"},
        "RelatedPerson.gender",
        "administrative-gender",
    ),
    (
        "CarePlan",
        {"status": "unknown-status", "intent": "plan", "subject": PATIENT},
        "CarePlan.status",
        "request-status",
    ),
    ("CareTeam", {"status": "running"}, "CareTeam.status", "care-team-status"),
    (
        "ServiceRequest",
        {"status": "active", "intent": "order", "subject": PATIENT, "priority": "whenever"},
        "ServiceRequest.priority",
        "request-priority",
    ),
    (
        "MedicationStatement",
        {"status": "taking", "subject": PATIENT, "medicationCodeableConcept": {"text": "x"}},
        "MedicationStatement.status",
        "medication-statement-status",
    ),
    ("Medication", {"status": "available"}, "Medication.status", "medication-status"),
    (
        "Goal",
        {"lifecycleStatus": "started", "description": {"text": "x"}, "subject": PATIENT},
        "Goal.lifecycleStatus",
        "goal-status",
    ),
    (
        "Condition",
        {
            "subject": PATIENT,
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "ongoing",
                    }
                ]
            },
        },
        "Condition.clinicalStatus",
        "condition-clinical",
    ),
    (
        "Consent",
        {
            "status": "given",
            "scope": {"text": "x"},
            "category": [{"text": "x"}],
            "policyRule": {"text": "x"},
        },
        "Consent.status",
        "consent-state-codes",
    ),
    ("Communication", {"status": "sent"}, "Communication.status", "event-status"),
    (
        "Encounter",
        {"status": "open", "class": {"code": "AMB"}},
        "Encounter.status",
        "encounter-status",
    ),
    ("Task", {"status": "open", "intent": "order"}, "Task.status", "task-status"),
    (
        "Observation",
        {"status": "done", "code": {"text": "x"}},
        "Observation.status",
        "observation-status",
    ),
    (
        "Provenance",
        {
            "target": [PATIENT],
            "recorded": "2024-01-01T10:00:00Z",
            "agent": [{"who": {"reference": "Practitioner/1"}}],
            "entity": [{"role": "copy", "what": PATIENT}],
        },
        "Provenance.entity[0].role",
        "provenance-entity-role",
    ),
    (
        "AuditEvent",
        {
            "type": {"code": "rest"},
            "action": "X",
            "recorded": "2024-01-01T10:00:00Z",
            "agent": [{"requestor": True}],
            "source": {"observer": {"reference": "Device/1"}},
        },
        "AuditEvent.action",
        "audit-event-action",
    ),
    (
        "SearchParameter",
        {
            "url": "http://example.org/SearchParameter/x",
            "name": "X",
            "status": "bogus",
            "description": "a parameter",
            "code": "x",
            "base": ["Patient"],
            "type": "token",
            "expression": "Patient.gender",
        },
        "SearchParameter.status",
        "publication-status",
    ),
    (
        "StructureDefinition",
        {
            "url": "http://example.org/StructureDefinition/x",
            "name": "X",
            "status": "draft",
            "kind": "bogus",
            "abstract": False,
            "type": "Patient",
            "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
            "derivation": "constraint",
            "differential": {"element": [{"id": "Patient", "path": "Patient"}]},
        },
        "StructureDefinition.kind",
        "structure-definition-kind",
    ),
    (
        "ValueSet",
        {"name": "X", "status": "bogus"},
        "ValueSet.status",
        "publication-status",
    ),
    (
        "CodeSystem",
        {"name": "X", "status": "draft", "content": "bogus"},
        "CodeSystem.content",
        "codesystem-content-mode",
    ),
    (
        "ConceptMap",
        {
            "name": "X",
            "status": "draft",
            "group": [
                {"element": [{"code": "a", "target": [{"code": "b", "equivalence": "same"}]}]}
            ],
        },
        "ConceptMap.group[0].element[0].target[0].equivalence",
        "concept-map-equivalence",
    ),
]


ORIGINAL_TYPES = {
    "Patient", "Practitioner", "PractitionerRole", "Organization", "RelatedPerson", "CarePlan",
    "CareTeam", "ServiceRequest", "MedicationStatement", "Medication", "Goal", "Condition",
    "Consent", "Communication", "Encounter", "Task", "Observation", "Provenance", "AuditEvent",
    "SearchParameter", "StructureDefinition", "ValueSet", "CodeSystem", "ConceptMap",
}  # fmt: skip


def test_every_served_type_is_covered() -> None:
    """A case for each of the types the server served first (the others share the same
    compiled check: tests/api/test_all_types.py writes each of them)."""
    assert {kind for kind, *_ in CASES} == ORIGINAL_TYPES
    assert ORIGINAL_TYPES <= SERVED_TYPES


@pytest.mark.parametrize(("kind", "elements", "expression", "value_set"), CASES)
def test_bad_code_on_a_required_binding(
    validator: Validator, kind: str, elements: dict[str, Any], expression: str, value_set: str
) -> None:
    found = validator.validate(resource(kind, **elements))
    assert [(i.severity, i.code, i.expression, i.profile) for i in found] == [
        ("error", "code-invalid", expression, None)
    ]
    assert VS + value_set in found[0].diagnostics


@pytest.mark.parametrize(("kind", "elements", "expression", "value_set"), CASES)
def test_the_same_resource_with_a_valid_code_passes(
    validator: Validator, kind: str, elements: dict[str, Any], expression: str, value_set: str
) -> None:
    content = validator.terminology.content(VS + value_set)
    assert content.concepts
    good = content.concepts[0]
    fixed = _replace(resource(kind, **elements), expression, good.code, good.system)
    assert validator.validate(fixed) == []


def _replace(res: dict[str, Any], expression: str, code: str, system: str) -> dict[str, Any]:
    """Put ``code`` where ``expression`` points (a code, or the coding of a CodeableConcept)."""
    steps = expression.split(".")[1:]
    node: Any = res
    for step in steps[:-1]:
        name, _, index = step.partition("[")
        node = node[name][int(index[:-1])] if index else node[name]
    name, _, index = steps[-1].partition("[")
    if isinstance(node[name], dict):
        node[name] = {"coding": [{"system": system, "code": code}]}
    elif index:
        node[name][int(index[:-1])] = code
    else:
        node[name] = code
    return res


def test_codeable_concept_needs_a_coding_from_the_value_set(validator: Validator) -> None:
    condition = resource(
        "Condition",
        subject=PATIENT,
        clinicalStatus={"text": "active"},
        verificationStatus={
            "coding": [{"code": "confirmed"}]  # no system: not in the value set
        },
    )
    found = {(i.code, i.expression) for i in validator.validate(condition)}
    assert found == {
        ("code-invalid", "Condition.clinicalStatus"),
        ("code-invalid", "Condition.verificationStatus"),
    }


def test_codes_of_data_types_and_grammar_bound_codes(validator: Validator) -> None:
    patient = resource(
        "Patient",
        name=[{"use": "nick"}],
        address=[{"use": "home", "type": "street"}],
        identifier=[{"use": "main"}],
        photo=[{"contentType": "jpeg"}, {"contentType": "image/jpeg"}],
    )
    found = {(i.code, i.expression) for i in validator.validate(patient)}
    assert found == {
        ("code-invalid", "Patient.name[0].use"),
        ("code-invalid", "Patient.address[0].type"),
        ("code-invalid", "Patient.identifier[0].use"),
        ("code-invalid", "Patient.photo[0].contentType"),  # not a mime type at all
    }


def test_extensible_and_preferred_bindings_are_not_errors(validator: Validator) -> None:
    patient = resource(
        "Patient",
        maritalStatus={"coding": [{"system": "http://example.org/status", "code": "x"}]},
        language="xx-YY",
        communication=[{"language": {"text": "dansk"}}],
    )
    assert validator.validate(patient) == []
