"""A small snapshot generator for the test profiles (differential + base snapshot → snapshot).

Enough for the fixtures: merging into existing elements, slices (inserted after the sliced
element's subtree), children of data-type elements (the type's elements copied in under the
element's id). The real profiles get their snapshots from scripts/build_profiles.py.
"""

from __future__ import annotations

import copy
from typing import Any

from profiles.library import Library

R4 = "http://hl7.org/fhir/StructureDefinition/"


def build_snapshot(sd: dict[str, Any], library: Library) -> dict[str, Any]:
    base = library.structure_definition(sd["baseDefinition"])
    assert base is not None and "snapshot" in base, sd["baseDefinition"]
    elements = copy.deepcopy(base["snapshot"]["element"])
    if elements[0]["id"] != sd["type"]:
        raise AssertionError(f"{sd['url']}: base root {elements[0]['id']}")
    for diff in sd["differential"]["element"]:
        index = _find(elements, diff["id"])
        if index is None:
            index = _create(elements, diff["id"], library)
        _merge(elements[index], diff)
    out = dict(sd)
    out["snapshot"] = {"element": elements}
    return out


def _merge(element: dict[str, Any], diff: dict[str, Any]) -> None:
    for key, value in diff.items():
        if key == "constraint":
            element["constraint"] = element.get("constraint", []) + value
        else:
            element[key] = copy.deepcopy(value)


def _find(elements: list[dict[str, Any]], element_id: str) -> int | None:
    for i, e in enumerate(elements):
        if e["id"] == element_id:
            return i
    return None


def _subtree_end(elements: list[dict[str, Any]], index: int) -> int:
    root = elements[index]["id"]
    end = index
    for j in range(index + 1, len(elements)):
        if elements[j]["id"].startswith((root + ".", root + ":")):
            end = j
        else:
            break
    return end


def _create(elements: list[dict[str, Any]], element_id: str, library: Library) -> int:
    parent_id, last = element_id.rsplit(".", 1)
    name, _, slice_name = last.partition(":")
    if slice_name:
        sliced_id = f"{parent_id}.{name}"
        sliced = _find(elements, sliced_id)
        if sliced is None:
            sliced = _create(elements, sliced_id, library)
        new = copy.deepcopy(elements[sliced])
        new.pop("slicing", None)
        new["min"] = 0  # a slice is optional unless the differential says otherwise
        new["id"], new["sliceName"] = element_id, slice_name
        if name.endswith("[x]"):  # a type slice: value[x]:valueQuantity keeps that one type
            new["type"] = [
                t
                for t in new["type"]
                if name[:-3] + t["code"][:1].upper() + t["code"][1:] == slice_name
            ]
        at = _subtree_end(elements, sliced) + 1
        elements.insert(at, new)
        return at
    parent = _find(elements, parent_id)
    if parent is None:
        parent = _create(elements, parent_id, library)
    _expand(elements, parent, library)
    found = _find(elements, element_id)
    assert found is not None, f"{element_id} is not an element of its parent's type"
    return found


def _expand(elements: list[dict[str, Any]], index: int, library: Library) -> None:
    parent = elements[index]
    if index + 1 < len(elements) and elements[index + 1]["id"].startswith(parent["id"] + "."):
        return
    head, _, last = parent["id"].rpartition(".")
    if ":" in last:  # a slice: copy the children the sliced element already has (backbone)
        sliced = f"{head}.{last.split(':')[0]}"
        inner = [copy.deepcopy(e) for e in elements if e["id"].startswith(sliced + ".")]
        if inner:
            for e in inner:
                e["id"] = parent["id"] + e["id"][len(sliced) :]
            elements[index + 1 : index + 1] = inner
            return
    codes = {t["code"] for t in parent.get("type", [])}
    assert len(codes) == 1, f"{parent['id']}: cannot expand children of {codes}"
    type_sd = library.structure_definition(R4 + codes.pop())
    assert type_sd is not None
    type_name = type_sd["type"]
    children = []
    for e in type_sd["snapshot"]["element"][1:]:
        child = copy.deepcopy(e)
        child["id"] = parent["id"] + e["id"][len(type_name) :]
        child["path"] = parent["path"] + e["path"][len(type_name) :]
        children.append(child)
    elements[index + 1 : index + 1] = children
