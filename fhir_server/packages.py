"""FHIR packages (an npm-style ``.tgz``: ``package/package.json`` and the resources beside it)
installed into the store: their StructureDefinitions, ValueSets and CodeSystems become
resources like any other (readable, searchable) and, through the store, the validator's
(`fhir_server.stored_conformance`) in every server process.

``fhir-server packages install FILE`` checks every resource first — as a write would, each
profile compiled with the rest of the package (a profile may build on another of the same
package) — and writes them all in one unit of work, or nothing. Each installed resource is
tagged ``meta.tag`` = (`TAG_SYSTEM`, ``name#version``), which ``packages list`` reads back.
Reading is bounded (members, bytes per file, bytes in all) so a hostile archive cannot exhaust
memory; files are read, never extracted to disk.
"""

from __future__ import annotations

import copy
import json
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import orjson

from fhir_server.errors import FhirError
from fhir_server.search.terms import SearchQuery
from fhir_server.store.base import Store, in_transaction
from fhir_server.stored_conformance import TYPES
from profiles.validation import Validator
from profiles.validation.foreign import MAX_BYTES

if TYPE_CHECKING:
    from fhir_server.services import Services

TAG_SYSTEM = "urn:fhir-server:package"
"""``meta.tag`` system naming the package (``name#version``) a resource was installed from."""
MAX_MEMBERS = 20_000
MAX_TOTAL_BYTES = 256 * 1024 * 1024


class PackageError(Exception):
    """The file is not a FHIR package this server can read."""


@dataclass(slots=True)
class Package:
    name: str
    version: str
    resources: list[dict[str, Any]] = field(default_factory=list)
    """The StructureDefinitions, ValueSets and CodeSystems it holds (others are skipped)."""
    skipped: int = 0
    """Resources of other types (examples, SearchParameters, …) left out."""

    @property
    def tag(self) -> str:
        return f"{self.name}#{self.version}"


