"""The one seam between the interaction layer and authorization: what an interaction asks.

Interactions (and Bundle entries, which run the same interactions) never import `auth`: they ask
the `Access` their `Context` carries. The HTTP layer gets a `Grant` per request from an
`Authenticator`; the context binds it to its own `Reader` (so the access decisions' look-ups join
a transaction's unit of work). What implements them — SMART scopes today, consent and audit
later, each one more `Access` wrapping or composed with the others — is wired in by the
bootstrap (`fhir_server.app`), the only place where `fhir_server` meets `auth`.

An `Action` is a string of SMART v2 permission letters, any one of which suffices: ``r`` read,
``s`` search, ``c`` create, ``u`` update, ``d`` delete (``"cu"``: create or update; `VISIBLE`:
read or search, which lets a resource appear as an include or a conditional operation's match).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from fhir_server.config import Settings
from fhir_server.errors import Issue
from fhir_server.search.registry import KnownParameters
from fhir_server.search.terms import SearchQuery
from fhir_server.store.base import Page, Store, UnitOfWork
from fhir_server.stored import StoredResource

Action = str
"""SMART permission letters (``r``, ``s``, ``c``, ``u``, ``d``); any one of them suffices."""
READ: Action = "r"
SEARCH: Action = "s"
CREATE: Action = "c"
UPDATE: Action = "u"
DELETE: Action = "d"
VISIBLE: Action = "rs"
"""What lets a resource appear as a search's include or a conditional operation's match."""

Security = Callable[[str], dict[str, Any] | None]
"""The CapabilityStatement's ``rest.security`` for a FHIR base (None: nothing to declare),
described by whatever authenticates (the bootstrap passes it in)."""

ReadById = Callable[[str, str], Awaitable[StoredResource | None]]


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether an action is permitted, and if not, why (the 403's text)."""

    permit: bool
    reason: str = ""


class Reader(Protocol):
    """What access decisions may read of the store (as the request sees it: inside a
    transaction, through its unit of work)."""

    @property
    def base_url(self) -> str: ...

    @property
    def params(self) -> KnownParameters:
        """The server's search parameters (a scope's query is parsed with them)."""
        ...

    @property
    def store(self) -> Store:
        """The store itself (audit appends its own records through it)."""
        ...

    @property
    def settings(self) -> Settings: ...

    @property
    def uow(self) -> UnitOfWork | None:
        """The unit of work a write runs in (a write's audit record joins it), else None."""
        ...

    async def read(self, type_: str, id_: str) -> StoredResource | None: ...

    async def vread(self, type_: str, id_: str, version: int) -> StoredResource | None: ...

    async def search(self, query: SearchQuery) -> Page: ...

    async def related_patients(self, holders: Sequence[str], at: str) -> set[str]:
        """The ids of the patients any of ``holders`` (``Practitioner/x``, ``PractitionerRole/x``,
        ``Organization/x``) has a care relationship with at instant ``at`` (the store's index,
        `fhir_server.care_relationships`)."""
        ...

    async def is_related(self, patient: str, holders: Sequence[str], at: str) -> bool:
        """Whether any of ``holders`` has a care relationship with Patient ``patient`` (an id)
        at instant ``at``."""
        ...

    async def relate(self, patient: str, holder: str, kind: str, start: str) -> None:
        """Record a relationship the data does not show (the organization that creates a
        Patient) in the unit of work under way; RuntimeError outside one."""
        ...


