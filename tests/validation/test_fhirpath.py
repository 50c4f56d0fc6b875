"""The FHIRPath compiler: FHIRPath semantics on plain JSON, and agreement with fhirpathpy."""

from __future__ import annotations

from typing import Any

import fhirpathpy
import pytest
from fhirpathpy.models import models

from profiles.validation import Validator
from profiles.validation.fhirpath import EvaluationError

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "active": True,
    "name": [
        {"use": "official", "family": "Hansen", "given": ["Jens", "Peter"]},
        {"use": "nickname", "given": ["Jensemand"]},
    ],
    "telecom": [{"system": "phone", "value": "12345678"}, {"system": "email", "value": "j@x.dk"}],
    "birthDate": "2001-02-03",
    "multipleBirthInteger": 2,
    "identifier": [{"system": "urn:oid:1.2.208.176.1.2", "value": "0302011234"}],
    "contained": [{"resourceType": "Organization", "id": "o1", "name": "Lægehuset"}],
    "managingOrganization": {"reference": "#o1"},
}

# expressions both engines understand: the compiler must agree with fhirpathpy
AGREEING = [
    "name.given",
    "name.given.count()",
    "name.where(use = 'official').family",
    "name.select(given.first())",
    "name.exists(family = 'Hansen')",
    "name.all(given.exists())",
    "telecom.system = 'phone'",
    "telecom.where(system = 'phone').value.length() = 8",
    "birthDate < @2002-01-01",
    "birthDate >= @2001-02-03",
    "multipleBirth > 1",
    "multipleBirth + 1",
    "multipleBirth * 2 div 3",
    "multipleBirth mod 2 = 0",
    "name.given[1]",
    "name.given | name.family",
    "name.given.union(name.family).count()",
    "name.given.distinct().count()",
    "name.given.isDistinct()",
    "'Jens' in name.given",
    "name.given contains 'Peter'",
    "name.given.first() & ' ' & name.family",
    "identifier.value.matches('^[0-9]{10}$')",
    "identifier.value.substring(0, 6)",
    "identifier.value.startsWith('0302')",
    "name.family.upper()",
    "name.family.lower().endsWith('sen')",
    "name.family.replace('sen', 'son')",
    "name.family.indexOf('s')",
    "active and name.exists()",
    "active or {}",
    "{} and false",
    "(active xor false)",
    "active implies name.empty()",
    "name.empty().not()",
    "iif(active, 'yes', 'no')",
    "name.given.skip(1).take(1)",
    "name.given.tail().last()",
    "telecom.first().value.toString()",
    "'5'.toInteger() + 1",
    "name.given.subsetOf(name.given | 'x')",
    "name.given.intersect('Jens' | 'Ole')",
    "name.given.exclude('Jens')",
    "multipleBirth.toString() = '2'",
    "name.family ~ 'HANSEN'",
    "name.family != 'Hansen'",
    "Patient.name.family",
    "contained.name",
    "name.use.distinct().combine(name.use).count()",
]


@pytest.mark.parametrize("expression", AGREEING)
def test_agrees_with_fhirpathpy(validator: Validator, expression: str) -> None:
    compiled = validator.fhirpath.compile(expression)
    assert compiled.native, expression
    expected = fhirpathpy.evaluate(PATIENT, expression, model=models["r4"])
    assert compiled.evaluate(PATIENT) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'2020-01-01' = '2020-01-01T10:00:00Z'", []),  # different precision: unknown
        ("@2020-01 < @2020-02-15", [True]),
        ("@2020-01-01T10:00:00+02:00 < @2020-01-01T09:00:00Z", [True]),
        ("{} = 1", []),
        ("(1 | 2) = 1", [False]),
        ("1 = 1.0", [True]),
        ("'a' ~ {}", [False]),
        ("true and {}", []),
        ("false and {}", [False]),
        ("true or {}", [True]),
        ("{} implies false", []),
        ("false implies {}", [True]),
        ("'abc'.substring(5)", []),
        ("'abc'.matches('b')", [True]),  # matches() finds, it does not need the whole string
        ("hasValue()", [False]),
        ("name.family.hasValue()", [True]),
        ("managingOrganization.resolve().name", ["Lægehuset"]),
        ("managingOrganization.resolve() is Organization", [True]),
        ("'Practitioner/1'.resolve().ofType(Practitioner).exists()", [True]),
        ("%resource.id", ["p1"]),
        ("%ucum", ["http://unitsofmeasure.org"]),
        ("name.given.where($index = 1)", ["Peter"]),
        ("1 / 0", []),
        ("-multipleBirth", [-2]),
        ("repeat(contained).name", ["Lægehuset"]),
        ("descendants().where($this = 'Lægehuset').count()", [1]),
    ],
)
def test_semantics(validator: Validator, expression: str, expected: list[Any]) -> None:
    compiled = validator.fhirpath.compile(expression)
    assert compiled.native, expression
    assert compiled.evaluate(PATIENT) == expected


def test_choice_elements_by_type(validator: Validator) -> None:
    observation = {"resourceType": "Observation", "valueQuantity": {"value": 3, "code": "mg"}}
    for expression, expected in [
        ("value.value", [3]),
        ("value.ofType(Quantity).value", [3]),
        ("value.ofType(string)", []),
        ("value is Quantity", [True]),
        ("value is string", [False]),
        ("(value as Quantity).code", ["mg"]),
        ("Observation.value.as(Quantity).code", ["mg"]),
    ]:
        compiled = validator.fhirpath.compile(expression)
        assert compiled.native, expression
        assert compiled.evaluate(observation) == expected, expression


