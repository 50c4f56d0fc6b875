"""What an interaction receives and returns — FHIR terms only, nothing of HTTP.

The HTTP layer and the batch/transaction processor both translate into a `FhirRequest` and out of
a `FhirResult`, so a Bundle entry and an HTTP request run through exactly the same code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from fhir_server.access import Access, Grant, Security
from fhir_server.config import Settings
from fhir_server.errors import Conflict, Invalid, Issue, Unavailable
from fhir_server.interactions.integrity import check_unit
from fhir_server.numbers import parse_count
from fhir_server.search.registry import KnownParameters
from fhir_server.search.terms import Index, SearchQuery
from fhir_server.store.base import (
    Page,
    RetryableConflict,
    Store,
    StoreBusy,
    UnitOfWork,
    in_transaction,
)
from fhir_server.stored import StoredResource

if TYPE_CHECKING:
    from fhir_server.services import Services

T = TypeVar("T")


@dataclass(slots=True)
class FhirRequest:
    method: str
    path: list[str]
    """Segments after the FHIR base, e.g. ``["Patient", "1", "_history", "2"]``."""
    params: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None
    """The parsed body: a resource, a JSON Patch document or form pairs (`content_type` says
    which). Read it with `document`: a body received over HTTP is parsed on first use."""
    content_type: str | None = None
    """What the body holds, whatever its wire format: ``fhir`` (a resource), ``json-patch`` or
    ``form``; None when there is no body."""
    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: int | None = None
    """µs since the epoch."""
    if_none_exist: str | None = None
    prefer_return: str | None = None
    prefer_handling: str | None = None
    """``lenient``: unknown search parameters are ignored (and reported) instead of refused."""
    prefer_async: bool = False
    """``Prefer: respond-async``: the client expects the asynchronous pattern (``$export``)."""
    body_checked: bool = False
    """The body is a resource already validated structurally (a transaction validates every
    entry before it takes the write lock, so validation never holds it)."""
    index: Index | None = None
    """The body's search index, extracted before the write lock; dropped if the body changes."""
    minted_id: str | None = None
    """An id the server assigned in advance (a transaction's create or conditional update):
    the client did not choose it, nor can it: a client's ``POST Type/id`` is no create."""

    warnings: list[Issue] = field(default_factory=list)
    """What checking the body found that the client should hear although the write goes
    ahead (a claimed profile the server does not have): added to the result's issues."""

    decode: Callable[[], Any] | None = None
    """How `document` gets `body` from the bytes received: the codec of their media type
    (`fhir_server/http/codecs.py`), bound by the HTTP layer or a Bundle's Binary entry."""

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.params if k == name), None)

    def document(self) -> Any:
        """The parsed body (None if there is none), decoded on first use: a request refused
        before its body matters (an unknown type, a method not allowed, no permission) is
        answered as such and its body never parsed; a body that does not parse is a 400."""
        if self.decode is not None:
            self.body = self.decode()
            self.decode = None
        return self.body


@dataclass(slots=True)
class FhirResult:
    status: int
    stored: StoredResource | None = None
    """The version the result is about: ETag, Last-Modified and Location come from it."""
    body: bytes | None = None
    """A payload other than the stored resource (Bundle, OperationOutcome, CapabilityStatement)."""
    location: bool = False
    issues: list[Issue] = field(default_factory=list)
    """Informational outcome, returned when the client prefers an OperationOutcome."""
    headers: dict[str, str] = field(default_factory=dict)
    """Headers of the answer an interaction chooses itself (an asynchronous request's
    ``Content-Location``, ``Retry-After``, ``X-Progress``, ``Expires``)."""
    media: str | None = None
    """The body's media type whatever the request negotiated (a bulk export's manifest is
    plain JSON, its files ndjson); None: the negotiated FHIR format."""
    file: str | None = None
    """A file the body is streamed from (a bulk export's ndjson), instead of ``body``."""


def warned(req: FhirRequest, result: FhirResult) -> FhirResult:
    """The result with the warnings checking the request's body found (a claimed profile the
    server does not have), which a client preferring an OperationOutcome sees; handed over
    once (the request's list is replaced, so a transaction run again starts from its own)."""
    if req.warnings:
        result.issues = [*req.warnings, *result.issues]
        req.warnings = []
    return result


