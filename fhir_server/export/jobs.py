"""Bulk export jobs as records beside the FHIR data, so a job outlives the process running it.

A job is one JSON document (`Job`) with a few columns the store queries: its state, the worker
that holds it and until when (its lease), and when its files expire. A worker renews its lease
each time it saves its progress; a job whose lease ran out (its process stopped or crashed) is
claimed by the next worker that looks (`JobStore.claim`), which goes on from the saved
progress. Every change is one conditional statement (SQLite) or one conditional update
(MongoDB), so several server processes on one database never run a job twice at once, and a
saved change to a job that was cancelled meanwhile is refused (`JobStore.save` answers False).

Kept in the same database as the resources (`Store.lend_database`): a table ``export_job`` in
the SQLite file, a collection ``export_jobs`` in MongoDB.
"""

from __future__ import annotations

import abc
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import orjson

from fhir_server.store.base import Store
from fhir_server.store.side_sqlite import SideConnection

T = TypeVar("T")

ACCEPTED = "accepted"
RUNNING = "in-progress"
COMPLETE = "complete"
FAILED = "error"
UNFINISHED = (ACCEPTED, RUNNING)


@dataclass(slots=True)
class Output:
    """One file of the manifest: the type it holds, its name in the job's directory, and how
    many resources it holds so far."""

    type: str
    file: str
    count: int = 0


@dataclass(slots=True)
class Progress:
    """Where a job is: the type (index into `Job.types`) and the filter of it (index into its
    ``_typeFilter`` queries) under way, the store's keyset position after the last resource
    written, and how long the type's file was then (a resumed job cuts it back to that, so a
    page written after the last save is written once, not twice)."""

    type_index: int = 0
    filter_index: int = 0
    chunk_index: int = 0
    cursor: str | None = None
    bytes: int = 0


@dataclass(slots=True)
class Job:
    id: str
    owner: str
    """Who may poll, cancel and download: the client and subject of the kick-off's caller."""
    request: str
    """The kick-off request's URL, as the manifest repeats it."""
    base: str
    level: str
    """``system``, ``patient`` or ``group``."""
    types: list[str]
    transaction_time: str
    """The kick-off's instant: nothing written after it is exported."""
    since: str | None = None
    type_filters: dict[str, list[str]] = field(default_factory=dict)
    """Per type, the ``_typeFilter`` queries (their parameters as a query string): a resource
    matching any of them is exported; a type without any exports every resource."""
    group: str | None = None
    members: list[str] | None = None
    """A Group export's patients (ids), read at kick-off."""
    held: dict[str, Any] | None = None
    """What the caller's grant is made again from after a restart (`Grant.held`)."""
    state: str = ACCEPTED
    progress: Progress = field(default_factory=Progress)
    outputs: list[Output] = field(default_factory=list)
    error: str | None = None
    """Why a failed job failed, as its OperationOutcome says (never personal data)."""
    expires: float | None = None
    """Epoch seconds after which a finished job and its files are deleted."""

    def doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Job:
        doc = dict(doc)
        doc["progress"] = Progress(**doc.get("progress") or {})
        doc["outputs"] = [Output(**o) for o in doc.get("outputs") or []]
        return cls(**doc)


class JobStore(abc.ABC):
    """The jobs' records: each method one atomic step."""

    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def add(self, job: Job, worker: str, lease_until: float) -> None:
        """A new job, held by ``worker`` until ``lease_until``."""

    @abc.abstractmethod
    async def get(self, id_: str) -> Job | None: ...

    @abc.abstractmethod
    async def save(self, job: Job, worker: str, lease_until: float) -> bool:
        """Store the job's state and progress and renew the lease — only while ``worker`` still
        holds the unfinished job: False when it was cancelled or taken over."""

    @abc.abstractmethod
    async def claim(self, worker: str, now: float, lease_until: float) -> list[Job]:
        """Take every unfinished job whose lease ran out before ``now``."""

    @abc.abstractmethod
    async def release(self, id_: str, worker: str) -> None:
        """Give up the lease of an unfinished job ``worker`` holds (it stops): the next worker
        that looks takes it over at once instead of after the lease."""

    @abc.abstractmethod
    async def remove(self, id_: str) -> bool:
        """Delete the job (cancelled or expired); False when there was none."""

    @abc.abstractmethod
    async def expired(self, now: float) -> list[str]:
        """The ids of finished jobs whose files expired before ``now``."""


_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS export_job (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        worker TEXT,
        lease REAL NOT NULL DEFAULT 0,
        expires REAL,
        doc BLOB NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS export_job_state ON export_job (state, lease)",
)
_OPEN = "state IN ('accepted', 'in-progress')"


