"""The bulk export worker: runs each job in the background, page by page, into ndjson files.

A job exports, type after type, exactly what its requester's search of that type would find —
the same query, narrowed by the same access (`Access.narrow`: scopes, care relationships,
consents), audited as that search would be — with nothing written after the kick-off (a version
newer than the job's transaction time is left out) and, with ``_since``, nothing before it.
Pages are read in the store's keyset order and appended to the type's file; after each page the
job's progress (the keyset position and the file's length) is saved with its lease renewed. A
job whose process stopped is taken over by the next one that looks (`JobStore.claim`, at start
and every half lease): it cuts the file back to the saved length and goes on from the saved
position, with its requester's grant made again from what the kick-off kept (`Grant.held`).

Each page is a few milliseconds of work between awaits, so requests keep being answered while a
job runs in the same process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import parse_qsl

import orjson

from fhir_server import compartment
from fhir_server.access import Authenticator, Grant
from fhir_server.care_relationships import instant_us
from fhir_server.config import Settings
from fhir_server.errors import FhirError
from fhir_server.export.jobs import (
    COMPLETE,
    FAILED,
    RUNNING,
    Job,
    JobStore,
    Output,
    job_store_for,
    now,
)
from fhir_server.interactions.common import searcher
from fhir_server.interactions.context import Context
from fhir_server.search.resolve import build_query
from fhir_server.search.terms import Criterion, FilterGroup, SearchQuery, ids_filter, owner_filter
from fhir_server.store.base import Store
from fhir_server.stored import StoredResource

if TYPE_CHECKING:
    from fhir_server.services import Services

log = logging.getLogger("fhir_server.export")

SAVE_SECONDS = 0.5
"""A running job saves its progress (and renews its lease) after a page at most this often, and
at the end of each query: what a takeover writes again is at most this long's work."""
MEMBERS_PER_QUERY = 500
"""A Group's patients are looked up this many at a time (one query's list of references)."""


class Lost(Exception):
    """The job was cancelled, or another worker holds it now: this one stops."""


def export_directory(settings: Settings) -> Path:
    """Where the files go: ``FHIR_EXPORT_DIR``, else ``exports`` beside the SQLite file (or under
    ``./data`` for MongoDB)."""
    if settings.export_dir:
        return Path(settings.export_dir)
    url = settings.store_url
    if url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
        if path and path != ":memory:":
            return Path(path).parent / "exports"
    return Path("data") / "exports"


def owner_of(grant: Grant) -> str:
    """Whose a job is: the client and the subject of the grant that started it."""
    return f"{grant.client_id or ''}|{grant.subject}"


class ExportSlot:
    """Where a server's `Exporter` is found (`Services.exports`): set by the bootstrap, which
    makes it once the store and the authenticator exist; None where none runs."""

    exporter: Exporter | None = None


