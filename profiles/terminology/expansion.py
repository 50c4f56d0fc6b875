"""Expanding ``ValueSet.compose`` over CodeSystems we hold (R4 valueset.html#compose).

Stdlib only: ``scripts/generate_r4_definitions.py`` precomputes the R4 expansions with this same
code, so the committed expansions and the ones computed at run time (for our own ValueSets) cannot
disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Resource = dict[str, Any]


class NotExpandable(Exception):
    """The ValueSet draws on content we do not hold (an external code system such as UCUM or
    SNOMED CT, or one defined by a grammar such as mime types), so it has no enumerable
    expansion here."""


@dataclass(frozen=True, slots=True)
class Concept:
    system: str
    code: str
    display: str | None = None
    version: str | None = None
    inactive: bool = False
    abstract: bool = False


@dataclass(slots=True)
class _Node:
    """One concept of a CodeSystem with what filters need: its ancestors and its properties."""

    code: str
    display: str | None
    ancestors: tuple[str, ...]
    properties: dict[str, list[Any]] = field(default_factory=dict)


def canonical_parts(url: str) -> tuple[str, str | None]:
    """``url|version`` → (url, version)."""
    base, _, version = url.partition("|")
    return base, version or None


def code_system_nodes(code_system: Resource) -> dict[str, _Node]:
    """Every concept of a CodeSystem (nested ``concept`` = is-a children), keyed by code."""
    out: dict[str, _Node] = {}

    def visit(concepts: list[Resource], ancestors: tuple[str, ...]) -> None:
        for concept in concepts:
            props: dict[str, list[Any]] = {}
            for prop in concept.get("property", []):
                props.setdefault(prop["code"], []).append(_property_value(prop))
            own = ancestors + tuple(str(p) for p in props.get("parent", []) if p not in ancestors)
            out[concept["code"]] = _Node(concept["code"], concept.get("display"), own, props)
            visit(concept.get("concept", []), (*own, concept["code"]))

    visit(code_system.get("concept", []), ())
    return out


def _property_value(prop: Resource) -> Any:
    for key, value in prop.items():
        if key.startswith("value"):
            return value
    return None


def _is_inactive(node: _Node) -> bool:
    status = node.properties.get("status", [])
    return (
        any(s in ("retired", "inactive") for s in status)
        or True in node.properties.get("inactive", [])
        or True in node.properties.get("deprecated", [])
    )


def _is_abstract(node: _Node) -> bool:
    return True in node.properties.get("notSelectable", []) or True in node.properties.get(
        "abstract", []
    )


class Expander:
    """Expands ValueSets against a fixed set of CodeSystems and ValueSets (both by URL)."""

    def __init__(self, code_systems: Mapping[str, Resource], value_sets: Mapping[str, Resource]):
        self._code_systems = code_systems
        self._value_sets = value_sets
        self._nodes: dict[str, dict[str, _Node]] = {}

    def nodes(self, system: str) -> dict[str, _Node] | None:
        if system not in self._nodes:
            code_system = self._code_systems.get(system)
            if code_system is None:
                return None
            self._nodes[system] = code_system_nodes(code_system)
        return self._nodes[system]

    def expand(self, value_set: Resource, _stack: tuple[str, ...] = ()) -> list[Concept]:
        """The concepts of ``value_set`` in compose order, without duplicates."""
        url = value_set.get("url", "")
        if url in _stack:
            raise NotExpandable(f"ValueSet {url} includes itself")
        compose = value_set.get("compose")
        if compose is None:
            raise NotExpandable(f"ValueSet {url} has no compose")
        stack = (*_stack, url)
        included: dict[tuple[str, str], Concept] = {}
        for include in compose.get("include", []):
            for concept in self._apply(include, stack):
                included.setdefault((concept.system, concept.code), concept)
        for exclude in compose.get("exclude", []):
            for concept in self._apply(exclude, stack):
                included.pop((concept.system, concept.code), None)
        return list(included.values())

    def _apply(self, rule: Resource, stack: tuple[str, ...]) -> list[Concept]:
        system = rule.get("system")
        selected: list[Concept] | None = None
        if system is not None:
            selected = list(self._from_system(system, rule))
        for vs_url in rule.get("valueSet", []):
            imported = self._import(vs_url, stack)
            if selected is None:
                selected = imported
            else:
                keep = {(c.system, c.code) for c in imported}
                selected = [c for c in selected if (c.system, c.code) in keep]
        return selected or []

    def _import(self, vs_url: str, stack: tuple[str, ...]) -> list[Concept]:
        base, _ = canonical_parts(vs_url)
        value_set = self._value_sets.get(base)
        if value_set is None:
            raise NotExpandable(f"ValueSet {base} is not available")
        return self.expand(value_set, stack)

    def _from_system(self, system: str, rule: Resource) -> Iterator[Concept]:
        nodes = self.nodes(system)
        version = rule.get("version")
        if rule.get("concept"):
            for concept in rule["concept"]:
                node = nodes.get(concept["code"]) if nodes is not None else None
                if nodes is not None and node is None:
                    continue  # a code the CodeSystem does not define is not in the value set
                display = concept.get("display") or (node.display if node else None)
                yield Concept(system, concept["code"], display, version)
            return
        if nodes is None:
            raise NotExpandable(f"code system {system} is not available")
        content = self._code_systems[system].get("content")
        if content not in (None, "complete", "fragment"):
            raise NotExpandable(f"code system {system} has content {content!r}")
        filters = [_compile_filter(f, nodes, system) for f in rule.get("filter", [])]
        for node in nodes.values():
            if all(f(node) for f in filters):
                yield Concept(
                    system, node.code, node.display, version, _is_inactive(node), _is_abstract(node)
                )


def _compile_filter(spec: Resource, nodes: Mapping[str, _Node], system: str) -> Any:
    prop, op, value = spec.get("property"), spec.get("op"), spec.get("value", "")
    if op == "is-a" and prop == "concept":
        return lambda n: n.code == value or value in n.ancestors
    if op == "descendent-of" and prop == "concept":
        return lambda n: value in n.ancestors
    if op == "is-not-a" and prop == "concept":
        return lambda n: n.code != value and value not in n.ancestors
    if op == "in" and prop == "concept":
        wanted = set(value.split(","))
        return lambda n: n.code in wanted
    if op == "not-in" and prop == "concept":
        unwanted = set(value.split(","))
        return lambda n: n.code not in unwanted
    if op == "regex":
        pattern = re.compile(value)
        if prop == "code":
            return lambda n: pattern.fullmatch(n.code) is not None
        return lambda n: any(pattern.fullmatch(str(v)) for v in n.properties.get(prop, []))
    if op == "=":
        return lambda n: any(str(v).lower() == value.lower() for v in n.properties.get(prop, []))
    if op == "exists":
        want = value == "true"
        return lambda n: bool(n.properties.get(prop)) == want
    raise NotExpandable(f"filter {prop} {op} {value} on {system} is not supported")


def expansion_contains(concepts: list[Concept]) -> list[Resource]:
    """``ValueSet.expansion.contains`` entries for concepts (flat)."""
    out = []
    for c in concepts:
        entry: Resource = {"system": c.system}
        if c.version:
            entry["version"] = c.version
        if c.abstract:
            entry["abstract"] = True
        if c.inactive:
            entry["inactive"] = True
        entry["code"] = c.code
        if c.display:
            entry["display"] = c.display
        out.append(entry)
    return out


def concepts_from_expansion(value_set: Resource) -> list[Concept]:
    """The concepts of a precomputed ``ValueSet.expansion`` (nested ``contains`` flattened)."""
    out: list[Concept] = []

    def visit(entries: list[Resource]) -> None:
        for e in entries:
            if "code" in e and "system" in e:
                out.append(
                    Concept(
                        e["system"],
                        e["code"],
                        e.get("display"),
                        e.get("version"),
                        bool(e.get("inactive")),
                        bool(e.get("abstract")),
                    )
                )
            visit(e.get("contains", []))

    visit(value_set.get("expansion", {}).get("contains", []))
    return out