class SqliteJobStore(SideConnection, JobStore):
    """Jobs in the store's SQLite file, on their own connection and worker thread (a few
    statements per page of an export, never on a request's path but the kick-off's)."""

    def __init__(self, path: str) -> None:
        SideConnection.__init__(self, path, _SCHEMA, "sqlite-export")

    async def add(self, job: Job, worker: str, lease_until: float) -> None:
        args = (job.id, job.state, worker, lease_until, job.expires, orjson.dumps(job.doc()))
        await self._run(
            lambda c: c.execute(
                "INSERT INTO export_job (id, state, worker, lease, expires, doc)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                args,
            )
        )

    async def get(self, id_: str) -> Job | None:
        row = await self._run(
            lambda c: c.execute("SELECT doc FROM export_job WHERE id = ?", (id_,)).fetchone()
        )
        return Job.of(orjson.loads(row[0])) if row else None

    async def save(self, job: Job, worker: str, lease_until: float) -> bool:
        args = (job.state, lease_until, job.expires, orjson.dumps(job.doc()), job.id, worker)
        return await self._run(
            lambda c: (
                c.execute(
                    "UPDATE export_job SET state = ?, lease = ?, expires = ?, doc = ?"
                    f" WHERE id = ? AND worker = ? AND {_OPEN}",
                    args,
                ).rowcount
                == 1
            )
        )

    async def claim(self, worker: str, now: float, lease_until: float) -> list[Job]:
        def run(c: sqlite3.Connection) -> list[Job]:
            ids = [
                r[0]
                for r in c.execute(f"SELECT id FROM export_job WHERE {_OPEN} AND lease < ?", (now,))
            ]
            taken = []
            for id_ in ids:
                won = c.execute(
                    f"UPDATE export_job SET worker = ?, lease = ? WHERE id = ? AND {_OPEN}"
                    " AND lease < ?",
                    (worker, lease_until, id_, now),
                ).rowcount
                row = c.execute("SELECT doc FROM export_job WHERE id = ?", (id_,)).fetchone()
                if won == 1 and row is not None:
                    taken.append(Job.of(orjson.loads(row[0])))
            return taken

        return await self._run(run)

    async def release(self, id_: str, worker: str) -> None:
        await self._run(
            lambda c: c.execute(
                f"UPDATE export_job SET lease = 0 WHERE id = ? AND worker = ? AND {_OPEN}",
                (id_, worker),
            )
        )

    async def remove(self, id_: str) -> bool:
        return await self._run(
            lambda c: c.execute("DELETE FROM export_job WHERE id = ?", (id_,)).rowcount == 1
        )

    async def expired(self, now: float) -> list[str]:
        return await self._run(
            lambda c: [
                r[0]
                for r in c.execute(
                    f"SELECT id FROM export_job WHERE NOT {_OPEN} AND expires < ?", (now,)
                )
            ]
        )


COLLECTION = "export_jobs"


class MongoJobStore(JobStore):
    """Jobs in the store's MongoDB database: ``{_id, state, worker, lease, expires, doc}``."""

    def __init__(self, database: Any) -> None:
        self.jobs = database[COLLECTION]

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def add(self, job: Job, worker: str, lease_until: float) -> None:
        await self.jobs.insert_one(
            {
                "_id": job.id,
                "state": job.state,
                "worker": worker,
                "lease": lease_until,
                "expires": job.expires,
                "doc": job.doc(),
            }
        )

    async def get(self, id_: str) -> Job | None:
        found = await self.jobs.find_one({"_id": id_})
        return Job.of(found["doc"]) if found else None

    async def save(self, job: Job, worker: str, lease_until: float) -> bool:
        result = await self.jobs.update_one(
            {"_id": job.id, "worker": worker, "state": {"$in": list(UNFINISHED)}},
            {
                "$set": {
                    "state": job.state,
                    "lease": lease_until,
                    "expires": job.expires,
                    "doc": job.doc(),
                }
            },
        )
        return bool(result.matched_count == 1)

    async def claim(self, worker: str, now: float, lease_until: float) -> list[Job]:
        open_ = {"state": {"$in": list(UNFINISHED)}, "lease": {"$lt": now}}
        candidates = await self.jobs.find(open_, {"_id": 1}).to_list(None)
        taken = []
        for candidate in candidates:
            result = await self.jobs.update_one(
                {"_id": candidate["_id"], **open_},
                {"$set": {"worker": worker, "lease": lease_until}},
            )
            if result.matched_count == 1:
                job = await self.get(candidate["_id"])
                if job is not None:
                    taken.append(job)
        return taken

    async def release(self, id_: str, worker: str) -> None:
        await self.jobs.update_one(
            {"_id": id_, "worker": worker, "state": {"$in": list(UNFINISHED)}},
            {"$set": {"lease": 0}},
        )

    async def remove(self, id_: str) -> bool:
        result = await self.jobs.delete_many({"_id": id_})
        return bool(result.deleted_count == 1)

    async def expired(self, now: float) -> list[str]:
        finished = {"state": {"$nin": list(UNFINISHED)}, "expires": {"$lt": now}}
        return [d["_id"] for d in await self.jobs.find(finished, {"_id": 1}).to_list(None)]


class _Jobs:
    """The jobs as a tenant of the FHIR store's database (`DatabaseTenant`)."""

    def sqlite_file(self, path: str) -> JobStore:
        return SqliteJobStore(path)

    def mongodb_database(self, database: Any) -> JobStore:
        return MongoJobStore(database)


def job_store_for(store: Store) -> JobStore:
    """The export jobs live in the FHIR store's database (its file, its client)."""
    return store.lend_database(_Jobs())


def now() -> float:
    return time.time()
