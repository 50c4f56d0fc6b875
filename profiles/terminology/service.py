"""ValueSet expansion, code validation and CodeSystem look-up over the bundled terminology.

This backs the validator's required bindings and, later, ``ValueSet/$expand``,
``ValueSet/$validate-code`` and ``CodeSystem/$lookup``. Everything is computed from resources
loaded at start-up (no I/O afterwards) and cached per canonical URL behind a lock, so one
instance serves all threads.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from profiles.terminology.expansion import (
    Concept,
    Expander,
    NotExpandable,
    canonical_parts,
    concepts_from_expansion,
    expansion_contains,
)
from profiles.terminology.grammar import GRAMMARS, grammar_accepts

Resource = dict[str, Any]


class TerminologyError(Exception):
    """A request the terminology cannot answer; ``code`` is the OperationOutcome issue type."""

    code = "processing"


class UnknownValueSet(TerminologyError):
    code = "not-found"


class UnknownCodeSystem(TerminologyError):
    code = "not-found"


class NotEnumerable(TerminologyError):
    """The ValueSet has no expansion here (external code system or grammar)."""

    code = "not-supported"


@dataclass(frozen=True, slots=True)
class ValueSetContent:
    """What a ValueSet contains, ready for membership tests."""

    url: str
    concepts: tuple[Concept, ...] | None
    grammar_systems: tuple[str, ...] = ()
    reason: str | None = None
    by_pair: dict[tuple[str, str], Concept] = field(default_factory=dict)
    by_code: dict[str, tuple[Concept, ...]] = field(default_factory=dict)

    @property
    def checkable(self) -> bool:
        return self.concepts is not None or bool(self.grammar_systems)

    def find(self, code: str, system: str | None = None) -> Concept | None:
        if system is not None:
            return self.by_pair.get((system, code))
        found = self.by_code.get(code)
        return found[0] if found else None

    def contains(self, code: str, system: str | None = None) -> bool | None:
        """True/False, or None when membership cannot be decided here."""
        if self.concepts is not None:
            return self.find(code, system) is not None
        if self.grammar_systems:
            systems = self.grammar_systems if system is None else (system,)
            return any(grammar_accepts(s, code) for s in systems if s in self.grammar_systems)
        return None


@dataclass(frozen=True, slots=True)
class CodeValidation:
    """The answer of ``$validate-code``: ``result`` is None when the value set is not checkable."""

    result: bool | None
    message: str | None = None
    display: str | None = None
    system: str | None = None


@dataclass(frozen=True, slots=True)
class CodeLookup:
    """The answer of ``CodeSystem/$lookup``."""

    name: str
    version: str | None
    display: str | None
    designations: tuple[Resource, ...]
    properties: tuple[Resource, ...]

    def to_parameters(self) -> Resource:
        params: list[Resource] = [{"name": "name", "valueString": self.name}]
        if self.version:
            params.append({"name": "version", "valueString": self.version})
        if self.display:
            params.append({"name": "display", "valueString": self.display})
        for d in self.designations:
            parts = [{"name": "value", "valueString": d["value"]}]
            if "language" in d:
                parts.insert(0, {"name": "language", "valueCode": d["language"]})
            if "use" in d:
                parts.insert(-1, {"name": "use", "valueCoding": d["use"]})
            params.append({"name": "designation", "part": parts})
        for p in self.properties:
            part: list[Resource] = [{"name": "code", "valueCode": p["code"]}]
            part += [{"name": "value", k: v} for k, v in p.items() if k.startswith("value")]
            params.append({"name": "property", "part": part})
        return {"resourceType": "Parameters", "parameter": params}


class Terminology:
    def __init__(self, code_systems: Mapping[str, Resource], value_sets: Mapping[str, Resource]):
        self._code_systems = dict(code_systems)
        self._value_sets = dict(value_sets)
        self._expander = Expander(self._code_systems, self._value_sets)
        self._contents: dict[str, ValueSetContent] = {}
        self._concepts: dict[str, dict[str, Resource]] = {}
        self._lock = threading.Lock()

    def value_set(self, url: str) -> Resource | None:
        return self._value_sets.get(canonical_parts(url)[0])

    def code_system(self, url: str) -> Resource | None:
        return self._code_systems.get(canonical_parts(url)[0])

    def content(self, url: str) -> ValueSetContent:
        """The (cached) content of the ValueSet ``url`` (``|version`` ignored)."""
        base = canonical_parts(url)[0]
        found = self._contents.get(base)
        if found is not None:
            return found
        with self._lock:
            if base not in self._contents:
                self._contents[base] = self._compute(base)
            return self._contents[base]

    def _compute(self, url: str) -> ValueSetContent:
        value_set = self._value_sets.get(url)
        if value_set is None:
            raise UnknownValueSet(f"ValueSet {url} is not known to this server")
        try:
            if "expansion" in value_set:
                concepts = concepts_from_expansion(value_set)
            else:
                concepts = self._expander.expand(value_set)
        except NotExpandable as exc:
            return ValueSetContent(url, None, _grammar_systems(value_set), str(exc))
        by_code: dict[str, list[Concept]] = {}
        for c in concepts:
            by_code.setdefault(c.code, []).append(c)
        return ValueSetContent(
            url,
            tuple(concepts),
            by_pair={(c.system, c.code): c for c in concepts},
            by_code={k: tuple(v) for k, v in by_code.items()},
        )

    def expand(
        self,
        url: str,
        filter: str | None = None,
        count: int | None = None,
        offset: int = 0,
        display_language: str | None = None,
        include_designations: bool = False,
    ) -> Resource:
        """``ValueSet/$expand``: the ValueSet with ``expansion`` (filtered, paged). With
        ``display_language`` each concept's display is its designation in that language where
        the CodeSystem has one (citizen apps read "Tovholder", not "Coordinator"), and the
        filter matches it; ``include_designations`` lists every designation."""
        content = self.content(url)
        if content.concepts is None:
            raise NotEnumerable(f"ValueSet {content.url} cannot be expanded: {content.reason}")
        concepts = list(content.concepts)
        if display_language:
            concepts = [self._in_language(c, display_language) for c in concepts]
        if filter:
            needle = filter.casefold()
            concepts = [
                c
                for c in concepts
                if needle in c.code.casefold() or needle in (c.display or "").casefold()
            ]
        page = concepts[offset:] if count is None else concepts[offset : offset + count]
        value_set = self._value_sets[content.url]
        out: dict[str, Any] = {
            k: value_set[k]
            for k in ("resourceType", "id", "url", "version", "name", "status")
            if k in value_set
        }
        parameters: list[Resource] = []
        if filter:
            parameters.append({"name": "filter", "valueString": filter})
        if count is not None:
            parameters.append({"name": "count", "valueInteger": count})
        if offset:
            parameters.append({"name": "offset", "valueInteger": offset})
        if display_language:
            parameters.append({"name": "displayLanguage", "valueCode": display_language})
        if include_designations:
            parameters.append({"name": "includeDesignations", "valueBoolean": True})
        expansion: Resource = {
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "total": len(concepts),
        }
        if offset:
            expansion["offset"] = offset
        if parameters:
            expansion["parameter"] = parameters
        contains = expansion_contains(page)
        if include_designations:
            for concept, entry in zip(page, contains, strict=True):
                found = self._designations(concept.system, concept.code)
                if found:
                    entry["designation"] = found
        expansion["contains"] = contains
        out["expansion"] = expansion
        return out

    def _designations(self, system: str, code: str) -> list[Resource]:
        found = self._concept_index(system).get(code, {}).get("designation", [])
        return [dict(d) for d in found if isinstance(d, dict) and d.get("value")]

    def _in_language(self, concept: Concept, language: str) -> Concept:
        """``concept`` with its designation in ``language`` (``da`` also matches ``da-DK``)
        as display, if it has one."""
        wanted = language.lower()
        for d in self._designations(concept.system, concept.code):
            said = str(d.get("language", "")).lower()
            if said == wanted or said.startswith(wanted + "-"):
                return replace(concept, display=str(d["value"]))
        return concept

    def validate_code(
        self, url: str, system: str | None, code: str, display: str | None = None
    ) -> CodeValidation:
        """``ValueSet/$validate-code`` for one code; ``system`` None matches any system (a bare
        ``code`` parameter), a ``display`` must be the concept's or one of its designations."""
        content = self.content(url)
        where = f"{system}#{code}" if system else code
        if content.concepts is None:
            verdict = content.contains(code, system)
            if verdict is None:
                return CodeValidation(None, f"ValueSet {content.url} is not checkable here")
            if verdict:
                return CodeValidation(True, system=system)
            return CodeValidation(False, f"'{where}' is not a valid code in {content.url}")
        concept = content.find(code, system)
        if concept is None:
            return CodeValidation(False, f"The code '{where}' is not in the value set {url}")
        expected = concept.display or self.display(concept.system, concept.code)
        if display is not None and not self._display_ok(concept, display, expected):
            return CodeValidation(
                False,
                f"The display '{display}' is not a valid display for '{where}'"
                + (f"; expected '{expected}'" if expected else ""),
                expected,
                concept.system,
            )
        return CodeValidation(True, display=expected, system=concept.system)

    def _display_ok(self, concept: Concept, display: str, expected: str | None) -> bool:
        wanted = " ".join(display.split()).casefold()
        candidates = [expected or ""]
        raw = self._concept_index(concept.system).get(concept.code, {})
        candidates += [d.get("value", "") for d in raw.get("designation", [])]
        return any(" ".join(c.split()).casefold() == wanted for c in candidates if c)

    def display(self, system: str, code: str) -> str | None:
        return self._concept_index(system).get(code, {}).get("display")

    def lookup(self, system: str, code: str) -> CodeLookup | None:
        """``CodeSystem/$lookup``: None when the code is not in the (known) code system."""
        code_system = self._code_systems.get(canonical_parts(system)[0])
        if code_system is None:
            raise UnknownCodeSystem(f"CodeSystem {system} is not known to this server")
        concept = self._concept_index(code_system["url"]).get(code)
        if concept is None:
            return None
        return CodeLookup(
            name=code_system.get("name") or code_system["url"],
            version=code_system.get("version"),
            display=concept.get("display"),
            designations=tuple(concept.get("designation", [])),
            properties=tuple(concept.get("property", [])),
        )

    def _concept_index(self, system: str) -> dict[str, Resource]:
        found = self._concepts.get(system)
        if found is not None:
            return found
        index: dict[str, Resource] = {}
        code_system = self._code_systems.get(system)
        if code_system is not None:
            stack = list(code_system.get("concept", []))
            while stack:
                concept = stack.pop()
                index.setdefault(concept["code"], concept)
                stack.extend(concept.get("concept", []))
        with self._lock:
            self._concepts.setdefault(system, index)
        return index


def _grammar_systems(value_set: Resource) -> tuple[str, ...]:
    """The grammar systems a ValueSet includes whole, if that is all it does."""
    compose = value_set.get("compose", {})
    includes = compose.get("include", [])
    systems = []
    for rule in includes:
        if rule.get("system") not in GRAMMARS or rule.keys() - {"system", "version"}:
            return ()
        systems.append(rule["system"])
    return () if compose.get("exclude") else tuple(systems)