Handler = Callable[..., Awaitable["FhirResult"]]
"""An interaction: (context, request, *the path's arguments) → result."""


@dataclass(slots=True)
class Context:
    store: Store
    settings: Settings
    grant: Grant
    """Who calls, as authentication found it; `access` asks it the interaction's questions."""
    base_url: str
    uow: UnitOfWork | None = None
    """Set while running inside a transaction Bundle: every read and write joins it."""
    security: Security | None = None
    """What the CapabilityStatement declares of the server's security."""
    services: Services = field(kw_only=True)
    """The server's own router, search parameters and write checks (app-scoped)."""
    _access: Access | None = field(default=None, init=False, repr=False)
    settling: list[Callable[[], Awaitable[None]]] = field(
        default_factory=list, init=False, repr=False
    )
    """Work the unit of work under way does last, after all its writes (a transaction's
    entries included), before it commits: what a write implies once the whole unit is known
    (`fhir_server.handover`: the Task a ServiceRequest hands over, unless one came with it)."""
    vouched: set[tuple[str, str]] = field(default_factory=set, init=False, repr=False)
    """(type, id) of resources the server itself linked a write to on the caller's behalf
    (a MedCom reply's earlier Communication, found by its message id): referential integrity
    asks only that they exist, not that the caller may read them (`interactions.integrity`)."""

    @property
    def access(self) -> Access:
        """The caller's access, reading through this context (so inside a transaction its
        look-ups join the unit of work); bound on first use."""
        if self._access is None:
            self._access = self.grant.bind(self)
        return self._access

    @property
    def params(self) -> KnownParameters:
        """The server's search parameters (searches, including those access decisions run)."""
        return self.services.params

    async def read(self, type_: str, id_: str) -> StoredResource | None:
        return await (self.uow or self.store).read(type_, id_)

    async def vread(self, type_: str, id_: str, version: int) -> StoredResource | None:
        """A past version, from the store (units of work read current versions only)."""
        return await self.store.vread(type_, id_, version)

    async def search(self, query: SearchQuery) -> Page:
        return await (self.uow or self.store).search(query)

    async def related_patients(self, holders: Sequence[str], at: str) -> set[str]:
        return await (self.uow or self.store).related_patients(holders, at)

    async def is_related(self, patient: str, holders: Sequence[str], at: str) -> bool:
        return await (self.uow or self.store).is_related(patient, holders, at)

    async def relate(self, patient: str, holder: str, kind: str, start: str) -> None:
        """In the unit of work under way (a create's, a transaction's): outside one there is
        nothing it could be part of."""
        if self.uow is None:
            raise RuntimeError("a care relationship is recorded in a unit of work")
        await self.uow.relate(patient, holder, kind, start)

    async def write(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run ``work`` in a unit of work (the transaction Bundle's, or a new one retried on
        transient conflicts); while it runs, this context's reads and searches join it, so a
        conditional match and the write it decides are one atomic step."""
        if self.uow is not None:
            return await work(self.uow)

        async def joined(uow: UnitOfWork) -> T:
            self.uow = uow
            self.settling = []  # a retried unit starts again from nothing
            try:
                result = await work(uow)
                while self.settling:  # what the unit's writes imply, written in the unit
                    await self.settling.pop(0)()
                if self.settings.referential_integrity:  # once, after the unit's last write
                    await check_unit(self, uow)
                return result
            finally:
                self.uow = None
                self.settling = []

        try:
            return await in_transaction(self.store, joined)
        except RetryableConflict as err:
            raise Conflict(
                "The resources were changed concurrently by others too often; retry the request"
            ) from err
        except StoreBusy as err:
            raise Unavailable(
                f"The store is busy ({err}); retry the request", retry_after=1
            ) from err


def parse_version(etag: str, header: str) -> int:
    """``W/"3"``, ``"3"`` or ``3`` → 3."""
    raw = etag.strip().removeprefix("W/").strip('"')
    version = parse_count(raw)
    if version is None:
        raise Invalid(f'{header} must name a version as W/"<versionId>", not {etag!r}', [header])
    return version
