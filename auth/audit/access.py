"""`AuditingAccess`: any `fhir_server.access.Access`, with every access it admits recorded and,
once the request is settled, written as AuditEvents (`auth.audit.events`) — one per patient
touched and kind of access, FUT-style.

What counts as touched: a resource admitted to a read (`admit`), a resource a response carries
(`disclose`: search matches, includes, history entries; `reader`: includes), the target of a
write (`check_written`, `admit_target` of a delete); whose patients the Patient compartment
says (`fhir_server.compartment.patients`: the Patient itself, every patient a compartment
reference names). AuditEvents themselves are the audit trail, not a citizen's data: reading them
touches no patient (the reader is still audited).

When: a write's events join the write's unit of work at the moment it is checked, so they commit
with it and vanish with it; everything else is recorded in memory and written by `settle`
through the store's `AuditJournal` before the request is answered. Refusals are recorded too
(outcome 4): a 403, and a resource asked for by id that the caller may not see (answered 404).

Besides, `AuditingAccess` keeps the trail the server's own: while audit is on no client may
write an AuditEvent (403 naming AuditEvent, for every token), and the entries labelled
``NotCitizen`` / ``NotGuardian`` are hidden from citizens / relatives (`auth.audit.min_log`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import orjson

from auth.audit import events as ev
from auth.audit.journal import AuditJournal, append_all
from auth.audit.min_log import hidden_label, hides, restriction_filter
from fhir_server import compartment
from fhir_server.access import VISIBLE, Access, Action, Decision, ReadById, Reader
from fhir_server.errors import Forbidden, Issue, Unavailable
from fhir_server.search.terms import SearchQuery
from fhir_server.store.base import StoreBusy
from fhir_server.stored import StoredResource, instant, now_us

if TYPE_CHECKING:
    from auth.principal import Principal

AUDIT_EVENT = "AuditEvent"
_WRITING = frozenset("cud")
_READS = frozenset({"read", "vread"})
_WRITES = {"create": ev.CREATE, "update": ev.UPDATE, "patch": ev.UPDATE, "delete": ev.DELETE}
SERVER_ONLY = (
    "AuditEvents are written by the server only; no client may create, update or delete one"
)


def _patients(stored: StoredResource) -> frozenset[str]:
    """Whose data a version is (an AuditEvent is nobody's: the log is not logged by itself)."""
    return frozenset() if stored.type == AUDIT_EVENT else compartment.PATIENTS_OF.of(stored)


@runtime_checkable
class ConsentDecisions(Protocol):
    """An access that decides by the citizens' consents and says what it decided
    (`auth.access.consent.ConsentAccess`; the audit does not import it: it wraps it)."""

    def consent_decisions(
        self, type_: str | None, touched: set[str], refused: set[str]
    ) -> list[ev.ConsentDecision]: ...


class AuditingAccess:
    """`fhir_server.access.Access`: ``inner``'s decisions, recorded for the audit."""

    __slots__ = ("_refused", "_seen", "_written", "inner", "journal", "principal", "source")

    def __init__(
        self, inner: Access, principal: Principal, source: Reader, journal: AuditJournal | None
    ) -> None:
        """``journal``: where reads' events go; None when audit is off (then nothing is
        recorded, but the Min log's labels still hide what they hide)."""
        self.inner = inner
        self.principal = principal
        self.source = source
        self.journal = journal
        self._seen: dict[tuple[str, str], set[str]] = {}
        """(letters, patient) → ``Type/id`` accessed."""
        self._refused: dict[tuple[str, str | None], set[str]] = {}
        self._written: set[str] = set()
        """Patients whose data this request wrote (their write events say it)."""

    # ---- recording ---------------------------------------------------------------------------

    def _touch(self, stored: StoredResource, letters: str) -> None:
        if self.journal is None:
            return
        for patient in _patients(stored):
            self._seen.setdefault((letters, patient), set()).add(stored.reference)

    def _refuse(self, stored: StoredResource | None, letters: str, type_: str) -> None:
        if self.journal is None:
            return
        found = _patients(stored) if stored is not None else frozenset()
        ref = stored.reference if stored is not None else type_
        for patient in found or (None,):
            self._refused.setdefault((letters, patient), set()).add(ref)

    async def _write_events(self, stored: StoredResource, kind: str, subtype: str) -> None:
        """The events of a write, in the write's unit of work (they commit with it)."""
        if self.journal is None:
            return
        patients = _patients(stored) if not stored.deleted else frozenset()
        actor = await self._actor()
        recorded = instant(now_us())
        out = []
        targets: list[str | None] = [*sorted(patients)] or [None]
        for patient in targets:
            access = ev.Access(kind, subtype, stored.type, patient, data=(stored.reference,))
            out.append(ev.audit_event(actor, access, self.source.base_url, recorded))
        self._written |= patients
        uow = self.source.uow
        if uow is None:  # not reached: every write runs in a unit of work
            await self._append(out)
        else:
            await append_all(out, uow)

    async def _append(self, events: list[dict[str, Any]]) -> None:
        assert self.journal is not None
        try:
            await self.journal.append(events)
        except StoreBusy as err:
            raise Unavailable(
                f"The audit trail could not be written ({err}); retry the request"
            ) from err

    async def _actor(self) -> ev.Actor:
        """Who the caller is, as the events name them: looked up once per principal."""
        key = ("audit", "actor")
        known = self.principal.decisions.get(key)
        if known is None:
            known = self.principal.decisions[key] = await actor_of(self.principal, self.source)
        assert isinstance(known, ev.Actor)
        return known

    # ---- the seam ----------------------------------------------------------------------------

    @property
    def subject(self) -> str:
        return self.inner.subject

    @property
    def unrestricted(self) -> bool:
        return self.inner.unrestricted

    @property
    def acts_for(self) -> str | None:
        return self.inner.acts_for

    @property
    def notes(self) -> list[Issue]:
        return self.inner.notes

    def _server_only(self, type_: str, action: Action) -> bool:
        return self.journal is not None and type_ == AUDIT_EVENT and not _WRITING.isdisjoint(action)

    def decide(self, type_: str, action: Action) -> Decision:
        if self._server_only(type_, action):
            return Decision(False, SERVER_ONLY)
        return self.inner.decide(type_, action)

    def require(self, type_: str, action: Action) -> None:
        try:
            if self._server_only(type_, action):
                raise Forbidden(SERVER_ONLY, [AUDIT_EVENT])
            self.inner.require(type_, action)
        except Forbidden:
            self._refuse(None, action, type_)
            raise

    def sees_every(self, type_: str) -> bool:
        return self.inner.sees_every(type_)

    def _hidden(self, stored: StoredResource) -> bool:
        return stored.type == AUDIT_EVENT and hides(self.principal, stored)

    async def admit(
        self, stored: StoredResource | None, action: Action = "r"
    ) -> StoredResource | None:
        found = await self.inner.admit(stored, action)
        if found is not None and self._hidden(found):
            found = None
        if stored is not None:
            if found is None:
                self._refuse(stored, action, stored.type)
            else:
                self._touch(found, action)
        return found

    async def admit_target(
        self, stored: StoredResource | None, action: Action
    ) -> StoredResource | None:
        if stored is not None and self._server_only(stored.type, action):
            self._refuse(None, action, AUDIT_EVENT)
            raise Forbidden(SERVER_ONLY, [AUDIT_EVENT])
        try:
            found = await self.inner.admit_target(stored, action)
        except Forbidden:
            self._refuse(stored, action, stored.type if stored else "")
            raise
        if found is not None and self._hidden(found):
            found = None
        if stored is not None and found is None:
            self._refuse(stored, action, stored.type)
        elif found is not None:
            if "d" in action:
                await self._write_events(found, ev.DELETE, "delete")
            elif _WRITING.isdisjoint(action):
                self._touch(found, action)
        return found

    async def admit_all(self, items: list[StoredResource], action: Action) -> list[StoredResource]:
        found = await self.inner.admit_all(items, action)
        return [s for s in found if not self._hidden(s)]

    async def narrow(self, query: SearchQuery, action: Action, quiet: bool = False) -> None:
        await self.inner.narrow(query, action, quiet)
        if query.type == AUDIT_EVENT:
            label = hidden_label(self.principal)
            if label is not None:
                query.filters.append(restriction_filter(label))

    async def check_written(self, stored: StoredResource, action: Action) -> None:
        if self._server_only(stored.type, action):
            self._refuse(None, action, AUDIT_EVENT)
            raise Forbidden(SERVER_ONLY, [AUDIT_EVENT])
        try:
            await self.inner.check_written(stored, action)
        except Forbidden:
            self._refuse(stored, action, stored.type)
            raise
        kind = ev.CREATE if stored.version == 1 or action == "c" else ev.UPDATE
        subtype = "patch" if stored.method == "PATCH" else kind.lower()
        await self._write_events(stored, kind, subtype)

    def reader(self, action: Action = VISIBLE) -> ReadById:
        read = self.inner.reader(action)

        async def audited_read(type_: str, id_: str) -> StoredResource | None:
            found = await read(type_, id_)
            if found is None or self._hidden(found):
                return None
            self._touch(found, "s")
            return found

        return audited_read

    def prepare(self, type_: str, resource: dict[str, Any]) -> dict[str, Any]:
        return self.inner.prepare(type_, resource)

    def disclose(self, items: list[StoredResource]) -> None:
        for stored in items:
            self._touch(stored, "s")

    async def settle(self, interaction: str, type_: str | None, query: str, status: int) -> None:
        seen, refused, written = self._seen, self._refused, self._written
        self._seen, self._refused, self._written = {}, {}, set()
        if self.journal is None or interaction == "capabilities":
            return
        accesses: list[ev.Access] = []
        searching = interaction.startswith(("search", "history"))
        if status < 400:
            patients: dict[tuple[str, str], set[str]] = {}
            for (letters, patient), refs in seen.items():
                if patient in written:
                    continue
                kind = _kind(interaction, letters)
                patients.setdefault((kind, patient), set()).update(refs)
            for (kind, patient), refs in sorted(patients.items()):
                data = () if kind == ev.QUERY else tuple(sorted(refs))
                sub = interaction if kind != ev.READ or interaction in _READS else "read"
                if kind == ev.QUERY and not searching:
                    sub = "search-type"
                accesses.append(ev.Access(kind, sub, type_, patient, data=data, query=query))
            if searching and not patients:
                accesses.append(ev.Access(ev.QUERY, interaction, type_, None, query=query))
        for (letters, about), refs in sorted(refused.items(), key=_refusal_order):
            kind = _WRITES.get(interaction) or _kind(interaction, letters)
            sub = interaction if interaction in INTERACTION_CODES else "read"
            data = () if kind == ev.QUERY else tuple(sorted(r for r in refs if "/" in r))
            accesses.append(ev.Access(kind, sub, type_, about, ev.REFUSED, data=data, query=query))
        if status == 403 and not refused:
            kind = _WRITES.get(interaction) or (ev.QUERY if searching else ev.READ)
            sub = interaction if interaction in INTERACTION_CODES else "read"
            accesses.append(ev.Access(kind, sub, type_, None, ev.REFUSED, query=query))
        if interaction.startswith("$"):
            accesses = [_as_operation(a, interaction) for a in accesses]
        if type_ == AUDIT_EVENT:  # reading the trail: internal entries
            accesses = [_internal(a) for a in accesses]
        decisions = self._consent_decisions(type_, seen, refused, status)
        if not accesses and not decisions:
            return
        actor = await self._actor()
        recorded = instant(now_us())
        base = self.source.base_url
        events = [ev.audit_event(actor, a, base, recorded) for a in accesses]
        events += [ev.authz_event(actor, d, base, recorded) for d in decisions]
        await self._append(events)

    def _consent_decisions(
        self,
        type_: str | None,
        seen: dict[tuple[str, str], set[str]],
        refused: dict[tuple[str, str | None], set[str]],
        status: int,
    ) -> list[ev.ConsentDecision]:
        """The consent decisions (AuthZ-Consent) about the patients this request touched or
        was refused about, when the access decides by consent (`ConsentDecisions`)."""
        if not isinstance(self.inner, ConsentDecisions):
            return []
        touched = {patient for _, patient in seen} if status < 400 else set()
        about = {patient for _, patient in refused if patient is not None}
        return self.inner.consent_decisions(type_, touched, about)


INTERACTION_CODES = frozenset(
    {"read", "vread", "update", "patch", "delete", "create", "search-type", "search-system"}
    | {"history-instance", "history-type", "history-system", "batch"}
)


def _kind(interaction: str, letters: str) -> str:
    if interaction in _READS:
        return ev.READ
    if interaction.startswith(("search", "history")):
        return ev.QUERY
    return ev.READ if letters == "r" else ev.QUERY


def _refusal_order(item: tuple[tuple[str, str | None], set[str]]) -> tuple[str, str]:
    (letters, patient), _ = item
    return letters, patient or ""


def _as_operation(access: ev.Access, name: str) -> ev.Access:
    return ev.Access(
        ev.OPERATION,
        name,
        access.type,
        access.patient,
        access.outcome,
        access.data,
        access.query,
        access.labels,
    )


def _internal(access: ev.Access) -> ev.Access:
    labels = (ev.NOT_CITIZEN, ev.NOT_GUARDIAN)
    return ev.Access(
        access.kind,
        access.subtype,
        access.type,
        access.patient,
        access.outcome,
        access.data,
        access.query,
        labels,
    )


async def actor_of(principal: Principal, source: Reader) -> ev.Actor:
    """The principal as the events name it; the person's and organization's names read from
    the store (the server's own look-up, not the caller's)."""
    person = principal.fhir_user
    role: str | None = principal.role
    name = None
    if person is not None:
        name = await _name(source, person)
        if name is None and person.startswith("PractitionerRole/"):
            resource = await _resource(source, person)
            practitioner = (resource or {}).get("practitioner", {}).get("reference")
            if isinstance(practitioner, str):
                role, name = person, await _name(source, practitioner)
    organization = principal.organization
    organization_name = await _name(source, organization) if organization else None
    return ev.Actor(
        subject=principal.subject,
        person=person,
        name=name,
        role=role,
        organization=organization,
        organization_name=organization_name,
        sector=principal.sector,
        client_id=principal.client_id,
        token_id=principal.token_id,
        purpose=principal.purpose,
        btg_reason=principal.btg_reason,
    )


async def _resource(source: Reader, reference: str) -> dict[str, Any] | None:
    type_, _, id_ = reference.partition("/")
    stored = await source.store.read(type_, id_) if id_ else None
    if stored is None or stored.content is None:
        return None
    found = orjson.loads(stored.content)
    return found if isinstance(found, dict) else None


async def _name(source: Reader, reference: str) -> str | None:
    """A person's or organization's name as people read it (``name.text``, or given and
    family names; an Organization's ``name``)."""
    resource = await _resource(source, reference)
    if resource is None:
        return None
    name = resource.get("name")
    if isinstance(name, str):
        return name
    for human in name if isinstance(name, list) else ():
        if not isinstance(human, dict):
            continue
        if isinstance(human.get("text"), str):
            return str(human["text"])
        parts = [*(human.get("given") or []), human.get("family")]
        text = " ".join(p for p in parts if isinstance(p, str))
        if text:
            return text
    return None