class Access(Protocol):
    """The questions the interaction layer asks, answered for one caller and one `Reader`.

    Whatever the caller may not see is answered as if it did not exist (None, or left out), so
    nothing reveals that it does; what it sees but may not act on is refused (403)."""

    @property
    def subject(self) -> str:
        """Stable id of the caller (for audit), never a token or personal data."""
        ...

    @property
    def unrestricted(self) -> bool:
        """True only when nothing is restricted (``FHIR_AUTH=off``): callers may skip work."""
        ...

    @property
    def acts_for(self) -> str | None:
        """``Organization/x`` the caller acts for (a practitioner's role's, a backend's
        registered one), or None for a caller bound to no organization (a platform client,
        ``FHIR_AUTH=off``): what a claim in a body — a message's sender — is checked against."""
        ...

    @property
    def notes(self) -> list[Issue]:
        """What the caller is told about data withheld from it, when it is allowed to know
        (a search adds them as an OperationOutcome with ``search.mode`` outcome); never
        anything that reveals what, how much or about whom."""
        ...

    def decide(self, type_: str, action: Action) -> Decision:
        """Whether some grant allows ``action`` on ``type_`` at all (which ones: `admit`)."""
        ...

    def require(self, type_: str, action: Action) -> None:
        """403 unless `decide` permits."""
        ...

    def sees_every(self, type_: str) -> bool:
        """Whether no ``type_`` resource is hidden from the caller: only then may it choose
        ids (update-as-create), as whether an id is taken is no secret from it."""
        ...

    async def admit(
        self, stored: StoredResource | None, action: Action = READ
    ) -> StoredResource | None:
        """``stored``, or None when the caller may not ``action`` it (a read answers it as
        unknown). A deletion is judged by the version it deleted."""
        ...

    async def admit_target(
        self, stored: StoredResource | None, action: Action
    ) -> StoredResource | None:
        """The resource a write acts on: ``stored`` when permitted; None when the caller may
        not even see it; 403 when it sees it but may not ``action`` it."""
        ...

    async def admit_all(self, items: list[StoredResource], action: Action) -> list[StoredResource]:
        """The items the caller may ``action``, in their order."""
        ...

    async def narrow(self, query: SearchQuery, action: Action, quiet: bool = False) -> None:
        """Narrow ``query`` to what the caller may ``action`` (so counts and pages stay
        exact). Without any grant: 403, or (``quiet``) a query that finds nothing."""
        ...

    def prepare(self, type_: str, resource: dict[str, Any]) -> dict[str, Any]:
        """The resource as it is to be written, with what the server records about the writer
        (a privacy Consent's recorder, §42); a checked resource, before it is stored."""
        ...

    async def check_written(self, stored: StoredResource, action: Action) -> None:
        """403 unless the caller may ``action`` this version just written (before commit)."""
        ...

    def reader(self, action: Action = VISIBLE) -> ReadById:
        """``read(type, id)`` answering None for what the caller may not ``action``."""
        ...

    def disclose(self, items: list[StoredResource]) -> None:
        """The resources a response carries (search matches and includes, history entries),
        already admitted: the audit records whose data they are."""
        ...

    async def settle(self, interaction: str, type_: str | None, query: str, status: int) -> None:
        """Called once per request (and per batch entry) after the interaction, before
        anything is answered: the audit records the access (``interaction`` as
        http://hl7.org/fhir/restful-interaction names it, the query string, the status).
        Raises when the record cannot be kept (the access is then not answered)."""
        ...


async def judged_content(reader: Reader, stored: StoredResource) -> dict[str, Any] | None:
    """The resource a version shows to an access decision: its content, or — a deletion is
    judged by the version it deleted — that version's; None when there is none."""
    if not stored.deleted:
        return orjson.loads(stored.content or b"{}")
    if stored.version <= 1:
        return None
    before = await reader.vread(stored.type, stored.id, stored.version - 1)
    return await judged_content(reader, before) if before is not None else None


PART_OF_DEPTH = 10
"""How far up ``Organization.partOf`` an organization is followed (a department of a hospital
of a region is three); a longer or cyclic chain is not the caller's."""


async def within(reader: Reader, organization: str | None, ancestor: str) -> bool:
    """Whether Organization ``organization`` (an id) is ``ancestor`` (``Organization/x``) or one
    of its sub-units (its ``partOf`` chain reaches it). The one reading of "an organization
    acts for its sub-units": a MedCom sender's, a Task owner's and requester's."""
    current = organization
    for _ in range(PART_OF_DEPTH):
        if current is None:
            return False
        if f"Organization/{current}" == ancestor:
            return True
        stored = await reader.read("Organization", current)
        content = orjson.loads(stored.content or b"{}") if stored and not stored.deleted else {}
        parent = str((content.get("partOf") or {}).get("reference") or "")
        current = (
            parent.removeprefix("Organization/") if parent.startswith("Organization/") else None
        )
    return False


async def speaks_for(access: Access, reader: Reader, organization: str | None) -> bool:
    """Whether the caller may act in the name of Organization ``organization`` (an id): it acts
    for it, for an organization it is part of (the parent answers for its units, as a MedCom
    sender's does), or for one of its units (a unit acts within its parents, as its care
    relationships do: `Principal.holders`); never for a sibling. A caller bound to no
    organization (a citizen, a practitioner whose token names none of its organizations, a
    platform client) speaks for none; the server's own work (`UNRESTRICTED`) for every one."""
    if access.unrestricted:
        return True
    acts_for = access.acts_for
    if acts_for is None or organization is None:
        return False
    if await within(reader, organization, acts_for):
        return True
    own = acts_for.removeprefix("Organization/")
    return await within(reader, own, f"Organization/{organization}")


