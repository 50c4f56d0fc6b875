"""Invariants of the R4 base specification, evaluated on the elements they sit on."""

from __future__ import annotations

from typing import Any

import pytest

from profiles.validation import Validator
from tests.validation.support import issues, resource

PATIENT = {"reference": "Patient/1"}
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def _keys(validator: Validator, res: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(severity, expression, invariant key) of the invariant issues."""
    return {
        (i.severity, i.expression, i.diagnostics.split(":")[0])
        for i in validator.validate(res)
        if i.code == "invariant"
    }


def test_consent_needs_a_policy_ppc_1(validator: Validator) -> None:
    consent = resource("Consent", status="active", scope={"text": "x"}, category=[{"text": "x"}])
    assert _keys(validator, consent) == {("error", "Consent", "ppc-1")}
    consent["policyRule"] = {"text": "Sundhedsloven §42a"}
    assert _keys(validator, consent) == set()


def test_condition_abatement_and_status_con_4_con_5(validator: Validator) -> None:
    active = {"coding": [{"system": CLINICAL, "code": "active"}]}
    resolved = {"coding": [{"system": CLINICAL, "code": "resolved"}]}
    refuted = {"coding": [{"system": VERIFICATION, "code": "entered-in-error"}]}
    abated = resource(
        "Condition", subject=PATIENT, clinicalStatus=active, abatementDateTime="2020-01-01"
    )
    assert _keys(validator, abated) == {("error", "Condition", "con-4")}
    abated["clinicalStatus"] = resolved
    assert _keys(validator, abated) == set()
    erroneous = resource(
        "Condition", subject=PATIENT, clinicalStatus=active, verificationStatus=refuted
    )
    assert _keys(validator, erroneous) == {("error", "Condition", "con-5")}


def test_careplan_activity_is_detail_or_reference_cpl_3(validator: Validator) -> None:
    plan = resource(
        "CarePlan",
        status="active",
        intent="plan",
        subject=PATIENT,
        activity=[
            {"reference": {"reference": "ServiceRequest/1"}},
            {"reference": {"reference": "Task/1"}, "detail": {"status": "scheduled"}},
        ],
    )
    assert _keys(validator, plan) == {("error", "CarePlan.activity[1]", "cpl-3")}


def test_observation_value_rules_obs_6_obs_7(validator: Validator) -> None:
    code = {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}
    both = resource(
        "Observation",
        status="final",
        code=code,
        valueString="x",
        dataAbsentReason={"text": "unknown"},
    )
    assert _keys(validator, both) == {("error", "Observation", "obs-6")}
    repeated = resource(
        "Observation",
        status="final",
        code=code,
        valueString="x",
        component=[{"code": code, "valueString": "y"}],
    )
    assert _keys(validator, repeated) == {("error", "Observation", "obs-7")}


@pytest.mark.parametrize(
    ("period", "fails"),
    [
        ({"start": "2021-01-01", "end": "2020-12-31"}, True),
        ({"start": "2020-01-01", "end": "2021-01-01"}, False),
        ({"start": "2020-01-01"}, False),
        ({"end": "2020-01-01"}, False),
        ({"start": "2020-01-01T10:00:00+02:00", "end": "2020-01-01T09:00:00Z"}, False),
        ({"start": "2020-01-01T10:00:00Z", "end": "2020-01-01T11:00:00+02:00"}, True),
        ({"start": "2020-01", "end": "2020-02-15"}, False),
        ({"start": "2020-03", "end": "2020-02-15"}, True),
        # same day at different precision: the comparison is unknown, so the rule is not met
        ({"start": "2020-01-01", "end": "2020-01-01T10:00:00Z"}, True),
    ],
)
def test_period_start_before_end_per_1(
    validator: Validator, period: dict[str, str], fails: bool
) -> None:
    encounter = resource(
        "Encounter", status="finished", **{"class": {"code": "AMB"}}, period=period
    )
    expected = {("error", "Encounter.period", "per-1")} if fails else set()
    assert _keys(validator, encounter) == expected


def test_patient_contact_and_organization_rules(validator: Validator) -> None:
    patient = resource("Patient", contact=[{"relationship": [{"text": "mother"}]}])
    assert _keys(validator, patient) == {("error", "Patient.contact[0]", "pat-1")}
    organization = resource(
        "Organization",
        address=[{"use": "home", "city": "Aarhus"}],
        telecom=[{"system": "phone", "value": "1", "use": "home"}],
    )
    assert _keys(validator, organization) == {
        ("error", "Organization", "org-1"),
        ("error", "Organization.address[0]", "org-2"),
        ("error", "Organization.telecom[0]", "org-3"),
    }


def test_task_last_modified_after_authored_inv_1(validator: Validator) -> None:
    task = resource(
        "Task",
        status="requested",
        intent="order",
        authoredOn="2020-02-01",
        lastModified="2020-01-01",
    )
    assert _keys(validator, task) == {("error", "Task", "inv-1")}


def test_careteam_on_behalf_of_only_for_practitioners_ctm_1(validator: Validator) -> None:
    team = resource(
        "CareTeam",
        participant=[
            {"member": PATIENT, "onBehalfOf": {"reference": "Organization/1"}},
            {
                "member": {"reference": "Practitioner/1"},
                "onBehalfOf": {"reference": "Organization/1"},
            },
            {
                "member": {"reference": "urn:uuid:0b1c2d3e-0000-4000-8000-000000000000"},
                "onBehalfOf": {"reference": "Organization/1"},
            },
        ],
    )
    assert _keys(validator, team) == {("error", "CareTeam.participant[0]", "ctm-1")}


def test_data_type_invariants(validator: Validator) -> None:
    statement = resource(
        "MedicationStatement",
        status="active",
        subject=PATIENT,
        medicationCodeableConcept={"text": "x"},
        dosage=[
            {
                "timing": {"repeat": {"duration": 1, "period": -1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "code": "mg"}}],
            }
        ],
    )
    assert _keys(validator, statement) == {
        ("error", "MedicationStatement.dosage[0].timing.repeat", "tim-1"),
        ("error", "MedicationStatement.dosage[0].timing.repeat", "tim-5"),
        ("error", "MedicationStatement.dosage[0].doseAndRate[0].doseQuantity", "qty-3"),
    }
    patient = resource("Patient", telecom=[{"value": "12345678"}])
    assert _keys(validator, patient) == {("error", "Patient.telecom[0]", "cpt-2")}


def test_extension_value_or_children_ext_1(validator: Validator) -> None:
    patient = resource(
        "Patient",
        extension=[
            {"url": "http://example.org/a"},
            {
                "url": "http://example.org/b",
                "valueString": "x",
                "extension": [{"url": "c", "valueString": "y"}],
            },
        ],
    )
    assert _keys(validator, patient) == {
        ("error", "Patient.extension[0]", "ext-1"),
        ("error", "Patient.extension[1]", "ext-1"),
    }


def test_contained_resource_rules_dom_2_to_dom_5(validator: Validator) -> None:
    nested = {"resourceType": "Organization", "id": "inner", "name": "x"}
    plan = resource(
        "CarePlan",
        status="active",
        intent="plan",
        subject=PATIENT,
        author={"reference": "#a"},
        contained=[
            {
                "resourceType": "Organization",
                "id": "a",
                "name": "x",
                "meta": {"versionId": "1", "security": [{"code": "R"}]},
                "contained": [nested],
                "partOf": {"reference": "#inner"},
            },
            {"resourceType": "Organization", "id": "unused", "name": "y"},
        ],
    )
    found = _keys(validator, plan)
    assert {k for _, _, k in found} >= {"dom-2", "dom-3", "dom-4", "dom-5"}
    assert ("error", "CarePlan", "dom-3") in found


def test_contained_resource_referring_to_its_container_is_referenced(validator: Validator) -> None:
    plan = resource(
        "CarePlan",
        status="active",
        intent="plan",
        subject=PATIENT,
        contained=[
            {
                "resourceType": "Goal",
                "id": "g",
                "lifecycleStatus": "active",
                "description": {"text": "x"},
                "subject": PATIENT,
                "addresses": [{"reference": "#"}],
            }
        ],
    )
    assert _keys(validator, plan) == set()


def test_narrative_rules(validator: Validator) -> None:
    def with_div(div: str) -> dict[str, Any]:
        return {"resourceType": "Patient", "text": {"status": "generated", "div": div}}

    assert _keys(validator, with_div("<div><p>x</p></div>")) == {
        ("error", "Patient.text.div", "txt-1")
    }
    script = '<div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></div>'
    assert _keys(validator, with_div(script)) == {("error", "Patient.text.div", "txt-1")}
    handler = '<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">x</p></div>'
    assert _keys(validator, with_div(handler)) == {("error", "Patient.text.div", "txt-1")}
    blank = '<div xmlns="http://www.w3.org/1999/xhtml"> <p/> </div>'
    assert _keys(validator, with_div(blank)) == {("error", "Patient.text.div", "txt-2")}
    fine = (
        '<div xmlns="http://www.w3.org/1999/xhtml"><table><tr><td class="x">Jens&nbsp;Hansen'
        '</td></tr></table><img src="#p" alt="photo"/><br/></div>'
    )
    assert _keys(validator, with_div(fine)) == set()


def test_missing_narrative_is_a_warning_dom_6(validator: Validator) -> None:
    assert issues(validator, {"resourceType": "Patient"}) == {
        ("warning", "invariant", "Patient", None)
    }
