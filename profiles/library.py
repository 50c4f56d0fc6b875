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
    versions: dict[str, dict[str, Resource]] = field(default_factory=dict)
    """StructureDefinitions by url, then by version, when several versions of one canonical are
    loaded (`add_version`); ``structure_definitions`` then holds the newest."""
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

    def extended(self, resources: Iterable[Resource]) -> Library:
        """A new library: this one's resources plus ``resources`` (from the store). A canonical
        this one holds keeps its content here (a bundled definition cannot be replaced); among
        ``resources`` a later one replaces an earlier one of the same canonical. Several
        versions of one StructureDefinition may be added; the newest answers an unversioned
        canonical."""
        out = Library(
            dict(self.structure_definitions),
            dict(self.value_sets),
            dict(self.code_systems),
            {url: dict(v) for url, v in self.versions.items()},
            dict(self.concept_maps),
        )
        for resource in resources:
            if not self.holds(resource):
                out.add_version(resource)
        return out

    def holds(self, resource: Resource) -> bool:
        """Whether this library has a resource with ``resource``'s canonical (``url|version``
        for a StructureDefinition, ``url`` for terminology)."""
        kind, url = resource.get("resourceType"), resource.get("url")
        if kind not in INDEXED or not isinstance(url, str):
            return False
        if kind != "StructureDefinition":
            return url in self._table(kind)
        version = resource.get("version")
        if isinstance(version, str) and version:
            return self.structure_definition(f"{url}|{version}") is not None
        return url in self.structure_definitions

    def add_version(self, resource: Resource) -> None:
        """Add ``resource``, replacing one of the same canonical (``url|version``)."""
        kind, url = resource.get("resourceType"), resource.get("url")
        if kind not in INDEXED or not isinstance(url, str):
            return
        table = self._table(kind)
        if kind != "StructureDefinition":
            table[url] = resource
            return
        versions = self.versions.setdefault(url, {})
        current = table.get(url)
        if current is not None and not versions:
            versions[_version(current)] = current
        versions[_version(resource)] = resource
        table[url] = max(versions.values(), key=lambda r: version_key(r.get("version")))

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
        if version and url in self.versions:
            return self.versions[url].get(version)
        sd = self.structure_definitions.get(url)
        if sd is not None and version and sd.get("version") not in (None, version):
            return None
        return sd


def _version(resource: Resource) -> str:
    version = resource.get("version")
    return version if isinstance(version, str) else ""


def version_key(version: Any) -> tuple[tuple[int, int | str], ...]:
    """Order of versions: dotted parts compared as numbers where they are (``1.10`` after
    ``1.9``), text otherwise; no version sorts first."""
    if not isinstance(version, str):
        return ()
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in version.split("."))


def _resources(data: Resource) -> Iterator[Resource]:
    if data["resourceType"] == "Bundle":
        for entry in data.get("entry", []):
            if isinstance(entry.get("resource"), dict):
                yield entry["resource"]
    else:
        yield data
