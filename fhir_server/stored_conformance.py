"""StructureDefinitions, ValueSets and CodeSystems in the store take effect for validation.

The store is the source of truth: a profile posted to any server process (or installed from a
FHIR package with ``fhir-server packages install``) is used by every process, also after a
restart. Each server keeps a validator extended with its store's conformance resources
(`profiles.validation.Validator.extended`: the bundled definitions plus the stored ones, the
compiled R4 base shared). Before a request that may validate (every request but a GET) it
compares the store's mark of the newest version of those three types (`Store.last_written`:
one indexed lookup, no content read) with the one it loaded, and reloads when it changed — at
once after this process wrote one, before the next write of any other process.

A StructureDefinition is checked when it is written (`StoredConformance.refusal`): a profile
that cannot be compiled — unknown base, a differential the snapshot generator refuses, rules
the validator cannot apply, over the size bounds of `profiles.validation.foreign` — is refused
with 422 naming the element, so nothing is stored that the validator would not use.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson

from fhir_server.errors import Issue, Unprocessable
from fhir_server.search.terms import SearchQuery
from fhir_server.store.base import Store
from profiles.validation import ProfileError, Validator
from profiles.validation.foreign import (
    DefinitionRefused,
    check_bounds,
    check_expressions,
    element_expression,
    prepare,
)

log = logging.getLogger(__name__)

TYPES = ("StructureDefinition", "ValueSet", "CodeSystem")
"""The conformance resource types the validator reads from the store."""


class StoredConformance:
    """One server's view of its store's conformance resources, as a validator (app-scoped,
    `fhir_server.services`)."""

    def __init__(self) -> None:
        self._validator: Validator | None = None
        self._store: Store | None = None
        self._mark: tuple[str | None, ...] | None = None
        self._prepared: dict[tuple[str, int], dict[str, Any]] = {}
        """Stored StructureDefinitions with their snapshots, by (id, version): a reload after
        one change does not generate every other snapshot again."""
        self._loaded: list[dict[str, Any]] = []
        self._listeners: list[Callable[[], None]] = []
        self._reloading = asyncio.Lock()

    @property
    def validator(self) -> Validator:
        """The validator of this server: the bundled definitions and the store's."""
        return self._validator or Validator.default()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever the stored definitions were reloaded (the
        CapabilityStatement lists the stored profiles)."""
        self._listeners.append(listener)

    def profiles_for(self, type_: str) -> list[str]:
        """Canonicals of the stored profiles constraining the resource type ``type_``."""
        return sorted(
            f"{r['url']}|{r['version']}" if isinstance(r.get("version"), str) else r["url"]
            for r in self._loaded
            if r.get("resourceType") == "StructureDefinition"
            and r.get("kind") == "resource"
            and r.get("type") == type_
        )

    async def sync(self, store: Store) -> None:
        """Reload if the store's conformance resources changed since they were loaded (by any
        server process: the mark is the store's)."""
        mark = await store.last_written(TYPES)
        if store is self._store and mark == self._mark:
            return
        async with self._reloading:  # one reload at a time: a slower one must not finish last
            mark = await store.last_written(TYPES)
            if store is not self._store or mark != self._mark:
                await self._reload(store)
                self._store, self._mark = store, mark

    async def _reload(self, store: Store) -> None:
        root = Validator.default()
        pending = [(k, r) for k, r in await _load(store) if _used(root, r)]
        prepared: list[dict[str, Any]] = []
        kept: dict[tuple[str, int], dict[str, Any]] = {}
        while pending:  # a profile may build on another stored one: each pass adds what it can
            failed: list[tuple[tuple[str, int], dict[str, Any], ProfileError]] = []
            for key, resource in pending:
                if resource["resourceType"] == "StructureDefinition":
                    try:
                        resource = self._prepare(key, resource, prepared, kept)
                    except ProfileError as err:
                        failed.append((key, resource, err))
                        continue
                prepared.append(resource)
            if len(failed) == len(pending):
                for key, _, why in failed:
                    log.warning("stored %s (version %s) is not used: %s", *key, why)
                break
            pending = [(key, resource) for key, resource, _ in failed]
        self._prepared = kept
        self._loaded = prepared
        self._validator = root.extended(prepared) if prepared else None
        for listener in self._listeners:
            listener()

    def _prepare(
        self,
        key: tuple[str, int],
        sd: dict[str, Any],
        prepared: list[dict[str, Any]],
        kept: dict[tuple[str, int], dict[str, Any]],
    ) -> dict[str, Any]:
        """``sd`` with its snapshot; kept by (id, version) when its base is bundled (then a
        later reload need not generate it again)."""
        found = self._prepared.get(key)
        root = Validator.default().library
        if found is None:
            found = prepare(sd, root.extended(prepared))
        base = sd.get("baseDefinition")
        if isinstance(base, str) and root.structure_definition(base) is not None:
            kept[key] = found
        return found

    def check_bounds(self, sd: dict[str, Any]) -> None:
        """Refuse (422) a StructureDefinition too large to be read at all."""
        try:
            check_bounds(sd)
        except DefinitionRefused as err:
            message = f"StructureDefinition: {err}"
            issue = Issue("too-costly", message, (err.expression,))
            raise Unprocessable(message, issues=[issue]) from None

    def refusal(self, sd: dict[str, Any], also: Sequence[dict[str, Any]] = ()) -> Issue | None:
        """Why the StructureDefinition ``sd`` may not be stored (an issue naming the element),
        None if it may: a profile must compile against what this server knows (plus ``also``,
        the other resources of one package). Other StructureDefinitions (new types, logical
        models) are stored as any resource and not used."""
        if sd.get("derivation") != "constraint":
            return None
        url = sd.get("url")
        if not isinstance(url, str) or not url:
            return Issue("required", "A profile needs a url", ("StructureDefinition.url",))
        root = Validator.default()
        if root.library.holds(sd):
            if _same(root.library.structure_definition(_canonical(sd)), sd):
                return None  # the bundled definition itself (FHIR_INSTALL_CONFORMANCE)
            return Issue(
                "business-rule",
                f"{_canonical(sd)} is a definition bundled with this server; publish changes"
                " under another url or version",
                ("StructureDefinition.url",),
            )
        base = self._loaded + [r for r in also if r is not sd]
        try:
            library = root.library.extended(_usable(base))
            prepared = prepare(sd, library)
            validator = root.extended([*_usable(base), prepared])
            check_expressions(prepared, validator.fhirpath, sd)
            error = validator.profile_error(_canonical(sd))
        except DefinitionRefused as err:
            return Issue("processing", f"StructureDefinition {url}: {err}", (err.expression,))
        if error is None:
            return None
        return Issue(
            "processing",
            f"StructureDefinition {url} cannot be used for validation: {error}",
            (element_expression(str(error), prepared),),
        )


