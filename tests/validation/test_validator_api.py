"""The Validator API the write path uses: one shared instance, synchronous, thread-safe."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from profiles.validation import Validator
from tests.validation.support import EX, resource


def test_default_is_one_shared_instance() -> None:
    assert Validator.default() is Validator.default()
    assert Validator.default().validate(resource("Patient", gender="male")) == []


def test_concurrent_validation_gives_the_same_answers(validator: Validator) -> None:
    bad = resource(
        "Patient",
        identifier=[
            {"use": "official", "system": "urn:oid:1.2.208.176.1.2", "value": "3102011234"}
        ],
        name=[{"family": "x"}],
        gender="mael",
    )
    fresh = Validator(validator.library)  # compiles lazily while the threads race

    def run(_: int) -> list[tuple[str, str]]:
        return [(i.code, i.expression) for i in fresh.validate(bad, [EX + "test-patient"])]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, range(64)))
    assert all(r == results[0] for r in results)
    assert results[0] == [
        ("code-invalid", "Patient.gender"),
        ("invariant", "Patient.identifier[0].value"),
    ]


def test_validation_does_not_change_the_resource(validator: Validator) -> None:
    res = resource("Patient", name=[{"family": "x"}], birthDate="2001-02-30")
    before = repr(res)
    validator.validate(res, [EX + "test-patient"])
    assert repr(res) == before


def test_a_broken_profile_is_reported_not_raised(validator: Validator) -> None:
    broken = {
        "resourceType": "StructureDefinition",
        "url": EX + "broken",
        "name": "Broken",
        "status": "draft",
        "kind": "resource",
        "abstract": False,
        "type": "Patient",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
        "derivation": "constraint",
        "snapshot": {
            "element": [
                {"id": "Patient", "path": "Patient", "min": 0, "max": "*"},
                {"id": "Patient.identifier:cpr", "path": "Patient.identifier", "sliceName": "cpr"},
            ]
        },
    }
    library = validator.library
    fresh = Validator(
        type(library)(dict(library.structure_definitions), library.value_sets, library.code_systems)
    )
    fresh.library.add(broken)
    [issue] = fresh.validate(resource("Patient"), [EX + "broken"])
    assert (issue.severity, issue.code, issue.expression) == ("error", "processing", "Patient")
    assert fresh.compile_all() == [
        f"{EX}broken: {EX}broken: slice Patient.identifier:cpr of an undeclared element"
    ]


def test_compile_all_names_profiles_nobody_can_check(validator: Validator) -> None:
    library = validator.library
    sd = dict(library.structure_definitions[EX + "test-careplan"])
    sd["url"] = EX + "careplan-with-unknown-target"
    elements = [dict(e) for e in sd["snapshot"]["element"]]
    for element in elements:
        if element["id"] == "CarePlan.subject":
            element["type"] = [
                {"code": "Reference", "targetProfile": ["http://example.org/unknown-patient"]}
            ]
    sd["snapshot"] = {"element": elements}
    fresh = Validator(
        type(library)(dict(library.structure_definitions), library.value_sets, library.code_systems)
    )
    fresh.library.add(sd)
    assert fresh.compile_all() == [
        f"{EX}careplan-with-unknown-target: CarePlan.subject names unknown "
        "http://example.org/unknown-patient"
    ]


def test_required_binding_to_a_value_set_we_cannot_check(validator: Validator) -> None:
    """Over a code system we do not hold: skipped, not an error; an unknown one is reported."""
    library = validator.library
    sd = dict(library.structure_definitions[EX + "test-servicerequest"])
    sd["url"] = EX + "servicerequest-snomed"
    elements = [dict(e) for e in sd["snapshot"]["element"]]
    for element in elements:
        if element["id"] == "ServiceRequest.code":
            element["binding"] = {
                "strength": "required",
                "valueSet": "http://example.org/fhir/ValueSet/test-snomed",
            }
        if element["id"] == "ServiceRequest.reasonCode":
            element["binding"] = {"strength": "required", "valueSet": "http://example.org/nope"}
    sd["snapshot"] = {"element": elements}
    fresh = Validator(
        type(library)(dict(library.structure_definitions), library.value_sets, library.code_systems)
    )
    fresh.library.add(sd)
    assert fresh.compile_all() == [
        f"{EX}servicerequest-snomed: ServiceRequest.reasonCode binds unknown ValueSet "
        "http://example.org/nope"
    ]
    request = resource(
        "ServiceRequest",
        status="active",
        intent="order",
        priority="routine",
        subject={"reference": "Patient/1"},
        code={"coding": [{"system": "http://snomed.info/sct", "code": "1"}]},
        reasonCode=[{"text": "x"}],
    )
    assert fresh.validate(request, [EX + "servicerequest-snomed"]) == []