def read_package(path: Path) -> Package:
    """The package in the ``.tgz`` at ``path``: its manifest and the conformance resources in
    ``package/`` itself (not its ``example/`` or other sub-folders)."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            manifest, found, skipped = _members(archive, path)
    except (OSError, EOFError, tarfile.TarError) as err:
        raise PackageError(f"{path}: not a .tgz FHIR package ({err})") from None
    if manifest is None:
        raise PackageError(f"{path}: no package/package.json")
    name_, version = manifest.get("name"), manifest.get("version")
    if not isinstance(name_, str) or not isinstance(version, str) or not name_ or not version:
        raise PackageError(f"{path}: package.json needs a name and a version")
    return Package(name_, version, found, skipped)


def _members(
    archive: tarfile.TarFile, path: Path
) -> tuple[dict[str, Any] | None, list[dict[str, Any]], int]:
    """(package.json, the conformance resources, how many other resources) in ``package/``."""
    manifest: dict[str, Any] | None = None
    found: list[dict[str, Any]] = []
    skipped = total = 0
    for n, member in enumerate(archive):
        if n >= MAX_MEMBERS:
            raise PackageError(f"{path}: more than {MAX_MEMBERS} files")
        name = PurePosixPath(member.name)
        if not member.isfile() or name.parent != PurePosixPath("package"):
            continue
        if name.suffix != ".json" or name.name == ".index.json":
            continue
        if member.size > MAX_BYTES:
            raise PackageError(f"{member.name}: {member.size} bytes; at most {MAX_BYTES}")
        total += member.size
        if total > MAX_TOTAL_BYTES:
            raise PackageError(f"{path}: more than {MAX_TOTAL_BYTES} bytes of resources")
        data = _json(archive, member)
        if name.name == "package.json":
            manifest = data
        elif data.get("resourceType") in TYPES:
            found.append(data)
        else:
            skipped += 1
    return manifest, found, skipped


def _json(archive: tarfile.TarFile, member: tarfile.TarInfo) -> dict[str, Any]:
    handle = archive.extractfile(member)
    if handle is None:
        raise PackageError(f"{member.name}: cannot be read")
    try:
        data = json.loads(handle.read(MAX_BYTES + 1))
    except ValueError as err:
        raise PackageError(f"{member.name}: not JSON ({err})") from None
    if not isinstance(data, dict):
        raise PackageError(f"{member.name}: not a JSON object")
    return data


@dataclass(slots=True)
class InstallReport:
    written: int = 0
    unchanged: int = 0
    failures: list[str] = field(default_factory=list)
    """Why the package was not installed (nothing was written then)."""
    skipped: list[str] = field(default_factory=list)
    """Resources left out (bundled canonicals; with ``skip_unusable`` the unusable ones)."""


async def install(
    store: Store, services: Services, package: Package, skip_unusable: bool = False
) -> InstallReport:
    """Check every resource of ``package``, then write them all in one unit of work (or none,
    with the failures reported). Resources under a canonical bundled with the server are left
    out (the bundled one is used: a published dk-core package installs around it).
    ``skip_unusable``: write the rest when some cannot be used (each reported as skipped) —
    for published packages with profiles the validator cannot compile."""
    report = InstallReport()
    await services.conformance.sync(store)
    prepared: list[tuple[str, str, dict[str, Any]]] = []
    ids: set[tuple[str, str]] = set()
    bundled = Validator.default().library
    for resource in package.resources:
        where = f"{resource['resourceType']}/{resource.get('id')} ({resource.get('url')})"
        type_, id_ = resource["resourceType"], resource.get("id")
        if bundled.holds(resource):
            report.skipped.append(f"{where}: bundled with the server; the bundled one is used")
            continue
        if not isinstance(id_, str) or (type_, id_) in ids:
            report.failures.append(f"{where}: needs an id of its own in the package")
            continue
        ids.add((type_, id_))
        body = _tagged(resource, package.tag)
        try:
            services.checks.check_resource(type_, body, also=package.resources)
        except FhirError as err:
            details = "; ".join(
                f"{i.diagnostics} at {', '.join(i.expression)}" if i.expression else i.diagnostics
                for i in err.issues[:5]
            )
            failed = f"{where}: {details or err.diagnostics}"
            (report.skipped if skip_unusable else report.failures).append(failed)
            continue
        current = await store.read(type_, id_)
        if current is not None and not current.deleted:
            stored = orjson.loads(current.content or b"{}")
            if _canonical(stored) != _canonical(resource):
                taken = f"{where}: {type_}/{id_} is taken by {_canonical(stored)} in the store"
                (report.skipped if skip_unusable else report.failures).append(taken)
                continue
            if _without_meta(stored) == _without_meta(body) and _tags(stored) == _tags(body):
                report.unchanged += 1
                continue
        prepared.append((type_, id_, body))
    if report.failures:
        return report

    async def work(uow: Any) -> None:
        for type_, id_, body in prepared:
            await uow.write(type_, id_, copy.deepcopy(body), method="PUT")

    await in_transaction(store, work)
    report.written = len(prepared)
    await services.conformance.sync(store)
    return report


async def installed(store: Store) -> dict[str, Counter[str]]:
    """Installed packages (``name#version``) → how many resources of each type they left."""
    out: dict[str, Counter[str]] = {}
    for type_ in TYPES:
        query = SearchQuery(type_, count=500)
        while True:
            page = await store.search(query)
            for stored in page.items:
                for code in _tags(orjson.loads(stored.content or b"{}")):
                    out.setdefault(code, Counter())[type_] += 1
            if page.next_cursor is None:
                break
            query.after_id = page.next_cursor
    return out


def _tagged(resource: dict[str, Any], tag: str) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    meta = out.setdefault("meta", {})
    if not isinstance(meta, dict):
        return out  # the check refuses it
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    tags = [t for t in meta.get("tag") or [] if isinstance(t, dict)]
    tags = [t for t in tags if t.get("system") != TAG_SYSTEM]
    meta["tag"] = [*tags, {"system": TAG_SYSTEM, "code": tag}]
    return out


def _tags(resource: dict[str, Any]) -> list[str]:
    meta = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
    return [
        str(t.get("code"))
        for t in (meta or {}).get("tag") or []
        if isinstance(t, dict) and t.get("system") == TAG_SYSTEM
    ]


def _canonical(resource: dict[str, Any]) -> str:
    version = resource.get("version")
    return (
        f"{resource.get('url')}|{version}" if isinstance(version, str) else str(resource.get("url"))
    )


def _without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}
