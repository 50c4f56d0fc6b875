"""A StructureDefinition snapshot as a tree: elements, their children and their slices.

Element ids (``Patient.identifier:cpr.system``) say where an element sits: ``:name`` marks a
slice of the element before it. A choice element constrained to one type may appear renamed
(``Observation.valueQuantity``); it becomes a type slice of ``Observation.value[x]`` named
``valueQuantity``, the same as the ``value[x]:valueQuantity`` form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ProfileError(Exception):
    """A StructureDefinition the validator cannot compile (the profile author must fix it)."""


@dataclass(slots=True, eq=False)
class ElementNode:
    definition: dict[str, Any]
    id: str
    path: str
    name: str
    slice_name: str | None = None
    children: list[ElementNode] = field(default_factory=list)
    slices: list[ElementNode] = field(default_factory=list)

    @property
    def choice_base(self) -> str | None:
        return self.name[:-3] if self.name.endswith("[x]") else None

    def child(self, name: str) -> ElementNode | None:
        for child in self.children:
            if child.name == name or child.choice_base == name:
                return child
        return None


def parse_snapshot(sd: dict[str, Any]) -> ElementNode:
    """The root node of ``sd``'s snapshot."""
    elements = sd.get("snapshot", {}).get("element")
    if not elements:
        raise ProfileError(f"{sd.get('url')}: StructureDefinition has no snapshot")
    by_id: dict[str, ElementNode] = {}
    root: ElementNode | None = None
    for definition in elements:
        node = _node(definition)
        if node.id in by_id:
            raise ProfileError(f"{sd.get('url')}: element id {node.id} appears twice")
        if root is None:
            root = node
        else:
            _attach(node, by_id, sd)
        by_id[node.id] = node
    assert root is not None
    return root


def _node(definition: dict[str, Any]) -> ElementNode:
    path = definition["path"]
    element_id = definition.get("id") or path
    if "id" not in definition and definition.get("sliceName"):
        element_id = f"{path}:{definition['sliceName']}"
    last = element_id.rsplit(".", 1)[-1]
    name, _, slice_name = last.partition(":")
    return ElementNode(definition, element_id, path, name, slice_name or None)


def _attach(node: ElementNode, by_id: dict[str, ElementNode], sd: dict[str, Any]) -> None:
    parent_id = node.id.rsplit(".", 1)[0]
    parent = by_id.get(parent_id)
    if parent is None:
        raise ProfileError(f"{sd.get('url')}: element {node.id} has no parent {parent_id}")
    if node.slice_name is not None:
        if "/" in node.slice_name:
            raise ProfileError(f"{sd.get('url')}: re-slicing ({node.id}) is not supported")
        sliced = by_id.get(f"{parent_id}.{node.name}")
        if sliced is None:
            raise ProfileError(f"{sd.get('url')}: slice {node.id} of an undeclared element")
        sliced.slices.append(node)
        return
    renamed = _renamed_choice(parent, node.name)
    if renamed is not None:
        node.slice_name = node.name
        node.name = renamed.name
        renamed.slices.append(node)
        return
    parent.children.append(node)


def _renamed_choice(parent: ElementNode, name: str) -> ElementNode | None:
    """``valueQuantity`` under a parent that has ``value[x]``."""
    for sibling in parent.children:
        base = sibling.choice_base
        if base and name.startswith(base) and name[len(base) : len(base) + 1].isupper():
            return sibling
    return None
