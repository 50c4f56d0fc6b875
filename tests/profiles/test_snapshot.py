"""profiles.snapshot on a small hand-made base: what a differential does to a snapshot, and the
authoring mistakes it refuses."""

from __future__ import annotations

import pytest

from profiles.snapshot import SnapshotError, generate, path_of

URL = "http://example.org/StructureDefinition/test"
R4 = "http://hl7.org/fhir/StructureDefinition/"


def _el(id_: str, min_: int = 0, max_: str = "*", *types: str, **more: object) -> dict:
    out: dict = {"id": id_, "path": path_of(id_), "min": min_, "max": max_}
    if types:
        out["type"] = [{"code": t} for t in types]
    return {**out, **more}


BASE = [
    _el("Thing", 0, "*"),
    _el("Thing.identifier", 0, "*", "Identifier"),
    _el("Thing.status", 1, "1", "code", binding={"strength": "required", "valueSet": "vs-a"}),
    _el("Thing.value[x]", 0, "1", "string", "CodeableConcept"),
    _el("Thing.subject", 0, "1", "Reference"),
    _el("Thing.part", 0, "*", "BackboneElement"),
    _el("Thing.part.name", 0, "1", "string"),
    _el("Thing.part.part", 0, "*", contentReference="#Thing.part"),
    _el("Thing.dose", 0, "1", "Dose"),
]
BASE[4]["type"][0]["targetProfile"] = [R4 + "Patient", R4 + "Group"]
TYPES = {
    "Identifier": [
        _el("Identifier", 0, "*"),
        _el("Identifier.system", 0, "1", "uri"),
        _el("Identifier.value", 0, "1", "string"),
    ],
    "Dose": [
        _el("Dose", 0, "*"),
        _el("Dose.rate", 0, "*", "Element"),
        _el("Dose.rate.value", 0, "1", "string"),
    ],
    "CodeableConcept": [
        _el("CodeableConcept", 0, "*"),
        _el("CodeableConcept.coding", 0, "*", "Coding"),
        _el("CodeableConcept.text", 0, "1", "string"),
    ],
}
PROFILES = {R4 + "Patient": "Patient", R4 + "Group": "Group", "http://x/dk-patient": "Patient"}


def build(*elements: dict) -> dict:
    sd = {"url": URL, "differential": {"element": list(elements)}}
    return generate(sd, BASE, TYPES.__getitem__, PROFILES.get)


def ids(sd: dict) -> list[str]:
    return [e["id"] for e in sd["snapshot"]["element"]]


def element(sd: dict, id_: str) -> dict:
    return next(e for e in sd["snapshot"]["element"] if e["id"] == id_)


def test_empty_differential_gives_the_base() -> None:
    assert build()["snapshot"]["element"] == BASE


def test_a_child_of_a_data_type_unrolls_the_type_under_its_parent() -> None:
    sd = build({"id": "Thing.identifier.system", "min": 1})
    assert ids(sd)[1:5] == [
        "Thing.identifier",
        "Thing.identifier.system",
        "Thing.identifier.value",
        "Thing.status",
    ]
    assert element(sd, "Thing.identifier.system")["min"] == 1
    assert element(sd, "Thing.identifier.value")["path"] == "Thing.identifier.value"


def test_slices_follow_the_sliced_element_in_order_with_their_children() -> None:
    slicing = {"discriminator": [{"type": "value", "path": "system"}], "rules": "open"}
    sd = build(
        {
            "id": "Thing.identifier",
            "slicing": slicing,
            "constraint": [{"key": "t-1", "expression": "true"}],
        },
        {"id": "Thing.identifier:a", "sliceName": "a", "min": 0, "max": "1"},
        {"id": "Thing.identifier:a.system", "fixedUri": "urn:a"},
        {"id": "Thing.identifier:b", "sliceName": "b", "min": 1, "max": "1"},
    )
    assert ids(sd)[1:8] == [
        "Thing.identifier",
        "Thing.identifier:a",
        "Thing.identifier:a.system",
        "Thing.identifier:a.value",
        "Thing.identifier:b",
        "Thing.status",
        "Thing.value[x]",
    ]
    a = element(sd, "Thing.identifier:a")
    assert (a["path"], a["sliceName"], a["min"], a["max"]) == ("Thing.identifier", "a", 0, "1")
    assert "slicing" not in a and "constraint" not in a, (
        "slices start from the unconstrained element"
    )
    assert element(sd, "Thing.identifier")["constraint"] == [
        {"key": "t-1", "expression": "true", "source": URL}
    ]
    assert [e["id"] for e in sd["differential"]["element"]] == [
        "Thing.identifier",
        "Thing.identifier:a",
        "Thing.identifier:a.system",
        "Thing.identifier:b",
    ]


