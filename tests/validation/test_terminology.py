"""Terminology over the bundled CodeSystems and ValueSets: expand, validate-code, lookup."""

from __future__ import annotations

import pytest

from profiles.terminology import (
    NotEnumerable,
    Terminology,
    UnknownCodeSystem,
    UnknownValueSet,
)
from profiles.validation import Validator

EX = "http://example.org/fhir/"
CATEGORY = EX + "CodeSystem/test-category"


@pytest.fixture(scope="module")
def terminology(validator: Validator) -> Terminology:
    return validator.terminology


def _codes(expansion: dict) -> list[str]:
    return [c["code"] for c in expansion["expansion"]["contains"]]


def test_expand_a_whole_code_system(terminology: Terminology) -> None:
    expanded = terminology.expand(EX + "ValueSet/test-category")
    assert expanded["resourceType"] == "ValueSet"
    assert expanded["url"] == EX + "ValueSet/test-category"
    assert expanded["expansion"]["total"] == 4
    assert _codes(expanded) == ["course", "psychiatry", "discharge", "prevention"]
    assert expanded["expansion"]["contains"][0] == {
        "system": CATEGORY,
        "code": "course",
        "display": "Cross-sector course",
    }
    assert expanded["expansion"]["contains"][3]["inactive"] is True  # status retired


def test_expand_filter_count_offset(terminology: Terminology) -> None:
    expanded = terminology.expand(EX + "ValueSet/test-category", filter="COURSE")
    assert _codes(expanded) == ["course"]
    page = terminology.expand(EX + "ValueSet/test-category", count=2, offset=1)
    assert _codes(page) == ["psychiatry", "discharge"]
    assert page["expansion"]["total"] == 4
    assert page["expansion"]["offset"] == 1
    assert {"name": "count", "valueInteger": 2} in page["expansion"]["parameter"]


def test_expand_with_filters_imports_and_excludes(terminology: Terminology) -> None:
    assert _codes(terminology.expand(EX + "ValueSet/test-category-course")) == [
        "psychiatry",
        "discharge",
    ]
    assert _codes(terminology.expand(EX + "ValueSet/test-category-active")) == [
        "course",
        "psychiatry",
        "discharge",
    ]


def test_expand_enumerated_codes_of_an_external_system(terminology: Terminology) -> None:
    expanded = terminology.expand(EX + "ValueSet/test-service")
    assert [(c["system"], c["code"]) for c in expanded["expansion"]["contains"]] == [
        ("http://snomed.info/sct", "658161000005107"),
        ("http://snomed.info/sct", "658141000005108"),
    ]


def test_expand_the_precomputed_r4_value_sets(terminology: Terminology) -> None:
    expanded = terminology.expand("http://hl7.org/fhir/ValueSet/request-priority|4.0.1")
    assert _codes(expanded) == ["routine", "urgent", "asap", "stat"]


def test_what_cannot_be_expanded(terminology: Terminology) -> None:
    with pytest.raises(NotEnumerable):
        terminology.expand(EX + "ValueSet/test-snomed")
    with pytest.raises(NotEnumerable):
        terminology.expand("http://hl7.org/fhir/ValueSet/mimetypes")
    with pytest.raises(UnknownValueSet):
        terminology.expand(EX + "ValueSet/nope")


def test_validate_code(terminology: Terminology) -> None:
    url = EX + "ValueSet/test-category"
    ok = terminology.validate_code(url, CATEGORY, "discharge")
    assert (ok.result, ok.display) == (True, "Discharge follow-up")
    assert terminology.validate_code(url, None, "discharge").result is True  # system optional
    wrong_system = terminology.validate_code(url, "http://other", "discharge")
    assert wrong_system.result is False
    assert "is not in the value set" in (wrong_system.message or "")
    assert terminology.validate_code(url, CATEGORY, "nope").result is False


def test_validate_code_display(terminology: Terminology) -> None:
    url = EX + "ValueSet/test-category"
    assert terminology.validate_code(url, CATEGORY, "course", "cross-sector  COURSE").result
    assert terminology.validate_code(url, CATEGORY, "course", "Tværsektorielt forløb").result
    wrong = terminology.validate_code(url, CATEGORY, "course", "Something else")
    assert (wrong.result, wrong.display) == (False, "Cross-sector course")


def test_validate_code_where_only_syntax_or_nothing_can_be_checked(
    terminology: Terminology,
) -> None:
    mime = "http://hl7.org/fhir/ValueSet/mimetypes"
    assert terminology.validate_code(mime, None, "text/plain; charset=UTF-8").result is True
    assert terminology.validate_code(mime, "urn:ietf:bcp:13", "pdf").result is False
    currencies = "http://hl7.org/fhir/ValueSet/currencies"
    assert terminology.validate_code(currencies, "urn:iso:std:iso:4217", "DKK").result is True
    assert terminology.validate_code(currencies, None, "kroner").result is False
    unknown = terminology.validate_code(EX + "ValueSet/test-snomed", None, "123")
    assert unknown.result is None


def test_lookup(terminology: Terminology) -> None:
    found = terminology.lookup(CATEGORY, "course")
    assert found is not None
    assert (found.name, found.version, found.display) == (
        "TestCategory",
        "0.0.1",
        "Cross-sector course",
    )
    assert found.designations == ({"language": "da", "value": "Tværsektorielt forløb"},)
    assert found.to_parameters() == {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "name", "valueString": "TestCategory"},
            {"name": "version", "valueString": "0.0.1"},
            {"name": "display", "valueString": "Cross-sector course"},
            {
                "name": "designation",
                "part": [
                    {"name": "language", "valueCode": "da"},
                    {"name": "value", "valueString": "Tværsektorielt forløb"},
                ],
            },
            {
                "name": "property",
                "part": [
                    {"name": "code", "valueCode": "status"},
                    {"name": "value", "valueCode": "active"},
                ],
            },
        ],
    }
    nested = terminology.lookup(CATEGORY, "psychiatry")
    assert nested is not None and nested.display == "Child and youth psychiatry"
    assert terminology.lookup(CATEGORY, "nope") is None
    with pytest.raises(UnknownCodeSystem):
        terminology.lookup("http://example.org/nope", "x")
    r4 = terminology.lookup("http://hl7.org/fhir/request-priority", "asap")
    assert r4 is not None and r4.display == "ASAP"
