"""Bulk loading of ndjson files, Bundle JSON files and directories of them (``fhir-server load``).

Each resource is validated on its own so a failure names its file and line (or entry); the valid
ones of a file go to the store in chunks, one unit of work each. A transaction Bundle goes through
the transaction processor whole: if any entry fails, nothing of it is loaded.

Referential integrity (``FHIR_REFERENTIAL_INTEGRITY``) is not checked by default: a bulk load's
files reference each other in any order (a CarePlan's file before its Patients'), and the check
would cost every chunk a look-up. ``check_references`` (``fhir-server load
--referential-integrity``) checks each chunk and each transaction Bundle as the server checks a
write: each may then reference only what was loaded before it or is in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from tqdm import tqdm

from fhir_server.access import UNRESTRICTED
from fhir_server.config import Settings
from fhir_server.errors import FhirError
from fhir_server.fhir_json import parse_body
from fhir_server.interactions.common import check_type, new_id
from fhir_server.interactions.context import Context, FhirRequest
from fhir_server.interactions.integrity import check_unit
from fhir_server.store.base import Store, UnitOfWork, in_transaction

if TYPE_CHECKING:
    from fhir_server.services import Services

CHUNK = 500


@dataclass
class Report:
    loaded: int = 0
    failures: list[str] = field(default_factory=list)


def files_under(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in (".ndjson", ".json"))
        else:
            yield path


def count(paths: list[Path]) -> int:
    """How many resources `Loader.load` will go through (loaded or failed), for its progress
    bar's total: a pass over the files first — non-blank lines of ndjson, a Bundle's entries,
    one for any other document, for a path that is not there, for a file that is not JSON."""
    total = 0
    for path in files_under(paths):
        if not path.is_file():
            total += 1
        elif path.suffix == ".ndjson":
            with path.open("rb") as fh:
                total += sum(1 for line in fh if line.strip())
        else:
            try:
                doc = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                total += 1
                continue
            bundle = isinstance(doc, dict) and doc.get("resourceType") == "Bundle"
            total += len(doc.get("entry") or []) if bundle else 1
    return total


def _items(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, parsed JSON or the error) for each resource line / whole-file document; a path
    that cannot be read is one failure, reported as any other."""
    if not path.exists():
        yield str(path), ValueError("no such file or directory")
        return
    if not path.is_file():
        yield str(path), ValueError("not a file")
        return
    if path.suffix == ".ndjson":
        with path.open("rb") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    yield f"{path}:{n}", _parse(line)
    else:
        yield str(path), _parse(path.read_bytes())


def _parse(raw: bytes) -> Any:
    try:
        return parse_body(raw)  # as a request body: numbers as written, no key twice
    except FhirError as err:
        if isinstance(err.__cause__, orjson.JSONDecodeError):
            return ValueError(f"invalid JSON: {err.__cause__}")
        return ValueError(_describe(err))


class Loader:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        services: Services,
        check_references: bool = False,
    ) -> None:
        """``services``: those of the server the data is for (its checks, custom search
        parameters and router); ``store`` indexes with their ``indexer``.
        ``check_references``: referential integrity, off by default (see the module)."""
        self.store = store
        self.services = services
        self.check_references = check_references
        settings = settings.model_copy(update={"referential_integrity": check_references})
        self.ctx = Context(
            store, settings, UNRESTRICTED, settings.base_url or "", services=services
        )
        self.report = Report()
        self._pending: list[tuple[str, dict[str, Any]]] = []

    async def load(self, paths: list[Path], progress: bool = True) -> Report:
        """Load every resource under ``paths``; the progress bar's total is `count`ed first."""
        total = count(paths) if progress else None
        bar = tqdm(total=total, unit=" resources", disable=not progress, dynamic_ncols=True)
        for path in files_under(paths):
            for where, doc in _items(path):
                await self._one(where, doc, bar)
            await self._flush(bar)
        bar.close()
        return self.report

    async def load_resources(
        self, items: Iterable[tuple[str, Any]], progress: bool = True
    ) -> Report:
        """Load resources held in memory, each named by ``where`` in failures (``fhir-server
        demo``), exactly as `load` loads a file's."""
        total = len(items) if isinstance(items, Sized) else None
        bar = tqdm(total=total, unit=" resources", disable=not progress, dynamic_ncols=True)
        for where, doc in items:
            await self._one(where, doc, bar)
        await self._flush(bar)
        bar.close()
        return self.report

    async def _one(self, where: str, doc: Any, bar: tqdm) -> None:
        if isinstance(doc, Exception):
            self.report.failures.append(f"{where}: {doc}")
            bar.update(1)
            return
        if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
            await self._bundle(where, doc, bar)
            return
        try:
            type_ = check_type(doc.get("resourceType", "") if isinstance(doc, dict) else "")
            self._pending.append((where, self.services.checks.check_resource(type_, doc)))
        except FhirError as err:
            self.report.failures.append(f"{where}: {_describe(err)}")
            bar.update(1)
            return
        if len(self._pending) >= CHUNK:
            await self._flush(bar)

    async def _bundle(self, where: str, doc: dict[str, Any], bar: tqdm) -> None:
        if doc.get("type") in ("transaction", "batch"):
            await self._flush(bar)
            entries = len(doc.get("entry") or [])
            try:
                request = FhirRequest("POST", [], body=doc, content_type="fhir")
                await self.services.router.dispatch(self.ctx, request)
            except FhirError as err:
                self.report.failures.append(f"{where}: {_describe(err)}")
                bar.update(entries)
                return
            self.report.loaded += entries
            bar.update(entries)
            return
        for i, entry in enumerate(doc.get("entry", [])):
            await self._one(f"{where}#entry[{i}]", (entry or {}).get("resource"), bar)

    async def _flush(self, bar: tqdm) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return

        async def work(uow: UnitOfWork) -> None:
            for _, resource in pending:
                rid = resource.get("id") or new_id()
                await uow.write(resource["resourceType"], rid, resource, method="PUT")
            if self.check_references:
                await check_unit(self.ctx, uow)

        try:
            await in_transaction(self.store, work)
        except FhirError as err:
            self.report.failures.extend(f"{w}: {_describe(err)}" for w, _ in pending)
            bar.update(len(pending))
            return
        self.report.loaded += len(pending)
        bar.update(len(pending))


def _describe(err: FhirError) -> str:
    return "; ".join(
        i.diagnostics + (f" ({', '.join(i.expression)})" if i.expression else "")
        for i in err.issues
    )