def test_a_renamed_choice_resolves_to_the_choice_narrowed_to_that_type() -> None:
    sd = build({"id": "Thing.valueCodeableConcept.coding", "min": 1})
    assert element(sd, "Thing.value[x]")["type"] == [{"code": "CodeableConcept"}]
    assert element(sd, "Thing.value[x].coding")["min"] == 1
    diff = sd["differential"]["element"]
    assert diff[0] == {
        "id": "Thing.value[x]",
        "path": "Thing.value[x]",
        "type": [{"code": "CodeableConcept"}],
    }
    assert diff[1]["id"] == "Thing.value[x].coding"


def test_backbone_slices_and_content_references_get_their_children() -> None:
    slicing = {"discriminator": [{"type": "value", "path": "name"}], "rules": "open"}
    sd = build(
        {"id": "Thing.part", "slicing": slicing},
        {"id": "Thing.part:first", "sliceName": "first", "min": 0, "max": "1"},
        {"id": "Thing.part:first.name", "min": 1},
        {"id": "Thing.part.part.name", "max": "0"},
    )
    assert element(sd, "Thing.part:first.name")["min"] == 1
    assert element(sd, "Thing.part.part.name")["max"] == "0"
    assert element(sd, "Thing.part.part.name")["path"] == "Thing.part.part.name"


def test_a_slice_of_an_element_inside_a_data_type_gets_that_element_s_children() -> None:
    slicing = {"discriminator": [{"type": "value", "path": "value"}], "rules": "open"}
    sd = build(
        {"id": "Thing.dose.rate", "slicing": slicing},
        {"id": "Thing.dose.rate:fast", "sliceName": "fast", "min": 0, "max": "1"},
        {"id": "Thing.dose.rate:fast.value", "min": 1, "fixedString": "fast"},
    )
    assert ids(sd)[-4:] == [
        "Thing.dose.rate",
        "Thing.dose.rate.value",
        "Thing.dose.rate:fast",
        "Thing.dose.rate:fast.value",
    ]
    assert element(sd, "Thing.dose.rate:fast.value")["path"] == "Thing.dose.rate.value"
    assert element(sd, "Thing.dose.rate.value")["min"] == 0


def test_reference_targets_narrow_to_profiles_of_allowed_types() -> None:
    type_ = [{"code": "Reference", "targetProfile": ["http://x/dk-patient"]}]
    assert element(build({"id": "Thing.subject", "type": type_}), "Thing.subject")["type"] == type_


@pytest.mark.parametrize(
    ("diff", "message"),
    [
        ({"id": "Thing.status", "min": 0}, "below the base min"),
        ({"id": "Thing.status", "max": "*"}, "widens the base max"),
        ({"id": "Thing.value[x]", "type": [{"code": "Quantity"}]}, "not allowed"),
        (
            {
                "id": "Thing.subject",
                "type": [{"code": "Reference", "targetProfile": [R4 + "Device"]}],
            },
            "unknown target profile",
        ),
        (
            {"id": "Thing.status", "binding": {"strength": "extensible", "valueSet": "vs-b"}},
            "cannot be weakened",
        ),
        ({"id": "Thing.identifier:a", "sliceName": "a", "min": 0, "max": "1"}, "is not sliced"),
        ({"id": "Thing.nothing"}, "neither an element nor a choice"),
        ({"id": "Thing.value[x].text"}, "constrain to one type"),
        ({"id": "Thing.status", "path": "Thing.other"}, "cannot be set"),
        ({"id": "Other.status"}, "does not start with Thing"),
    ],
)
def test_authoring_mistakes_are_refused(diff: dict, message: str) -> None:
    with pytest.raises(SnapshotError, match=message):
        build(diff)


def test_a_target_outside_the_base_targets_is_refused() -> None:
    profiles = {**PROFILES, R4 + "Device": "Device"}
    sd = {
        "url": URL,
        "differential": {
            "element": [
                {
                    "id": "Thing.subject",
                    "type": [{"code": "Reference", "targetProfile": [R4 + "Device"]}],
                }
            ]
        },
    }
    with pytest.raises(SnapshotError, match="not an allowed target"):
        generate(sd, BASE, TYPES.__getitem__, profiles.get)


def test_a_slice_must_state_its_cardinality_and_an_invariant_key_is_unique() -> None:
    slicing = {"discriminator": [{"type": "value", "path": "system"}], "rules": "open"}
    with pytest.raises(SnapshotError, match="cardinality"):
        build(
            {"id": "Thing.identifier", "slicing": slicing}, {"id": "Thing.identifier:a", "min": 1}
        )
    twice = [{"key": "k", "expression": "true"}, {"key": "k", "expression": "false"}]
    with pytest.raises(SnapshotError, match="duplicate invariant"):
        build({"id": "Thing", "constraint": twice})
    with pytest.raises(SnapshotError, match="given twice"):
        build({"id": "Thing.status", "short": "a"}, {"id": "Thing.status", "short": "b"})