def test_primitive_with_only_extensions_exists_without_value(validator: Validator) -> None:
    patient = {"_birthDate": {"extension": [{"url": "x", "valueString": "y"}]}}
    assert validator.fhirpath.compile("birthDate.exists()").evaluate(patient) == [True]
    assert validator.fhirpath.compile("birthDate.hasValue()").evaluate(patient) == [False]
    assert validator.fhirpath.compile("birthDate.extension.url").evaluate(patient) == ["x"]


def test_runtime_fallback_to_fhirpathpy(validator: Validator) -> None:
    """A type test the compiler cannot decide on plain JSON runs in fhirpathpy instead."""
    compiled = validator.fhirpath.compile("name.family.ofType(string).count()", "Patient")
    assert compiled.native  # compiled, but gives up for this input at run time
    assert compiled.evaluate(PATIENT) == [1]


def test_compile_time_fallback(validator: Validator) -> None:
    compiled = validator.fhirpath.compile("name.given.aggregate($total + 1, 0)")
    assert not compiled.native
    assert compiled.evaluate(PATIENT) == [3]


def test_evaluation_errors(validator: Validator) -> None:
    with pytest.raises(EvaluationError):
        validator.fhirpath.compile("name.given and true").evaluate(PATIENT)
    with pytest.raises(EvaluationError):
        validator.fhirpath.compile("name.family.length()").evaluate(
            {"name": [{"family": "a"}, {"family": "b"}]}
        )


def test_invariant_that_cannot_be_evaluated_is_a_processing_error(validator: Validator) -> None:
    from profiles.validation.context import Context, check_invariant
    from profiles.validation.invariants import compile_invariants

    [invariant] = compile_invariants(
        [
            {
                "key": "x-1",
                "severity": "error",
                "human": "x",
                "expression": "name.family.length() > 1",
            }
        ],
        validator.fhirpath,
        None,
        None,
    )
    patient = {"resourceType": "Patient", "name": [{"family": "a"}, {"family": "b"}]}
    ctx = Context(validator, patient)
    check_invariant(invariant, patient, "Patient", ctx)
    assert [(i.code, i.expression) for i in ctx.issues] == [("processing", "Patient")]


def test_member_of(validator: Validator) -> None:
    vs = "'http://hl7.org/fhir/ValueSet/request-priority'"
    request = {"priority": "asap", "code": {"coding": [{"system": "http://x", "code": "y"}]}}
    assert validator.fhirpath.compile(f"priority.memberOf({vs})").evaluate(request) == [True]
    assert validator.fhirpath.compile(f"code.memberOf({vs})").evaluate(request) == [False]
    snomed = "'http://example.org/fhir/ValueSet/test-snomed'"  # not checkable: empty
    assert validator.fhirpath.compile(f"priority.memberOf({snomed})").evaluate(request) == []


@pytest.mark.parametrize(
    "expression",
    [
        "@2024-02-29 + 1 year",
        "@2024-01-31 + 1 month",
        "@2024-01-31 + 13 months",
        "@2024 + 1 year",
        "@2024-03 + 1 year",
        "@2024-03-01 + 2 weeks",
        "@2024-03-01 - 1 day",
        "@2023-03-01 - 1 day",
        "birthDate + 18 years",
        "birthDate + 18 years <= @2019-02-03",
        "active implies birthDate + 1 year > birthDate",
    ],
)
def test_calendar_durations_agree_with_fhirpathpy(validator: Validator, expression: str) -> None:
    """Date arithmetic with calendar durations runs natively (the Danish consent rule
    ``end <= start + 1 year`` is checked on every Consent written)."""
    compiled = validator.fhirpath.compile(expression)
    assert compiled.native
    expected = fhirpathpy.evaluate(PATIENT, expression, model=models["r4"])
    assert compiled.evaluate(PATIENT) == expected


@pytest.mark.parametrize(
    "expression",
    ["@2024-03-01T10:00:00Z + 1 year", "@2024-03 + 1 day", "birthDate + 1 'a'"],
)
def test_other_date_arithmetic_goes_to_fhirpathpy(validator: Validator, expression: str) -> None:
    """Date-times, days added to a month, UCUM units: fhirpathpy's answers (or its refusal)."""
    compiled = validator.fhirpath.compile(expression)
    try:
        expected: Any = fhirpathpy.evaluate(PATIENT, expression, model=models["r4"])
    except Exception:  # fhirpathpy refuses 'a' for date arithmetic
        with pytest.raises(EvaluationError):
            compiled.evaluate(PATIENT)
        return
    assert compiled.evaluate(PATIENT) == expected


def test_a_short_circuit_keeps_an_unsupported_right_side_native(validator: Validator) -> None:
    """``A implies B`` with B outside the compiled subset is native while A is false."""
    compiled = validator.fhirpath.compile(
        "active.not() implies name.given.aggregate($total + 1, 0) > 1"
    )
    assert compiled.native
    assert compiled.evaluate(PATIENT) == [True]
    assert compiled.evaluate({**PATIENT, "active": False}) == fhirpathpy.evaluate(
        {**PATIENT, "active": False},
        "active.not() implies name.given.aggregate($total + 1, 0) > 1",
        model=models["r4"],
    )


@pytest.mark.parametrize(
    "expression",
    [
        "name.family.startsWith(identifier)",
        "name.family.endsWith(identifier)",
        "name.family.contains(identifier)",
        "name.family.indexOf(identifier)",
        "name.family.replace(identifier, 'x')",
    ],
)
def test_string_function_with_a_non_string_argument_is_empty(
    validator: Validator, expression: str
) -> None:
    """Found by the fuzzer (tests/fuzz): an invariant comparing to an element that a malformed
    resource gives as an object (StructureDefinition.type ``{...}``) raised TypeError → 500."""
    patient = {**PATIENT, "name": [{"family": "Hansen"}]}
    assert validator.fhirpath.compile(expression).evaluate(patient) == []
