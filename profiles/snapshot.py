"""Snapshot generation: a profile's differential merged into its base definition's snapshot.

The rules are the FHIR R4 profiling rules (http://hl7.org/fhir/R4/profiling.html) for the subset
the Danish profiles use, checked strictly so an authoring mistake fails the build instead of
producing a profile that quietly says something else:

- a differential element is found by its ``id``; a child of a data type that the base snapshot
  does not list yet (``Patient.identifier.system``) makes the generator unroll that type's
  elements under its parent first (from the type's own snapshot, or from the referenced element
  for a ``contentReference``);
- ``name:slice`` adds a slice after the sliced element's existing slices; the sliced element
  must carry ``slicing`` and the slice must give its cardinality;
- a renamed choice (``medicationCodeableConcept``) resolves to ``medication[x]`` restricted to
  that type;
- cardinality may only narrow, types only to a subset (Reference targets to profiles of allowed
  resource types), a required binding may not be weakened; invariants are added to the inherited
  ones with ``source`` set to the profile.

The differential is returned normalised: ``path`` filled in, renamed choices in ``[x]`` form and
elements in snapshot order.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Json = dict[str, Any]
TypeSnapshot = Callable[[str], list[Json]]
ProfileType = Callable[[str], "str | None"]

# ElementDefinition properties in the order the FHIR JSON format lists them.
_KEY_ORDER = (
    "id",
    "extension",
    "modifierExtension",
    "path",
    "representation",
    "sliceName",
    "sliceIsConstraining",
    "label",
    "code",
    "slicing",
    "short",
    "definition",
    "comment",
    "requirements",
    "alias",
    "min",
    "max",
    "base",
    "contentReference",
    "type",
    "defaultValue",
    "meaningWhenMissing",
    "orderMeaning",
    "fixed",
    "pattern",
    "example",
    "minValue",
    "maxValue",
    "maxLength",
    "condition",
    "constraint",
    "mustSupport",
    "isModifier",
    "isModifierReason",
    "isSummary",
    "binding",
    "mapping",
)
_RANK = {key: i for i, key in enumerate(_KEY_ORDER)}
_SET_ONLY = {"path", "base", "contentReference", "id"}
_STRENGTH = {"example": 0, "preferred": 1, "extensible": 2, "required": 3}


class SnapshotError(ValueError):
    """The differential cannot be applied to the base (names the element and the reason)."""


def ordered(element: Json) -> Json:
    """The element with its properties in FHIR JSON order (``fixedUri`` sorts as ``fixed``)."""

    def rank(key: str) -> int:
        for prefix in ("defaultValue", "fixed", "pattern", "minValue", "maxValue"):
            if key.startswith(prefix):
                return _RANK[prefix]
        return _RANK.get(key, len(_RANK))

    return {key: element[key] for key in sorted(element, key=rank)}


def path_of(element_id: str) -> str:
    return ".".join(segment.split(":", 1)[0] for segment in element_id.split("."))


def _max(value: str) -> float:
    return float("inf") if value == "*" else int(value)


class _Builder:
    def __init__(
        self,
        url: str,
        base: list[Json],
        type_snapshot: TypeSnapshot,
        profile_type: ProfileType,
    ) -> None:
        self.url = url
        self.base = base
        self.elements = copy.deepcopy(base)
        # Each element as it was before the differential touched it: slices start from these,
        # so a constraint on the sliced element is not repeated on every slice.
        self.pristine = {e["id"]: copy.deepcopy(e) for e in base}
        self.type_snapshot = type_snapshot
        self.profile_type = profile_type
        self.implied_types: dict[str, str] = {}  # normalised id -> type from a choice rename
        self.new_slices: set[str] = set()

    # --- finding and creating elements ------------------------------------------------------

    def find(self, element_id: str) -> int | None:
        for i, element in enumerate(self.elements):
            if element["id"] == element_id:
                return i
        return None

    def subtree_end(self, index: int) -> int:
        prefix = self.elements[index]["id"]
        end = index + 1
        while end < len(self.elements):
            other = self.elements[end]["id"]
            if not (other.startswith(prefix + ".") or other.startswith(prefix + ":")):
                break
            end += 1
        return end

    def resolve(self, element_id: str) -> tuple[str, int]:
        """The normalised id of a differential element and its index in the snapshot."""
        segments = element_id.split(".")
        current, index = segments[0], 0
        if current != self.elements[0]["id"]:
            raise SnapshotError(f"{element_id}: does not start with {self.elements[0]['id']}")
        for segment in segments[1:]:
            name, _, slice_name = segment.partition(":")
            self.ensure_children(index)
            child = self.find(f"{current}.{name}")
            if child is None:
                name = self.rename_choice(current, name, element_id)
                child = self.find(f"{current}.{name}")
            if child is None:
                raise SnapshotError(f"{element_id}: no element {current}.{name} in the base")
            current, index = f"{current}.{name}", child
            if slice_name:
                current = f"{current}:{slice_name}"
                found = self.find(current)
                index = found if found is not None else self.add_slice(index, slice_name)
        return current, index

    def rename_choice(self, parent: str, name: str, element_id: str) -> str:
        for element in self.elements:
            eid = element["id"]
            if not (eid.startswith(parent + ".") and eid.endswith("[x]")):
                continue
            stem = eid[len(parent) + 1 : -3]
            if "." in stem or not name.startswith(stem):
                continue
            wanted = name[len(stem) :]
            for type_ in element.get("type", []):
                code = type_["code"]
                if code[:1].upper() + code[1:] == wanted:
                    element["type"] = [t for t in element["type"] if t["code"] == code]
                    self.implied_types[eid] = code
                    return stem + "[x]"
        raise SnapshotError(f"{element_id}: {parent}.{name} is neither an element nor a choice")

    def ensure_children(self, index: int) -> None:
        element = self.elements[index]
        eid = element["id"]
        if index + 1 < len(self.elements) and self.elements[index + 1]["id"].startswith(eid + "."):
            return
        root, source = self.children_source(element)
        root_path = path_of(root)
        children = []
        for child in source:
            copied = copy.deepcopy(child)
            copied["id"] = eid + child["id"][len(root) :]
            copied["path"] = element["path"] + child["path"][len(root_path) :]
            children.append(copied)
            self.pristine[copied["id"]] = copy.deepcopy(copied)
        self.elements[index + 1 : index + 1] = children

    def children_source(self, element: Json) -> tuple[str, list[Json]]:
        """Where an element's children come from: the element a ``contentReference`` names, the
        unsliced element for a slice of a backbone element, else the snapshot of its one type."""
        reference = element.get("contentReference")
        codes = sorted({t["code"] for t in element.get("type", [])})
        if reference:
            root = reference.lstrip("#")
        elif codes in (["BackboneElement"], ["Element"]) and "sliceName" in element:
            root = element["id"].rsplit(":", 1)[0]
        elif len(codes) == 1:
            elements = self.type_snapshot(codes[0])
            return elements[0]["id"], elements[1:]
        else:
            raise SnapshotError(f"{element['id']}: constrain to one type before its children")
        children = [
            e
            for eid, e in self.pristine.items()
            if eid.startswith(root + ".") and ":" not in eid[len(root) :]
        ]
        return root, children

    def add_slice(self, index: int, slice_name: str) -> int:
        sliced = self.elements[index]
        if "slicing" not in sliced:
            raise SnapshotError(f"{sliced['id']}:{slice_name}: {sliced['id']} is not sliced")
        source = self.pristine.get(sliced["id"], sliced)
        entry = {k: copy.deepcopy(v) for k, v in source.items() if k != "slicing"}
        entry["id"] = f"{sliced['id']}:{slice_name}"
        entry["sliceName"] = slice_name
        self.new_slices.add(entry["id"])
        position = self.subtree_end(index)
        self.elements.insert(position, entry)
        return position

    # --- applying constraints -----------------------------------------------------------------

    def apply(self, index: int, diff: Json) -> None:
        target = self.elements[index]
        eid = target["id"]
        is_slice = ":" in eid.rsplit(".", 1)[-1]
        if eid in self.new_slices and ("min" not in diff or "max" not in diff):
            raise SnapshotError(f"{eid}: a slice must state its cardinality")
        if diff.get("sliceName", target.get("sliceName")) != target.get("sliceName"):
            raise SnapshotError(f"{eid}: sliceName {diff['sliceName']} does not match the id")
        for key, value in diff.items():
            if key in _SET_ONLY:
                if key != "id":
                    raise SnapshotError(f"{eid}: {key} cannot be set in a differential")
                continue
            handler = getattr(self, f"_set_{key}", None)
            if handler is not None:
                handler(target, value, is_slice)
            elif key.startswith(("fixed", "pattern")):
                self._set_fixed(target, key, value)
            else:
                target[key] = copy.deepcopy(value)

    def _set_min(self, target: Json, value: int, is_slice: bool) -> None:
        if not is_slice and value < target["min"]:
            raise SnapshotError(
                f"{target['id']}: min {value} is below the base min {target['min']}"
            )
        if value > _max(target["max"]):
            raise SnapshotError(f"{target['id']}: min {value} exceeds max {target['max']}")
        target["min"] = value

    def _set_max(self, target: Json, value: str, is_slice: bool) -> None:
        if _max(value) > _max(target["max"]):
            raise SnapshotError(f"{target['id']}: max {value} widens the base max {target['max']}")
        if _max(value) < target["min"]:
            raise SnapshotError(f"{target['id']}: max {value} is below min {target['min']}")
        target["max"] = value

    def _set_type(self, target: Json, value: list[Json], is_slice: bool) -> None:
        allowed = {t["code"]: t for t in target.get("type", [])}
        for type_ in value:
            base_type = allowed.get(type_["code"])
            if base_type is None:
                raise SnapshotError(f"{target['id']}: type {type_['code']} is not allowed here")
            self._check_targets(target["id"], base_type, type_)
        target["type"] = copy.deepcopy(value)

    def _check_targets(self, eid: str, base_type: Json, type_: Json) -> None:
        allowed = {self.profile_type(url) for url in base_type.get("targetProfile", [])}
        for url in type_.get("targetProfile", []):
            resource = self.profile_type(url)
            if resource is None:
                raise SnapshotError(f"{eid}: unknown target profile {url}")
            if allowed and "Resource" not in allowed and resource not in allowed:
                raise SnapshotError(f"{eid}: {url} ({resource}) is not an allowed target")
        for url in type_.get("profile", []):
            if self.profile_type(url) is None:
                raise SnapshotError(f"{eid}: unknown type profile {url}")

    def _set_binding(self, target: Json, value: Json, is_slice: bool) -> None:
        current = target.get("binding")
        if current and current.get("strength") == "required" and value["strength"] != "required":
            raise SnapshotError(f"{target['id']}: a required binding cannot be weakened")
        if value["strength"] not in _STRENGTH or "valueSet" not in value:
            raise SnapshotError(f"{target['id']}: a binding needs a strength and a valueSet")
        target["binding"] = copy.deepcopy(value)

    def _set_constraint(self, target: Json, value: list[Json], is_slice: bool) -> None:
        existing = target.setdefault("constraint", [])
        keys = {c["key"] for c in existing}
        for constraint in value:
            if constraint["key"] in keys:
                raise SnapshotError(f"{target['id']}: duplicate invariant {constraint['key']}")
            keys.add(constraint["key"])
            existing.append({**constraint, "source": self.url})

    def _set_condition(self, target: Json, value: list[str], is_slice: bool) -> None:
        target["condition"] = sorted({*target.get("condition", []), *value})

    def _set_fixed(self, target: Json, key: str, value: Any) -> None:
        for other in [k for k in target if k.startswith(("fixed", "pattern"))]:
            raise SnapshotError(f"{target['id']}: already has {other}; cannot add {key}")
        target[key] = copy.deepcopy(value)


def generate(
    structure: Json,
    base_snapshot: list[Json],
    type_snapshot: TypeSnapshot,
    profile_type: ProfileType,
) -> Json:
    """The StructureDefinition with a normalised differential and a generated snapshot."""
    builder = _Builder(structure["url"], base_snapshot, type_snapshot, profile_type)
    normalised: dict[str, Json] = {}
    for diff in structure["differential"]["element"]:
        element_id, index = builder.resolve(diff["id"])
        if element_id in normalised:
            raise SnapshotError(f"{diff['id']}: element given twice in the differential")
        builder.apply(index, diff)
        entry = {**diff, "id": element_id, "path": path_of(element_id)}
        if "constraint" in diff:
            entry["constraint"] = [{**c, "source": structure["url"]} for c in diff["constraint"]]
        normalised[element_id] = entry
    for element_id, code in builder.implied_types.items():
        entry = normalised.setdefault(element_id, {"id": element_id, "path": path_of(element_id)})
        entry.setdefault("type", [{"code": code}])
    position = {e["id"]: i for i, e in enumerate(builder.elements)}
    differential = sorted(normalised.values(), key=lambda e: position[e["id"]])
    out = {k: v for k, v in structure.items() if k not in ("differential", "snapshot")}
    out["snapshot"] = {"element": [ordered(e) for e in builder.elements]}
    out["differential"] = {"element": [ordered(e) for e in differential]}
    return out