class Exporter:
    """One per server process (`fhir_server.app` opens and closes it): starts, resumes, cancels
    and expires jobs. Several processes on one database share the jobs through their leases."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        services: Services,
        authenticator: Authenticator,
        jobs: JobStore | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.services = services
        self.authenticator = authenticator
        self.jobs = jobs or job_store_for(store)
        self.directory = export_directory(settings)
        self.worker = uuid.uuid4().hex
        """This process's name on the leases it holds."""
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def lease(self) -> float:
        return self.settings.export_lease_seconds

    async def open(self) -> None:
        await self.jobs.open()
        self._sweeper = asyncio.create_task(self._sweep())

    async def close(self) -> None:
        """Stop every job where it is (its saved progress is where the next start goes on) and
        give up its lease, so the next start — or another process — takes it over at once."""
        running = list(self._tasks)
        tasks = [t for t in (self._sweeper, *self._tasks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._sweeper = None
        for id_ in running:
            try:
                await self.jobs.release(id_, self.worker)
            except Exception:  # its lease runs out instead
                log.exception("releasing export job %s failed", id_)
        await self.jobs.close()

    async def submit(self, job: Job, grant: Grant) -> None:
        """Keep the new job and start it here."""
        await self.jobs.add(job, self.worker, now() + self.lease)
        self._start(job, grant)

    async def cancel(self, job: Job) -> None:
        """Delete the job and its files (a worker elsewhere stops at its next save)."""
        await self.jobs.remove(job.id)
        task = self._tasks.get(job.id)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        shutil.rmtree(self.directory / job.id, ignore_errors=True)

    def file(self, job: Job, name: str) -> Path | None:
        """The path of one of a finished job's files, or None when it has no such file."""
        if not any(o.file == name for o in job.outputs):
            return None
        path = self.directory / job.id / name
        return path if path.is_file() else None

    def _start(self, job: Job, grant: Grant | None) -> None:
        task = asyncio.create_task(self._run(job, grant))
        self._tasks[job.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job.id, None))

    async def _sweep(self) -> None:
        """Take over the jobs whose worker stopped, and delete what expired."""
        while True:
            try:
                for job in await self.jobs.claim(self.worker, now(), now() + self.lease):
                    if job.id in self._tasks:  # running here, only late to save: goes on
                        continue
                    log.info("export job %s resumed", job.id)
                    self._start(job, None)
                for id_ in await self.jobs.expired(now()):
                    if await self.jobs.remove(id_):
                        shutil.rmtree(self.directory / id_, ignore_errors=True)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("looking for export jobs failed")
            await asyncio.sleep(max(0.1, self.lease / 2))

    async def _run(self, job: Job, grant: Grant | None) -> None:
        try:
            if grant is None:
                grant = await self.authenticator.regrant(job.held, job.base)
            await self._export(job, grant)
        except Lost:
            log.info("export job %s was cancelled or taken over", job.id)
            if await self.jobs.get(job.id) is None:
                shutil.rmtree(self.directory / job.id, ignore_errors=True)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            if isinstance(err, FhirError):
                job.error = err.diagnostics
            else:
                log.exception("export job %s failed", job.id)
                job.error = "The export failed on the server"
            job.state = FAILED
            job.expires = now() + self.settings.export_expire_seconds
            await self.jobs.save(job, self.worker, now() + self.lease)

    async def _save(self, job: Job) -> None:
        if not await self.jobs.save(job, self.worker, now() + self.lease):
            raise Lost

    async def _export(self, job: Job, grant: Grant) -> None:
        job.state = RUNNING
        folder = self.directory / job.id
        folder.mkdir(parents=True, exist_ok=True)
        progress = job.progress
        while progress.type_index < len(job.types):
            type_ = job.types[progress.type_index]
            output = _output(job, type_)
            with _opened(folder / output.file, progress.bytes) as out:
                await self._export_type(job, grant, type_, output, out)
            progress.type_index += 1
            progress.filter_index = progress.chunk_index = progress.bytes = 0
            progress.cursor = None
            await self._save(job)
        for empty in [o for o in job.outputs if o.count == 0]:
            (folder / empty.file).unlink(missing_ok=True)
        job.outputs = [o for o in job.outputs if o.count > 0]
        job.state = COMPLETE
        job.expires = now() + self.settings.export_expire_seconds
        await self._save(job)
        log.info("export job %s complete", job.id)

    async def _export_type(
        self, job: Job, grant: Grant, type_: str, output: Output, out: IO[bytes]
    ) -> None:
        progress = job.progress
        filters: list[str | None] = [*job.type_filters.get(type_, [])] or [None]
        chunks: list[list[str] | None] = [None]
        if job.members is not None:
            chunks = list(_chunks(job.members))
        seen: set[str] | None = None
        if len(filters) > 1:  # a resource more than one filter finds is written once
            seen = _ids_written(out, progress.bytes)
        saved = time.monotonic()
        while progress.filter_index < len(filters):
            while progress.chunk_index < len(chunks):
                ctx = Context(self.store, self.settings, grant, job.base, services=self.services)
                query = await self._query(ctx, job, type_, filters[progress.filter_index])
                chunk = chunks[progress.chunk_index]
                if chunk is not None:
                    query.filters.append(_members(type_, chunk))
                while True:
                    query.after_id = progress.cursor
                    page = await ctx.search(query)
                    items = _kept(job, type_, page.items, seen)
                    if progress.chunk_index > 0 and type_ != "Patient":
                        items = _not_earlier(type_, items, chunks[: progress.chunk_index])
                    out.write(_lines(items))
                    ctx.access.disclose(items)
                    await ctx.access.settle("$export", type_, "", 200)
                    output.count += len(items)
                    progress.cursor = page.next_cursor
                    if page.next_cursor is None:
                        break
                    if time.monotonic() >= saved + min(SAVE_SECONDS, self.lease / 3):
                        out.flush()
                        progress.bytes = out.tell()
                        await self._save(job)
                        saved = time.monotonic()
                    else:
                        await asyncio.sleep(0)  # let requests in between pages
                out.flush()
                progress.bytes = out.tell()
                progress.chunk_index += 1
                progress.cursor = None
            progress.filter_index += 1
            progress.chunk_index = 0

    async def _query(self, ctx: Context, job: Job, type_: str, filter_: str | None) -> SearchQuery:
        """The requester's search of ``type_`` for this job, narrowed by their access."""
        pairs: list[tuple[str, str]] = []  # "written by the transaction time": `_kept`
        if job.since is not None:
            pairs.append(("_lastUpdated", f"gt{job.since}"))
        if filter_ is not None:
            pairs += parse_qsl(filter_, keep_blank_values=True)
        size = self.settings.export_page_size
        query = await build_query(
            searcher(ctx),
            type_,
            pairs,
            params=ctx.params,
            default_count=size,
            max_count=size,
            base=job.base,
        )
        await ctx.access.narrow(query, "s", quiet=True)
        return query


def _output(job: Job, type_: str) -> Output:
    found = next((o for o in job.outputs if o.type == type_), None)
    if found is None:
        found = Output(type_, f"{type_}.ndjson")
        job.outputs.append(found)
    return found


@contextlib.contextmanager
def _opened(path: Path, length: int) -> Iterator[IO[bytes]]:
    """The type's file, cut back to ``length`` (what the saved progress had written), for
    appending."""
    mode = "r+b" if path.exists() else "w+b"
    with open(path, mode) as out:
        out.truncate(length)
        out.seek(length)
        yield out


def _ids_written(out: IO[bytes], length: int) -> set[str]:
    """The ids in the first ``length`` bytes of a type's file (a resumed job's dedup set), read
    a line at a time."""
    out.seek(0)
    ids: set[str] = set()
    read = 0
    for line in out:
        read += len(line)
        if read > length:
            break
        if line.strip():
            ids.add(str(orjson.loads(line).get("id")))
    out.seek(length)
    return ids


def _not_earlier(
    type_: str, items: list[StoredResource], earlier: Sequence[list[str] | None]
) -> list[StoredResource]:
    """Leave out what an earlier chunk of a Group's members found already: a resource in the
    compartment of a member of an earlier chunk (one referring to patients of two chunks). Read
    from each resource rather than remembered, so memory does not grow with the export."""
    before = {p for chunk in earlier for p in chunk or ()}
    return [
        s
        for s in items
        if not before & compartment.patients(type_, orjson.loads(s.content or b"{}"))
    ]


def _chunks(members: list[str]) -> list[list[str]]:
    if not members:
        return [[]]
    return [members[i : i + MEMBERS_PER_QUERY] for i in range(0, len(members), MEMBERS_PER_QUERY)]


def _members(type_: str, patients: Sequence[str]) -> Criterion:
    """``type_`` resources in the compartment of one of ``patients``: the Patients themselves,
    or those a compartment parameter of the type refers to one of them by."""
    if type_ == "Patient":
        return ids_filter(patients)
    params = compartment.params("Patient", type_)
    return FilterGroup(tuple((owner_filter(p, patients),) for p in params))


def _kept(
    job: Job, type_: str, items: list[StoredResource], seen: set[str] | None
) -> list[StoredResource]:
    """The page's resources this job exports: a Patient export only what is in some patient's
    compartment; nothing written after the transaction time (compared with each version's
    timestamp here: as a query condition it costs an index probe per row); each resource once."""
    until = instant_us(job.transaction_time)
    items = [s for s in items if s.ts <= until]
    if job.level == "patient" and type_ != "Patient":
        items = [s for s in items if compartment.patients(type_, orjson.loads(s.content or b"{}"))]
    if seen is not None:
        items = [s for s in items if s.id not in seen]
        seen.update(s.id for s in items)
    return items


def _lines(items: list[StoredResource]) -> bytes:
    """The page as ndjson: each resource's stored JSON as it is, one per line, unless a client
    wrote one across lines (then that one is written again on one). Counting the newlines of
    the joined page tells whether any did, at C speed."""
    if not items:
        return b""
    data = b"\n".join([s.content or b"{}" for s in items]) + b"\n"
    if data.count(b"\n") == len(items):
        return data
    return b"".join(orjson.dumps(orjson.loads(s.content or b"{}")) + b"\n" for s in items)