class Grant(Protocol):
    """What authentication yields for one caller: bound to a `Reader`, it answers as `Access`."""

    @property
    def subject(self) -> str: ...

    @property
    def client_id(self) -> str | None:
        """The client (app, service) the caller's token was issued to, for the access log;
        None without a token."""
        ...

    @property
    def unrestricted(self) -> bool: ...

    @property
    def held(self) -> dict[str, Any] | None:
        """What `Authenticator.regrant` makes this grant again from, for work that outlives the
        request and the process (a bulk export resumed after a restart): the verified token's
        claims — never the token itself —, ``{}`` for `UNRESTRICTED`; None when it cannot be
        made again (the public grant)."""
        ...

    def bind(self, reader: Reader) -> Access: ...


class Authenticator(Protocol):
    """Turns a request's ``Authorization`` header into a `Grant` (401 when it cannot)."""

    @property
    def mode(self) -> str:
        """``off``, ``smart`` or ``resource-server`` (``FHIR_AUTH``)."""
        ...

    @property
    def public(self) -> Grant:
        """The grant of a caller without a token where none is needed (the
        CapabilityStatement)."""
        ...

    async def authenticate(self, authorization: str | None, base: str) -> Grant: ...

    async def regrant(self, held: dict[str, Any] | None, base: str) -> Grant:
        """The grant `Grant.held` described, as the caller's data places them now (their
        organization, roles); 401 when it cannot be made again."""
        ...

    async def grant_of(self, identity: Mapping[str, str]) -> Grant:
        """The grant of the caller a Subscription recorded as its owner (the server's
        ``urn:fhir-server:subscription-owner`` extension), as it is now: what its notifications
        may carry is decided by it (docs/subscriptions.md)."""
        ...


class _Unrestricted:
    """Everything permitted: ``FHIR_AUTH=off``, and the server's own work (loading data)."""

    __slots__ = ("_reader",)
    subject = "anonymous (FHIR_AUTH=off)"
    client_id = None
    unrestricted = True
    held: dict[str, Any] | None = {}
    acts_for = None
    notes: list[Issue] = []

    def __init__(self, reader: Reader | None = None) -> None:
        self._reader = reader

    def bind(self, reader: Reader) -> Access:
        return _Unrestricted(reader)

    def decide(self, type_: str, action: Action) -> Decision:
        return _PERMIT

    def require(self, type_: str, action: Action) -> None:
        return None

    def sees_every(self, type_: str) -> bool:
        return True

    async def admit(
        self, stored: StoredResource | None, action: Action = READ
    ) -> StoredResource | None:
        return stored

    async def admit_target(
        self, stored: StoredResource | None, action: Action
    ) -> StoredResource | None:
        return stored

    async def admit_all(self, items: list[StoredResource], action: Action) -> list[StoredResource]:
        return items

    async def narrow(self, query: SearchQuery, action: Action, quiet: bool = False) -> None:
        return None

    def prepare(self, type_: str, resource: dict[str, Any]) -> dict[str, Any]:
        return resource

    async def check_written(self, stored: StoredResource, action: Action) -> None:
        return None

    def reader(self, action: Action = VISIBLE) -> ReadById:
        if self._reader is None:
            raise RuntimeError("UNRESTRICTED reads only once bound to a reader")
        return self._reader.read

    def disclose(self, items: list[StoredResource]) -> None:
        return None

    async def settle(self, interaction: str, type_: str | None, query: str, status: int) -> None:
        return None  # the bootstrap wraps it in the audit when audit is on


_PERMIT = Decision(True)
UNRESTRICTED = _Unrestricted()
"""Access (and its grant) when authorization is switched off, or for the server's own work."""


class Open:
    """The authenticator of ``FHIR_AUTH=off``: every caller is `UNRESTRICTED`."""

    mode = "off"
    public: Grant = UNRESTRICTED

    async def authenticate(self, authorization: str | None, base: str) -> Grant:
        return UNRESTRICTED

    async def regrant(self, held: dict[str, Any] | None, base: str) -> Grant:
        return UNRESTRICTED

    async def grant_of(self, identity: Mapping[str, str]) -> Grant:
        return UNRESTRICTED
