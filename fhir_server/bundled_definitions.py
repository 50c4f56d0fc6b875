"""The bundled conformance resources (profiles/definitions: the Danish StructureDefinitions,
ValueSets, CodeSystems and SearchParameters) are installed into the store at start, so they are
readable and searchable like any resource (``/fhir/StructureDefinition?url=…``) and the
SearchParameters among them take effect. A bundled resource is (re)written only when the store
lacks it or holds different content under its id."""

from __future__ import annotations

import logging
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson

from fhir_server.errors import FhirError
from fhir_server.store.base import Store, VersionConflict, in_transaction

if TYPE_CHECKING:
    from fhir_server.write_checks import WriteChecks

log = logging.getLogger(__name__)


@cache
def bundled() -> tuple[dict[str, Any], ...]:
    folder = resources.files("profiles").joinpath("definitions")
    out = [orjson.loads(f.read_bytes()) for f in folder.iterdir() if f.name.endswith(".json")]
    return tuple(sorted(out, key=lambda r: (r["resourceType"], r["id"])))


def supported_profiles(type_: str) -> list[str]:
    """Canonical URLs of the bundled profiles constraining ``type_`` (CapabilityStatement)."""
    return [
        f"{r['url']}|{r['version']}" if r.get("version") else r["url"]
        for r in bundled()
        if r["resourceType"] == "StructureDefinition"
        and r.get("kind") == "resource"
        and r.get("derivation") == "constraint"
        and r.get("type") == type_
    ]


def _unchanged(stored: bytes | None, resource: dict[str, Any]) -> bool:
    if stored is None:
        return False
    current = orjson.loads(stored)
    current.pop("meta", None)
    return current == {k: v for k, v in resource.items() if k != "meta"}


async def install(store: Store, checks: WriteChecks) -> int:
    """Write what is missing or different (if ``checks`` let it); returns how many were
    written."""

    written = 0
    for resource in bundled():
        type_, id_ = resource["resourceType"], resource["id"]
        current = await store.read(type_, id_)
        if current is not None and not current.deleted and _unchanged(current.content, resource):
            continue
        try:
            checks.check_resource(type_, orjson.loads(orjson.dumps(resource)))
        except FhirError as err:
            log.error("bundled %s/%s is refused: %s", type_, id_, err.diagnostics)
            continue

        async def work(uow: Any, r: dict[str, Any] = resource) -> None:
            body = orjson.loads(orjson.dumps(r))
            await uow.write(r["resourceType"], r["id"], body, method="PUT")

        try:
            await in_transaction(store, work)
            written += 1
        except VersionConflict:  # another server process installed it at the same moment
            continue
    return written
