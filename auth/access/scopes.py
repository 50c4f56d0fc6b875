"""Access decisions from SMART scopes: `ScopeAccess` answers the interaction layer's questions
(`fhir_server.access.Access`) for one principal, reading the store through a `Reader`.

- `require`: may the principal do this kind of interaction on this type at all (else 403)?
- `visible` / `keep`: may it see (or change) these resources — each in the patient's
  compartment where a ``patient/`` scope applies, and matching a query-filtered scope's query?
- `restrict`: the same decision as filters pushed into a search, so counts (``_total``) and
  pages stay exact: the patient's compartment as an ``_id`` filter (the union of searches on the
  compartment's parameters, as the compartment search does), a scope's query as its filters.

How scopes combine: a resource is permitted when *any* scope granting the letter permits it.
A ``patient/`` scope limits to the patient's compartment (R4 CompartmentDefinition/patient) only
for types that have one; ``patient/Medication.rs``, ``patient/Practitioner.rs`` and the like
grant those shared resources outright (as SMART apps expect: `SHARED_TYPES`) — but no resource
of the other types outside the compartment (a Binary, a Bundle, a Device), which may hold a
person's data the compartment cannot place. A ``user/`` scope of a citizen
(``fhirUser`` a Patient or RelatedPerson) is limited to their patient's compartment too; a
``user/`` scope of a user of unknown kind (no ``fhirUser``, or one we cannot place) grants nothing.

Writing (``c``, ``u``, ``d``) is narrower than reading (`_may_write`): conformance resources
(`CONFORMANCE_TYPES`) only through ``system/`` scopes; the directory (`DIRECTORY_TYPES`) through
``system/`` scopes and clinicians' ``user/`` scopes; a ``patient/`` scope (or a citizen's
``user/`` scope) writes nothing without a patient compartment, and inside one only its patient's
*own* resources (`owner_problem`: the resource's subject/patient is that patient, and no
compartment reference names another patient) — being its performer or recipient is not enough.

A query-filtered scope is matched by the store (``_id`` plus the scope's query), so it means
exactly what the same search means; the store indexes current versions, so a past version (vread,
history) is judged by its resource's current version for the query part.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from typing import Any

from auth.principal import CITIZEN, CLINICIAN, Principal, usable
from fhir_server import compartment
from fhir_server.access import VISIBLE, Action, Decision, ReadById, Reader, judged_content
from fhir_server.errors import Forbidden, Issue
from fhir_server.resource_types import CONFORMANCE_TYPES, DIRECTORY_TYPES, SHARED_TYPES
from fhir_server.search.fhirpath import Evaluator, compile_expression
from fhir_server.search.params.reference import split_reference
from fhir_server.search.registry import builtin_params
from fhir_server.search.resolve import INNER_LIMIT, TooCostly, build_query
from fhir_server.search.terms import NOTHING, Criterion, SearchQuery, ids_filter
from fhir_server.stored import StoredResource
from fhir_server.subscriptions.spec import OWNER

_NAMES = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}
_READING = frozenset("rs")


@dataclass(frozen=True, slots=True)
class Clause:
    """One way to be permitted: in this patient's compartment (if set) and matching the query;
    with ``owner`` (a patient's write), the patient's own resource (`owner_problem`)."""

    patient: str | None
    query: tuple[tuple[str, str], ...]
    owner: bool = False


@cache
def _roles(type_: str) -> tuple[tuple[str, bool, Evaluator], ...]:
    """(element, names the patient, evaluator) of each parameter that puts a ``type_`` in a
    patient's compartment; the element is for messages (``CarePlan.subject``)."""
    known = builtin_params(type_)
    owner = compartment.owner_param(type_)
    out = []
    found = compartment.params("Patient", type_)
    extra = (owner,) if owner is not None and owner != "_id" and owner not in found else ()
    for param in (*found, *extra):
        expression = known[param].expression if param in known else None
        if expression:
            element = expression.split(" | ")[0].split(".where(")[0]
            evaluate = compile_expression(expression, type_)
            out.append((element, param == owner, evaluate))
    return tuple(out)


def owner_problem(type_: str, resource: dict[str, Any], patient: str) -> str | None:
    """None when ``resource`` is ``Patient/patient``'s own — a Patient with that id, or a
    resource whose subject/patient refers to it — and no compartment reference names another
    patient (the write would land in their chart); else the element that is in the way."""
    owned = type_ == "Patient" and resource.get("id") == patient
    missing = f"{type_}.id" if type_ == "Patient" else None
    for element, names_patient, evaluate in _roles(type_):
        for ref in evaluate(resource):
            text = ref.get("reference") if isinstance(ref, dict) else None
            found_type, found_id, _ = split_reference(text if isinstance(text, str) else "")
            if found_type != "Patient":
                continue
            if found_id != patient:
                return element
            owned = owned or names_patient
        if names_patient and missing is None:
            missing = element
    return None if owned else missing or type_


def clauses(principal: Principal, type_: str, letters: str) -> list[Clause] | None:
    """None: every ``type_`` resource is permitted; else the clauses (none: nothing is).
    Remembered on the principal, which lives as long as its token is in use."""
    key = (type_, letters)
    known = principal.decisions.get(key, _UNKNOWN)
    if known is _UNKNOWN:
        known = principal.decisions[key] = _clauses(principal, type_, letters)
    return known


_UNKNOWN = object()


def _clauses(principal: Principal, type_: str, letters: str) -> list[Clause] | None:
    kind = principal.user_kind
    if type_ == "Subscription":
        return _own_subscriptions(principal, letters)
    has_compartment = compartment.has_compartment(type_)
    out: list[Clause] = []
    for scope in usable(principal, type_, letters):
        if scope.context == "user" and kind is None:
            continue  # fail closed: a user we cannot place is granted nothing
        limited = scope.context == "patient" or (scope.context == "user" and kind == CITIZEN)
        if limited and principal.patient is None:
            continue  # a citizen without a known patient may see nobody's data
        if limited and not has_compartment and type_ not in SHARED_TYPES:
            continue  # may hold someone's data the compartment cannot place (a Binary)
        writing = _READING.isdisjoint(scope.letters.intersection(letters))
        if writing and not _may_write(scope.context, kind, type_, limited, has_compartment):
            continue
        patient = principal.patient if limited and has_compartment else None
        clause = Clause(patient, scope.query, owner=writing and patient is not None)
        if patient is None and not clause.query:
            return None
        if clause not in out:
            out.append(clause)
    return out


def _own_subscriptions(principal: Principal, letters: str) -> list[Clause]:
    """A client manages its own Subscriptions only (whatever its scopes' context: ``system/``
    or a placed user's ``user/``; a ``patient/`` scope none): those whose owner tag is its
    own (`prepare` sets it on every write), a query the store matches like a scope's."""
    for scope in usable(principal, "Subscription", letters):
        if scope.context == "system" or (scope.context == "user" and principal.user_kind):
            return [Clause(None, (("_tag", f"{OWNER}|{owner_tag(principal)}"),))]
    return []


def owner_tag(principal: Principal) -> str:
    """The owner tag of a principal's Subscriptions: a hash of its client and subject (no
    personal data in an index)."""
    text = f"{principal.client_id or ''}\n{principal.subject}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def owned(principal: Principal, resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` (a Subscription) recording ``principal`` as its owner: the extension
    delivery rebuilds its grant from and the tag its searches are narrowed by; whatever the
    caller sent in their place is dropped."""
    meta = dict(resource.get("meta") or {})
    tags = [
        t for t in meta.get("tag", []) if not (isinstance(t, dict) and t.get("system") == OWNER)
    ]
    meta["tag"] = [*tags, {"system": OWNER, "code": owner_tag(principal)}]
    extension = [
        e
        for e in resource.get("extension", [])
        if not (isinstance(e, dict) and e.get("url") == OWNER)
    ]
    parts = [{"url": k, "valueString": v} for k, v in sorted(principal.identity.items())]
    return {**resource, "meta": meta, "extension": [*extension, {"url": OWNER, "extension": parts}]}


def _may_write(
    context: str, kind: str | None, type_: str, limited: bool, has_compartment: bool
) -> bool:
    """Whether a scope of ``context`` may write ``type_`` at all (which ones: the clause)."""
    if type_ in CONFORMANCE_TYPES:
        return context == "system"
    if type_ in DIRECTORY_TYPES:
        return context == "system" or (context == "user" and kind == CLINICIAN)
    return has_compartment or not limited


def _why_not(principal: Principal, type_: str, letters: str) -> str:
    """Why scopes that name ``type_`` and ``letters`` grant nothing (for the 403's text)."""
    scopes = usable(principal, type_, letters)
    if not scopes:
        return ""
    if principal.user_kind is None and any(s.context == "user" for s in scopes):
        unknown = "; user/ scopes need a fhirUser naming a Patient, RelatedPerson, Practitioner"
        return unknown + " or PractitionerRole"
    if not compartment.has_compartment(type_) and type_ not in SHARED_TYPES:
        return (
            f"; {type_} may hold a person's data outside the Patient compartment: patient/"
            " scopes and citizens' user/ scopes grant none"
        )
    if not _READING.isdisjoint(letters):
        return ""
    if type_ in CONFORMANCE_TYPES:
        return f"; {type_} changes what the server does and is written by administrators only"
    if type_ in DIRECTORY_TYPES:
        return f"; {type_} is written by clinicians and administrators only"
    return (
        "; patient/ scopes and citizens' user/ scopes write only their patient's own data"
        f" ({type_} has no patient compartment)"
    )


def _letters(letters: str) -> str:
    return " or ".join(f"{_NAMES[c]} ({c})" for c in letters)


def decide(principal: Principal, type_: str, letters: str) -> Decision:
    """Whether some scope grants one of ``letters`` on ``type_``; if none, why not."""
    if permits_any(principal, type_, letters):
        return _PERMIT
    return Decision(
        False,
        f"The access token grants no {_letters(letters)} access to {type_}"
        f" (scopes granted: {' '.join(principal.scopes.raw) or 'none'}"
        f"{_why_not(principal, type_, letters)})",
    )


_PERMIT = Decision(True)


def require(principal: Principal, type_: str, letters: str) -> None:
    """403 unless some scope grants one of ``letters`` on ``type_``."""
    decision = decide(principal, type_, letters)
    if not decision.permit:
        raise Forbidden(decision.reason, [type_])


def permits_any(principal: Principal, type_: str, letters: str) -> bool:
    return principal.unrestricted or clauses(principal, type_, letters) != []


# ---- single resources and lists ------------------------------------------------------------


async def _content(ctx: ScopeAccess, stored: StoredResource) -> dict[str, Any] | None:
    return await judged_content(ctx.source, stored)


async def keep(ctx: ScopeAccess, letters: str, items: list[StoredResource]) -> list[StoredResource]:
    """The items the principal may see (or change) with ``letters``, in their order."""
    if ctx.principal.unrestricted or not items:
        return items
    allowed: set[int] = set()
    for type_ in {s.type for s in items}:
        group = [s for s in items if s.type == type_]
        found = clauses(ctx.principal, type_, letters)
        if found is None:
            allowed |= {id(s) for s in group}
        elif found:
            allowed |= await _permitted(ctx, type_, group, found)
    return [s for s in items if id(s) in allowed]


async def _permitted(
    ctx: ScopeAccess, type_: str, group: list[StoredResource], found: list[Clause]
) -> set[int]:
    contents = {id(s): await _content(ctx, s) for s in group}
    pending = [s for s in group if contents[id(s)] is not None]
    out: set[int] = set()
    for clause in found:
        if clause.patient is not None:
            hits = [s for s in pending if _admits(clause, type_, contents[id(s)] or {})]
        else:
            hits = list(pending)
        if clause.query and hits:
            matching = await _matching(ctx, type_, {s.id for s in hits}, clause.query)
            hits = [s for s in hits if s.id in matching]
        out |= {id(s) for s in hits}
        pending = [s for s in pending if id(s) not in out]
    return out


def _admits(clause: Clause, type_: str, content: dict[str, Any]) -> bool:
    """Whether ``content`` is in the clause's patient's compartment (their own, to write)."""
    assert clause.patient is not None
    if clause.owner:
        return owner_problem(type_, content, clause.patient) is None
    return compartment.in_compartment(type_, content, clause.patient)


async def visible(ctx: ScopeAccess, letters: str, stored: StoredResource) -> bool:
    """`keep` for one resource, without the bookkeeping (this is on every read's path)."""
    if ctx.principal.unrestricted:
        return True
    found = clauses(ctx.principal, stored.type, letters)
    if found is None or not found:
        return found is None
    own_patient = stored.type == "Patient" and not stored.deleted
    content: dict[str, Any] | None = None
    for clause in found:
        itself = own_patient and stored.id == clause.patient and not clause.owner
        if clause.patient is not None and not itself:
            if content is None:
                content = await _content(ctx, stored)
            if content is None or not _admits(clause, stored.type, content):
                continue
        if not clause.query or await _matching(ctx, stored.type, {stored.id}, clause.query):
            return True
    return False


async def check(ctx: ScopeAccess, letters: str, stored: StoredResource) -> None:
    """403 unless the principal may act (``letters``) on this resource (as stored)."""
    if not await visible(ctx, letters, stored):
        raise Forbidden(
            f"The access token does not permit {_letters(letters)} of {stored.reference}"
            f" ({_outside(ctx.principal, stored.type, letters)})",
            [stored.reference],
        )


def _outside(principal: Principal, type_: str, letters: str) -> str:
    if any(c.owner for c in clauses(principal, type_, letters) or ()):
        return f"not Patient/{principal.patient}'s own, or outside the scopes' queries"
    if principal.patient:
        return f"outside Patient/{principal.patient}'s compartment or the scopes' queries"
    return "outside the scopes' queries"


async def check_written(ctx: ScopeAccess, letters: str, stored: StoredResource) -> None:
    """`check` of a version just written (before it is committed): a patient's write of
    content that is not their own names the element in the way."""
    if await visible(ctx, letters, stored):
        return
    owners = [c for c in clauses(ctx.principal, stored.type, letters) or () if c.owner]
    content = await _content(ctx, stored) if owners else None
    if owners and content is not None:
        patient = owners[0].patient or ""
        element = owner_problem(stored.type, content, patient)
        if element is not None:
            raise Forbidden(
                f"The access token writes only Patient/{patient}'s own data: the resource's"
                f" subject/patient must be Patient/{patient} and it may refer to no other"
                f" patient ({element})",
                [element],
            )
    await check(ctx, letters, stored)


async def shown(
    ctx: ScopeAccess, stored: StoredResource | None, letters: str = "r"
) -> StoredResource | None:
    """``stored``, or None when the principal may not see it: a read answers such a resource
    as if it did not exist, so nothing reveals that it does (nor that it was deleted)."""
    if stored is None or ctx.principal.unrestricted:
        return stored
    return stored if await visible(ctx, letters, stored) else None


async def target(
    ctx: ScopeAccess, letters: str, stored: StoredResource | None
) -> StoredResource | None:
    """The resource a write by id (or a conditional write's match) acts on, as the principal
    may know it: ``stored`` when it may act (``letters``) on it; None when it may not even see
    it — the write then answers exactly as for an id no resource has, so nothing reveals that
    it exists (nor that it was deleted); 403 when it sees it but may not act on it. A deletion
    is judged by the version it deleted."""
    if stored is None or ctx.principal.unrestricted or await visible(ctx, letters, stored):
        return stored
    if await visible(ctx, VISIBLE, stored):
        await check(ctx, letters, stored)
    return None


def sees_every(principal: Principal, type_: str) -> bool:
    """Whether no ``type_`` resource is hidden from the principal (some read, search or update
    scope on the type is unrestricted): only then may it choose ids (update-as-create), as
    whether an id is taken is no secret from it."""
    return principal.unrestricted or clauses(principal, type_, VISIBLE + "u") is None


def reader(ctx: ScopeAccess, letters: str = VISIBLE) -> ReadById:
    """``read(type, id)`` that answers None for what the principal may not see (for
    ``_include``: a resource the token may not see is left out)."""

    async def read(type_: str, id_: str) -> StoredResource | None:
        return await shown(ctx, await ctx.source.read(type_, id_), letters)

    return read


# ---- searches ------------------------------------------------------------------------------


async def restrict(ctx: ScopeAccess, query: SearchQuery, letters: str, quiet: bool = False) -> None:
    """Narrow ``query`` to what the principal may see with ``letters``. Without any such scope:
    403, or (``quiet``, for inner searches and includes) a query that finds nothing."""
    principal = ctx.principal
    if principal.unrestricted:
        return
    found = clauses(principal, query.type, letters)
    if found is None:
        return
    if not found:
        if not quiet:
            require(principal, query.type, letters)
        query.filters.append(NOTHING)
    elif len(found) == 1 and found[0].patient is None:
        query.filters += await _filters(ctx, query.type, list(found[0].query))
    else:
        ids: set[str] = set()
        for clause in found:
            ids |= await _clause_ids(ctx, query.type, clause)
        query.filters.append(ids_filter(ids))


async def _all(ctx: ScopeAccess, query: SearchQuery) -> list[StoredResource]:
    """Every match, unrestricted (the policy's own look-ups), at most INNER_LIMIT + 1."""
    query.count = INNER_LIMIT + 1
    out: list[StoredResource] = []
    while True:
        page = await ctx.source.search(query)
        out += page.items
        if page.next_cursor is None or len(out) > INNER_LIMIT:
            return out
        query.after_id = page.next_cursor


async def _query(ctx: ScopeAccess, type_: str, pairs: list[tuple[str, str]]) -> SearchQuery:
    async def search(query: SearchQuery) -> list[StoredResource]:
        return await _all(ctx, query)

    limit = INNER_LIMIT + 1
    return await build_query(
        search,
        type_,
        pairs,
        params=ctx.source.params,
        default_count=limit,
        max_count=limit,
        base=ctx.source.base_url,
    )


async def _filters(ctx: ScopeAccess, type_: str, pairs: list[tuple[str, str]]) -> list[Criterion]:
    return (await _query(ctx, type_, pairs)).filters


async def _ids(ctx: ScopeAccess, type_: str, pairs: list[tuple[str, str]]) -> set[str]:
    found = await _all(ctx, await _query(ctx, type_, pairs))
    if len(found) > INNER_LIMIT:
        raise TooCostly(
            f"The access token's scopes on {type_} admit more than {INNER_LIMIT} resources"
            " to one search; narrow the search",
            [type_],
        )
    return {s.id for s in found}


async def _clause_ids(ctx: ScopeAccess, type_: str, clause: Clause) -> set[str]:
    query = list(clause.query)
    if clause.patient is None:
        return await _ids(ctx, type_, query)
    ids: set[str] = set()
    if type_ == "Patient":
        ids |= await _ids(ctx, type_, [("_id", clause.patient), *query])
    owner = compartment.owner_param(type_)
    found = compartment.params("Patient", type_)
    for param in (owner,) if clause.owner else found:  # a write's look-up: the own only
        if param is not None and param != "_id":
            ids |= await _ids(ctx, type_, [(param, f"Patient/{clause.patient}"), *query])
    return ids


async def _matching(
    ctx: ScopeAccess, type_: str, ids: set[str], query: tuple[tuple[str, str], ...]
) -> set[str]:
    """Which of ``ids`` match a scope's query, asked of the store (chunked)."""
    out: set[str] = set()
    ordered = sorted(ids)
    for i in range(0, len(ordered), 100):
        chunk = ",".join(ordered[i : i + 100])
        out |= await _ids(ctx, type_, [("_id", chunk), *query])
    return out


# ---- the seam ------------------------------------------------------------------------------


class ScopeAccess:
    """`fhir_server.access.Access` from a principal's SMART scopes, for one `Reader`."""

    __slots__ = ("principal", "source")

    def __init__(self, principal: Principal, source: Reader) -> None:
        self.principal = principal
        self.source = source

    @property
    def subject(self) -> str:
        return self.principal.subject

    @property
    def unrestricted(self) -> bool:
        return self.principal.unrestricted

    @property
    def acts_for(self) -> str | None:
        return self.principal.organization

    @property
    def notes(self) -> list[Issue]:
        return []

    def decide(self, type_: str, action: Action) -> Decision:
        return decide(self.principal, type_, action)

    def require(self, type_: str, action: Action) -> None:
        require(self.principal, type_, action)

    def sees_every(self, type_: str) -> bool:
        return sees_every(self.principal, type_)

    async def admit(
        self, stored: StoredResource | None, action: Action = "r"
    ) -> StoredResource | None:
        return await shown(self, stored, action)

    async def admit_target(
        self, stored: StoredResource | None, action: Action
    ) -> StoredResource | None:
        return await target(self, action, stored)

    async def admit_all(self, items: list[StoredResource], action: Action) -> list[StoredResource]:
        return await keep(self, action, items)

    async def narrow(self, query: SearchQuery, action: Action, quiet: bool = False) -> None:
        await restrict(self, query, action, quiet)

    def prepare(self, type_: str, resource: dict[str, Any]) -> dict[str, Any]:
        if type_ == "Subscription":
            return owned(self.principal, resource)
        return resource

    async def check_written(self, stored: StoredResource, action: Action) -> None:
        await check_written(self, action, stored)

    def reader(self, action: Action = VISIBLE) -> ReadById:
        return reader(self, action)

    def disclose(self, items: list[StoredResource]) -> None:
        return None  # `auth.audit.AuditingAccess` records

    async def settle(self, interaction: str, type_: str | None, query: str, status: int) -> None:
        return None  # `auth.audit.AuditingAccess` records