def _used(root: Validator, resource: dict[str, Any]) -> bool:
    """Whether the validator reads a stored resource: not a bundled definition installed into
    the store (the bundled one is used), not a StructureDefinition of a new type."""
    if root.library.holds(resource):
        return False
    kind = resource.get("resourceType")
    return kind != "StructureDefinition" or resource.get("derivation") == "constraint"


def _usable(resources: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The resources others may build on: profiles with a snapshot (generated where needed, in
    order, so a package's profile may build on one before it), ValueSets, CodeSystems."""
    root = Validator.default()
    out: list[dict[str, Any]] = []
    for r in resources:
        if r.get("resourceType") == "StructureDefinition" and not (r.get("snapshot") or {}).get(
            "element"
        ):
            if r.get("derivation") != "constraint":
                continue
            try:
                r = prepare(r, root.library.extended(out))
            except ProfileError:
                continue
        out.append(r)
    return out


def _canonical(sd: dict[str, Any]) -> str:
    version = sd.get("version")
    return f"{sd['url']}|{version}" if isinstance(version, str) and version else str(sd["url"])


def _same(bundled: dict[str, Any] | None, sd: dict[str, Any]) -> bool:
    """Whether ``sd`` is the bundled definition (as the server itself installs it)."""
    if bundled is None:
        return False
    drop = ("meta", "id", "text")
    return {k: v for k, v in bundled.items() if k not in drop} == {
        k: v for k, v in sd.items() if k not in drop
    }


async def _load(store: Store) -> list[tuple[tuple[str, int], dict[str, Any]]]:
    out = []
    for type_ in TYPES:
        query = SearchQuery(type_, count=500)
        while True:
            page = await store.search(query)
            for stored in page.items:
                resource = orjson.loads(stored.content or b"{}")
                if isinstance(resource.get("url"), str):
                    out.append(((f"{type_}/{stored.id}", stored.version), resource))
            if page.next_cursor is None:
                break
            query.after_id = page.next_cursor
    return out
