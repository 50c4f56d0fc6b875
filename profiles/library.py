"""The conformance resources the server knows: R4 base definitions plus our own profiles.

Read once from JSON files (a resource per file, or a Bundle of them) and indexed by canonical URL.
Stdlib only, no I/O after loading, never mutated afterwards: safe to share between threads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
R4_DIR = PACKAGE_DIR / "r4"
DEFINITIONS_DIR = PACKAGE_DIR / "definitions"

Resource = dict[str, Any]
INDEXED = ("StructureDefinition", "ValueSet", "CodeSystem", "ConceptMap")


class LibraryError(Exception):
    """Two different resources claim one canonical URL, or a file is not a FHIR resource."""


@dataclass(slots=True)
class Library:
    structure_definitions: dict[str, Resource] = field(default_factory=dict)
    value_sets: dict[str, Resource] = field(default_factory=dict)
    code_systems: dict[str, Resource] = field(default_factory=dict)
    concept_maps: dict[str, Resource] = field(default_factory=dict)

    @classmethod
    def load(cls, directories: Iterable[Path]) -> Library:
        library = cls()
        for directory in directories:
            if directory.is_dir():
                for path in sorted(directory.glob("*.json")):
                    library.add_file(path)
        return library

    def add_file(self, path: Path) -> None:
        if path.name == "manifest.json":
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LibraryError(f"{path}: {exc}") from exc
        if not isinstance(data, dict) or "resourceType" not in data:
            raise LibraryError(f"{path} is not a FHIR resource")
        for resource in _resources(data):
            self.add(resource, str(path))

    def add(self, resource: Resource, origin: str = "<memory>") -> None:
        kind = resource.get("resourceType")
        if kind not in INDEXED:
            return
        url = resource.get("url")
        if not isinstance(url, str):
            raise LibraryError(f"{origin}: {kind} without a url")
        table = self._table(kind)
        if url in table and table[url] != resource:
            raise LibraryError(f"{origin}: a different {kind} {url} is already loaded")
        table[url] = resource

    def _table(self, kind: str) -> dict[str, Resource]:
        if kind == "StructureDefinition":
            return self.structure_definitions
        if kind == "ValueSet":
            return self.value_sets
        if kind == "ConceptMap":
            return self.concept_maps
        return self.code_systems

    def structure_definition(self, canonical: str) -> Resource | None:
        """The StructureDefinition for ``url`` or ``url|version`` (a version must match)."""
        url, _, version = canonical.partition("|")
        sd = self.structure_definitions.get(url)
        if sd is not None and version and sd.get("version") not in (None, version):
            return None
        return sd


def _resources(data: Resource) -> Iterator[Resource]:
    if data["resourceType"] == "Bundle":
        for entry in data.get("entry", []):
            if isinstance(entry.get("resource"), dict):
                yield entry["resource"]
    else:
        yield data
