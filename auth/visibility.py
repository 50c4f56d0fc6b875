"""Who can see what: the server's own access decision asked, outside any request, for a list of
users and citizens — what `fhir-server demo` prints, so a person trying the demo knows whom to
sign in as for each rule.

Nothing here decides. Each user gets the principal their token would carry (`user_principal`,
as the SMART patient picker builds it: a clinician with ``user/*.rs``, a citizen or relative
with ``patient/*.rs`` in their own or their child's context, no break-the-glass) bound to the
store (`StoreReader`), and each citizen's data is searched through that access's `narrow` — the
filter every FHIR search is narrowed by (scopes ∩ care relationship ∩ consent), at the moment
the decision takes as now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from auth.access.consent import HEALTH, ConsentAccess
from auth.audit import AuditingAccess
from auth.identity import Directory
from auth.principal import CITIZEN, USER_KINDS, Principal, user_principal
from auth.store_reader import StoreReader
from fhir_server import compartment
from fhir_server.access import SEARCH, Access
from fhir_server.config import Settings
from fhir_server.search.registry import KnownParameters
from fhir_server.search.terms import ANY, Filter, ReferenceValue, SearchQuery, TokenValue
from fhir_server.store.base import Store

CLINICIAN_SCOPE = "user/*.rs"
CITIZEN_SCOPE = "patient/*.rs"
_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Seen:
    """What one user sees of one citizen's data (the resources about the citizen:
    `fhir_server.compartment.owners`)."""

    visible: tuple[str, ...]
    """``Type/id`` of each resource the user's searches find, sorted."""
    total: int
    """How many resources about the citizen the store holds (of the types asked)."""
    related: bool = False
    """A health professional with a care relationship with the citizen (the store's index)."""

    @property
    def short(self) -> str:
        """``all``, ``-`` or ``seen/total``, for a table cell."""
        if not self.visible:
            return "-"
        return "all" if len(self.visible) == self.total else f"{len(self.visible)}/{self.total}"

    @property
    def withheld(self) -> bool:
        """Related, yet the citizen's consent keeps some of the data from them."""
        return self.related and len(self.visible) < self.total


@dataclass(frozen=True, slots=True)
class Viewer:
    """A user as the decision places them."""

    username: str
    fhir_user: str
    sector: str | None


@dataclass
class Visibility:
    """Who sees what, decided at ``at``."""

    at: datetime
    viewers: list[Viewer] = field(default_factory=list)
    seen: dict[str, dict[str, Seen]] = field(default_factory=dict)
    """username → patient id → what that user sees of the citizen."""


def _owner(type_: str, patient: str) -> Filter:
    param = compartment.owner_param(type_)
    if param == "_id":
        return Filter("_id", "id", (TokenValue(ANY, patient),))
    assert param is not None
    return Filter(param, "reference", (ReferenceValue("Patient", patient),))


async def _search(store: Store, access: Access | None, type_: str, patient: str) -> list[str]:
    """``Type/id`` of the ``type_`` resources about ``patient`` that a search narrowed by
    ``access`` finds (every one when ``access`` is None), page by page."""
    query = SearchQuery(type_, [_owner(type_, patient)], count=_PAGE)
    if access is not None:
        await access.narrow(query, SEARCH, quiet=True)
    found: list[str] = []
    while True:
        page = await store.search(query)
        found += [f"{type_}/{s.id}" for s in page.items if not s.deleted]
        if page.next_cursor is None:
            return found
        query.after_id = page.next_cursor


async def _related(access: Access, principal: Principal, reader: StoreReader, patient: str) -> bool:
    """Whether the decision judges ``principal`` a health professional with a care
    relationship with ``patient``, at the decision's own instant."""
    access = _consent(access)
    if not isinstance(access, ConsentAccess) or access.mode != HEALTH:
        return False
    return await reader.is_related(patient, principal.holders, access.at)


def _consent(access: Access) -> Access:
    """The consent decision inside the audit's wrapping (which this printout does not use)."""
    return access.inner if isinstance(access, AuditingAccess) else access


async def who_sees_what(
    store: Store,
    params: KnownParameters,
    users: Sequence[tuple[str, str]],
    patients: Sequence[str],
    types: Sequence[str],
) -> Visibility:
    """What each of the (username, fhirUser) ``users`` may see of each citizen's resources of
    ``types`` (those about no patient are left out), as the server decides now."""
    directory = Directory(store)
    reader = StoreReader(store, params, Settings(audit=False))  # a demo's printout: no audit
    kinds = [t for t in types if compartment.owner_param(t) is not None]
    totals = {p: sum([len(await _search(store, None, t, p)) for t in kinds]) for p in patients}
    out = Visibility(datetime.now(UTC))
    for username, fhir_user in users:
        found = await directory.resolve(fhir_user)
        citizen = USER_KINDS.get(fhir_user.split("/", 1)[0]) == CITIZEN
        principal = user_principal(
            username, fhir_user, found, CITIZEN_SCOPE if citizen else CLINICIAN_SCOPE
        )
        out.viewers.append(Viewer(username, fhir_user, found.sector))
        row: dict[str, Seen] = {}
        for patient in patients:
            access = principal.bind(reader)
            if isinstance(core := _consent(access), ConsentAccess):
                out.at = core.now
            visible = [k for t in kinds for k in await _search(store, access, t, patient)]
            related = await _related(access, principal, reader, patient)
            row[patient] = Seen(tuple(sorted(visible)), totals[patient], related)
        out.seen[username] = row
    return out


def table(found: Visibility, names: Mapping[str, str]) -> list[str]:
    """`who_sees_what` for the console: a row per user, a column per citizen (``names``:
    patient id → the column's title) — ``all``, ``-`` or seen/total of the citizen's
    resources —, then where a care relationship holds and a consent withholds data."""
    width = max(len(v.username) for v in found.viewers) + 1
    when = found.at.strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Who can see what — the server's access decision at {when} (clinicians with "
        f"{CLINICIAN_SCOPE}, citizens and parents with {CITIZEN_SCOPE}; no break-the-glass):",
        (" " * (width + 22) + " ".join(f"{names[p]:7}" for p in names)).rstrip(),
    ]
    for v in found.viewers:
        cells = " ".join(f"{found.seen[v.username][p].short:7}" for p in names)
        lines.append(f"  {v.username:{width}}{v.sector or '?':20}{cells}".rstrip())
    lines.append("Where a care relationship holds and the citizen's consent withholds data:")
    for v in found.viewers:
        for patient, title in names.items():
            cell = found.seen[v.username][patient]
            if cell.withheld:
                lines.append(f"  {v.username} → {title}: {cell.short}")
    return lines
