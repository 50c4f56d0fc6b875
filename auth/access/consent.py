"""Cross-sector access: the care relationship and the citizen's consents (sundhedsloven §42a).

`ConsentAccess` answers the interaction layer's questions (`fhir_server.access.Access`) after the
SMART scopes (`ScopeAccess`, its ``inner``: both must permit). A resource about a patient
(`fhir_server.compartment.owners`) is visible when the caller may see that patient's data of
that kind:

- a **health professional** (or an organization's backend in a health sector): a care
  relationship the data shows (`fhir_server.care_relationships`, an index lookup) or a
  break-the-glass for the patient in the token's context, then the citizen's blocks
  (`auth.consent.view`) — a break-the-glass overrides them;
- a **non-health** party (municipal social services, PPR, job centre, school — or a practitioner
  whose sector the data does not show): only what an in-force disclosure-permit naming it
  covers;
- a **parent** (RelatedPerson user): their child, with custody, under 15 — from 15 only what the
  young person permits (`auth.consent.guardian_may_read`).

Citizens (Patient users) and platform backends (``system/`` scopes without an organization) are
the scopes' alone (`mode_of`). Resources about no patient — the directory, conformance
resources — are the scopes' alone too; a resource of a type with a patient compartment that is
about no patient is not shown to a restricted caller (a search narrowed to "about one of these
patients" could not find it either).

Every question is answered the same way for one resource (`admit`) and for a search (`narrow`,
pushed into the store query as the owner parameter among the visible patients and, per patient
whose view is narrowed, the data its consents exclude), so counts and pages stay exact.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from auth.audit import events as ev
from auth.consent import (
    View,
    age_on,
    consent_write_problem,
    guardian_may_read,
    has_custody,
    recorded,
    view,
)
from auth.consent.rules import OPEN_HIGH, OPEN_LOW, bounds, is_privacy, us
from auth.consent.view import Actor, Match, Restriction
from fhir_server import compartment
from fhir_server.access import VISIBLE, Access, Action, Decision, ReadById, Reader, judged_content
from fhir_server.care_relationships import PATIENT_CREATOR
from fhir_server.errors import Forbidden, Issue
from fhir_server.search.resolve import build_query
from fhir_server.search.terms import (
    ANY,
    NOTHING,
    Criterion,
    Filter,
    FilterGroup,
    ReferenceValue,
    RelatedTo,
    SearchQuery,
    TokenValue,
    owner_filter,
)
from fhir_server.store.base import Store
from fhir_server.stored import StoredResource

if TYPE_CHECKING:
    from auth.principal import Principal

HEALTH = "health"
NON_HEALTH = "non-health"
GUARDIAN = "guardian"
CITIZEN = "citizen"

EVERYTHING = View(permit_only=False)
"""The view of a patient no consent narrows (and of a break-the-glass)."""

_CHUNK = 500
"""Patients per Consent look-up (a search's value list)."""
_NAMED_LIMIT = 50
"""A search naming at most this many patients by its owner parameter judges only those."""
_CONSENT_LIMIT = 10_000
"""Consents one decision reads at most (a region has far fewer per caller)."""


_KEPT_PATIENTS = 20_000
"""Patients whose Consents a process keeps between requests at most (`_patient_consents`)."""
_KEPT_CONSENTS: weakref.WeakKeyDictionary[Store, tuple[int, dict[str, list[dict[str, Any]]]]] = (
    weakref.WeakKeyDictionary()
)
"""Per store: the data generation they were read at, and the active Consents per patient."""


def mode_of(principal: Principal) -> str | None:
    """How relationships and consents restrict ``principal``: None for the unrestricted and for
    backends without an organization (platform work: loading, integration, administration —
    still audited). A citizen sees their own data (as the scopes say too) and manages their own
    consents from 15."""
    if principal.unrestricted:
        return None
    kind = (principal.person or principal.fhir_user or "").split("/", 1)[0]
    if kind == "Patient":
        return CITIZEN if principal.patient else None
    if kind == "RelatedPerson":
        return GUARDIAN
    if principal.health_professional:
        return HEALTH
    if kind in ("Practitioner", "PractitionerRole"):
        return NON_HEALTH  # a practitioner the data does not place in a health sector
    if principal.organization is not None:  # an organization's backend service
        return HEALTH if principal.sector in _HEALTH_SECTORS else NON_HEALTH
    if principal.patient is not None:  # an app acting for the patient in context, user unknown
        return CITIZEN
    return None


_HEALTH_SECTORS = frozenset(
    {"region", "region-psychiatry", "municipality-health", "general-practice"}
)


_VIEWS: OrderedDict[tuple[Any, ...], tuple[View, int, int]] = OrderedDict()
"""`remembered_view`'s views: per actor and Consents, the view and the stretch of time [lo, hi)
(µs) it holds for."""
_VIEWS_KEPT = 4096


def remembered_view(actor: Actor, consents: list[dict[str, Any]], now: datetime) -> View:
    """`view`, remembered between requests: judging a citizen's Consents is most of what a
    clinician's search across their citizens costs, and the same few dozen are judged again on
    every search. `view` is a function of the actor's fields it reads, the Consents and
    ``now`` — of ``now`` only through whether it falls within each Consent's top
    ``provision.period`` (`rules.in_force`) — so a view is kept per actor and exact Consent
    contents (any write changes them) and reused only while ``now`` stays between the same
    period bounds as when it was worked out: exact, never stale."""
    moment = us(now)
    key = (_actor_key(actor), tuple(orjson.dumps(c) for c in consents))
    known = _VIEWS.get(key)
    if known is not None and known[1] <= moment < known[2]:
        _VIEWS.move_to_end(key)
        return known[0]
    found = view(actor, consents, now)
    low, high = OPEN_LOW - 1, OPEN_HIGH + 1
    for consent in consents:
        raw = consent.get("provision")
        period = (bounds(raw.get("period") or {}) if isinstance(raw, dict) else None) or (
            OPEN_LOW,
            OPEN_HIGH,
        )
        for bound in period:
            if bound <= moment:
                low = max(low, bound)
            else:
                high = min(high, bound)
    _VIEWS[key] = (found, low, high)
    while len(_VIEWS) > _VIEWS_KEPT:
        _VIEWS.popitem(last=False)
    return found


def _actor_key(p: Actor) -> tuple[Any, ...]:
    """What `auth.consent.view` reads of the actor (its `Actor`), as a key."""
    identifiers = tuple(
        sorted((org, tuple(sorted(found))) for org, found in p.organization_identifiers.items())
    )
    return (p.person, p.authorisation_id, p.role, tuple(p.organizations), identifiers, p.sector)


def _now() -> datetime:
    return datetime.now(UTC)


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Seen:
    """What one request has worked out: each patient's view (None: nothing visible)."""

    views: dict[str, View | None] = field(default_factory=dict)
    withheld: bool = False
    """A patient the caller has a relationship with has data withheld by a consent."""
    overrides: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    """Patients a break-the-glass opened past what stood in the way (what, and the Consents
    that blocked), for the audit's AuthZ-Consent events."""
    denied: set[str] = field(default_factory=set)
    """Patients whose consent refused a resource the caller asked for by id (since the audit
    last asked)."""


class ConsentAccess:
    """`fhir_server.access.Access`: the scopes' answer (``inner``) ∩ relationship ∩ consent."""

    __slots__ = (
        "_criteria_of",
        "_me",
        "_seen",
        "at",
        "inner",
        "mode",
        "now",
        "principal",
        "source",
    )

    def __init__(self, principal: Principal, source: Reader, inner: Access, mode: str) -> None:
        self.principal = principal
        self.source = source
        self.inner = inner
        self.mode = mode
        self.now = _now()
        self.at = _instant(self.now)
        self._seen = _Seen()
        self._me: dict[str, Any] | None = None
        self._criteria_of: dict[tuple[str, Match], tuple[Criterion, ...]] = {}

    # ---- type-level questions: the scopes' ----------------------------------------------------

    @property
    def subject(self) -> str:
        return self.inner.subject

    @property
    def unrestricted(self) -> bool:
        return False

    @property
    def acts_for(self) -> str | None:
        return self.inner.acts_for

    @property
    def notes(self) -> list[Issue]:
        """What a caller allowed to know is told about what it does not see (item 6): that
        information is withheld under a citizen's consent and that break-the-glass is
        possible — never what, how much or about whom."""
        if not self._seen.withheld:
            return []
        return [
            Issue(
                "suppressed",
                "Some information is withheld under the citizen's consent (sundhedsloven"
                " §42a stk. 5); in an emergency it can be seen by break-the-glass"
                " (purpose_of_use=BTG with a reason)",
                severity="warning",
            )
        ]

    def decide(self, type_: str, action: Action) -> Decision:
        return self.inner.decide(type_, action)

    def require(self, type_: str, action: Action) -> None:
        self.inner.require(type_, action)

    def sees_every(self, type_: str) -> bool:
        return compartment.owner_param(type_) is None and self.inner.sees_every(type_)

    # ---- one patient ---------------------------------------------------------------------------

    def _btg(self, patient: str) -> bool:
        """A break-the-glass holds for the patient in the token's context only (one citizen)."""
        p = self.principal
        return self.mode == HEALTH and p.patient == patient and p.btg_active(self.now.timestamp())

    async def _consents(self, patients: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """The active Consents of ``patients``, per patient id."""
        out: dict[str, list[dict[str, Any]]] = {p: [] for p in patients}
        ordered = sorted(set(patients))
        for i in range(0, len(ordered), _CHUNK):
            refs = tuple(ReferenceValue("Patient", p) for p in ordered[i : i + _CHUNK])
            await self._read_consents(Filter("patient", "reference", refs), out)
        return out

    async def _read_consents(
        self, about: Criterion, out: dict[str, list[dict[str, Any]]], any_patient: bool = False
    ) -> None:
        """Add the active Consents ``about`` selects to ``out``, per patient id: of the patients
        ``out`` holds already, or (``any_patient``) of whichever patient they are about."""
        query = SearchQuery(
            "Consent",
            [about, Filter("status", "token", (TokenValue(ANY, "active"),))],
            count=1000,
        )
        read = 0
        while True:
            page = await self.source.search(query)
            for stored in page.items:
                consent = orjson.loads(stored.content or b"{}")
                for owner in compartment.OWNERS_OF.of(stored):  # remembered per version
                    if owner in out:
                        out[owner].append(consent)
                    elif any_patient:
                        out[owner] = [consent]
            read += len(page.items)
            if page.next_cursor is None or read > _CONSENT_LIMIT:
                return
            query.after_id = page.next_cursor

    def _judge(self, patient: str, consents: list[dict[str, Any]], related: bool) -> View | None:
        if self.mode == HEALTH:
            if self._btg(patient):
                self._note_override(patient, consents, related)
                return EVERYTHING
            if not related:
                return None
            if not consents:
                return EVERYTHING  # what `view` gives a health actor without consents, cheaper
            return remembered_view(self.principal, consents, self.now)
        found = remembered_view(self.principal, consents, self.now)
        return None if found.nothing else found

    def _note_override(self, patient: str, consents: list[dict[str, Any]], related: bool) -> None:
        """What the break-the-glass for ``patient`` overrode, if anything (for the audit)."""
        blocked = view(self.principal, consents, self.now) if consents else EVERYTHING
        if not related:
            what = "no care relationship" + (" and the citizen's block" if blocked.blocks else "")
        elif blocked.blocks:
            what = "the citizen's block"
        else:
            return  # related and unblocked: nothing was overridden
        self._seen.overrides[patient] = (what, blocked.consents)

    def consent_decisions(
        self, type_: str | None, touched: set[str], refused: set[str]
    ) -> list[ev.ConsentDecision]:
        """The consent decisions about the patients this request touched (or was refused
        about) since the last call, one per patient (BALP AuthZ-Consent): a break-the-glass
        that overrode a block or a missing relationship; a related clinician's read refused,
        or a search of ``type_`` narrowed, by the citizen's consent; a non-health party
        admitted by a disclosure-permit."""
        denied, self._seen.denied = self._seen.denied, set()
        out: list[ev.ConsentDecision] = []
        for patient in sorted(touched | refused):
            if patient in self._seen.overrides:
                what, consents = self._seen.overrides[patient]
                reason = f"Break-the-glass overrides {what}"
                out.append(ev.ConsentDecision(patient, ev.SUCCESS, reason, consents, True))
                continue
            found = self._seen.views.get(patient)
            if found is None or not found.consents:
                continue
            if self.mode == HEALTH and patient in denied:
                reason = "The citizen's consent withholds what was asked for"
                out.append(ev.ConsentDecision(patient, ev.REFUSED, reason, found.consents))
            elif self.mode == HEALTH and patient in touched and type_ and found.filters(type_):
                reason = "The citizen's consent withholds part of what was asked for"
                out.append(ev.ConsentDecision(patient, ev.SUCCESS, reason, found.consents))
            elif self.mode == NON_HEALTH and patient in touched and found.permits:
                reason = "Admitted by the citizen's disclosure-permit"
                out.append(ev.ConsentDecision(patient, ev.SUCCESS, reason, found.consents))
        return out

    async def _guardian_view(self, patient: str) -> View | None:
        if patient != self.principal.patient or self.principal.person is None:
            return None
        rp_type, _, rp_id = self.principal.person.partition("/")
        me = await self.source.read(rp_type, rp_id)
        child = await self.source.read("Patient", patient)
        if me is None or child is None or me.deleted or child.deleted:
            return None
        relatedperson = orjson.loads(me.content or b"{}")
        patient_resource = orjson.loads(child.content or b"{}")
        consents = (await self._consents([patient]))[patient]
        if not has_custody(relatedperson, patient, self.now):
            # a relative or proxy ("fuldmagt"): only what the citizen permitted them
            own = [c for c in consents if _given_by(c, patient)]
            found = view(self.principal, own, self.now)
            return None if found.nothing else found
        if not guardian_may_read(relatedperson, patient_resource, consents, self.now):
            return None
        birth = patient_resource.get("birthDate")
        age = age_on(birth, self.now) if isinstance(birth, str) else None
        if age is not None and age < 15:
            return EVERYTHING
        found = view(self.principal, consents, self.now)
        return None if found.nothing else found

    async def _view(self, patient: str) -> View | None:
        seen = self._seen.views
        if patient not in seen:
            if self.mode == CITIZEN:
                seen[patient] = EVERYTHING if patient == self.principal.patient else None
            elif self.mode == GUARDIAN:
                seen[patient] = await self._guardian_view(patient)
            else:
                related = self.mode == HEALTH and await self.source.is_related(
                    patient, self.principal.holders, self.at
                )
                consents = await self._patient_consents(patient)
                seen[patient] = self._judge(patient, consents, related)
        return seen[patient]

    async def _patient_consents(self, patient: str) -> list[dict[str, Any]]:
        """`_consents` of one patient, kept between requests (every read by id asks) while
        the store's committed data stays as it was (`Store.data_generation`); never inside a
        write's unit of work, which sees its own uncommitted writes."""
        store = self.source.store
        generation = await store.data_generation() if self.source.uow is None else None
        if generation is None:
            return (await self._consents([patient]))[patient]
        kept = _KEPT_CONSENTS.get(store)
        if kept is None or kept[0] != generation:
            kept = _KEPT_CONSENTS[store] = (generation, {})
        found = kept[1].get(patient)
        if found is None:
            found = (await self._consents([patient]))[patient]
            if len(kept[1]) >= _KEPT_PATIENTS:
                kept[1].clear()
            kept[1][patient] = found
        return found

    async def _views(self) -> dict[str, View]:
        """Every patient a caller who is not a health professional may see some data of, with
        its view (a health professional's are the care relationship index's: `_related`)."""
        if self.mode in (GUARDIAN, CITIZEN):
            child = self.principal.patient
            found = await self._view(child) if child else None
            return {child: found} if child and found is not None else {}
        candidates = await self._permitting_patients()
        consents = await self._consents(sorted(candidates))
        out: dict[str, View] = {}
        for patient in candidates:
            if patient not in self._seen.views:
                self._seen.views[patient] = self._judge(patient, consents[patient], False)
            known = self._seen.views[patient]
            if known is not None:
                out[patient] = known
        return out

    async def _related_views(self) -> dict[str, View | None]:
        """The views of the related patients that have a Consent — read by one Consent search
        joined with the care relationship index in the store, so a caller whose citizens mostly
        have none judges only the few that do; the others' view is whole."""
        consents: dict[str, list[dict[str, Any]]] = {}
        holders = tuple(self.principal.holders)
        await self._read_consents(RelatedTo("patient", holders, self.at), consents, True)
        out: dict[str, View | None] = {}
        for patient, found in consents.items():
            if patient not in self._seen.views:
                self._seen.views[patient] = self._judge(patient, found, True)
            out[patient] = self._seen.views[patient]
        return out

    async def _permitting_patients(self) -> set[str]:
        """The patients with an active disclosure-permit that may name a non-health caller
        (by reference: the ``actor`` parameter; by identifier the view decides)."""
        holders = tuple(ReferenceValue(*h.split("/", 1)) for h in self.principal.holders)
        if not holders:
            return set()
        query = SearchQuery(
            "Consent",
            [
                Filter("actor", "reference", holders),
                Filter("status", "token", (TokenValue(ANY, "active"),)),
            ],
            count=1000,
        )
        out: set[str] = set()
        while True:
            page = await self.source.search(query)
            for stored in page.items:
                out |= compartment.owners("Consent", orjson.loads(stored.content or b"{}"))
            if page.next_cursor is None or len(out) > _CONSENT_LIMIT:
                return out
            query.after_id = page.next_cursor

    # ---- one resource ---------------------------------------------------------------------------

    async def _content(self, stored: StoredResource) -> dict[str, Any] | None:
        return await judged_content(self.source, stored)

    async def _allows(self, stored: StoredResource) -> bool:
        """Whether some patient the resource is about lets the caller see it. Which patients a
        version is about is remembered per version, and its content is parsed only when a
        patient's view is narrowed (or for a deletion, judged by the version it deleted)."""
        if compartment.owner_param(stored.type) is None:
            return True
        content = await self._content(stored) if stored.deleted else None
        if stored.deleted and content is None:
            return False
        about = (
            compartment.owners(stored.type, content)
            if content is not None
            else compartment.OWNERS_OF.of(stored)
        )
        for patient in sorted(about):
            found = await self._view(patient)
            if found is None:
                continue
            if found.everything:
                return True
            if content is None:
                content = await self._content(stored)
            if content is not None and found.admits(stored.type, content):
                return True
            self._seen.denied.add(patient)  # related (or permitted), but the consent refuses
        return False

    async def admit(
        self, stored: StoredResource | None, action: Action = "r"
    ) -> StoredResource | None:
        found = await self.inner.admit(stored, action)
        if found is None or not await self._allows(found):
            return None
        return found

    async def admit_target(
        self, stored: StoredResource | None, action: Action
    ) -> StoredResource | None:
        if stored is not None and not await self._allows(stored):
            return None  # as if unknown: no 403, no conditional match, no existence
        return await self.inner.admit_target(stored, action)

    async def admit_all(self, items: list[StoredResource], action: Action) -> list[StoredResource]:
        kept = await self.inner.admit_all(items, action)
        return [s for s in kept if await self._allows(s)]

    def disclose(self, items: list[StoredResource]) -> None:
        self.inner.disclose(items)

    async def settle(self, interaction: str, type_: str | None, query: str, status: int) -> None:
        await self.inner.settle(interaction, type_, query, status)

    def reader(self, action: Action = VISIBLE) -> ReadById:
        async def read(type_: str, id_: str) -> StoredResource | None:
            return await self.admit(await self.source.read(type_, id_), action)

        return read

    def prepare(self, type_: str, resource: dict[str, Any]) -> dict[str, Any]:
        """A privacy Consent carries who recorded it and when (§42), set by the server."""
        resource = self.inner.prepare(type_, resource)
        if type_ == "Consent" and is_privacy(resource) and self.principal.person:
            return recorded(resource, self.principal, self.now)
        return resource

    async def check_written(self, stored: StoredResource, action: Action) -> None:
        """The scopes' check, then: a write about a patient needs the caller to be allowed
        that patient's data — a relationship (which the write itself may create: a referral,
        an encounter, a care team; the unit of work already holds its rows) or a
        break-the-glass; a parent only for their child. A health professional creating a
        Patient gives its organization a relationship with the new citizen."""
        await self.inner.check_written(stored, action)
        if stored.type == "Consent":
            await self._check_consent(stored)
        if compartment.owner_param(stored.type) is None or stored.deleted:
            return  # a deletion was judged on the version it deletes (admit_target)
        content = orjson.loads(stored.content or b"{}")
        owners = compartment.owners(stored.type, content)
        if stored.type == "Patient" and stored.version == 1 and self.mode == HEALTH:
            for org in self.principal.organizations[:1]:
                await self.source.relate(stored.id, org, PATIENT_CREATOR, self.at)
        for patient in sorted(owners):
            self._seen.views.pop(patient, None)  # the write may have created a relationship
            found = await self._view(patient)
            if found is None or not found.admits(stored.type, content):
                raise Forbidden(
                    f"Writing {stored.type} about a citizen needs a care relationship with"
                    " them (sundhedsloven §42a) that their consent does not exclude",
                    [f"{stored.type}.{compartment.owner_param(stored.type)}"],
                )
        if not owners and stored.type != "Patient":
            raise Forbidden(
                f"A {stored.type} written by this caller must be about a citizen it cares for",
                [f"{stored.type}.{compartment.owner_param(stored.type)}"],
            )

    async def _check_consent(self, stored: StoredResource) -> None:
        """A citizen's privacy consents are managed by the citizen from 15, and by a parent
        with custody before (§17 stk. 3, §42a stk. 5); no one else writes them here."""
        content = await self._content(stored)
        if content is None or not is_privacy(content):
            return
        patients = sorted(compartment.owners("Consent", content))
        patient = await self.source.read("Patient", patients[0]) if len(patients) == 1 else None
        relatedperson = None
        if self.mode == GUARDIAN and self.principal.person:
            rp_type, _, rp_id = self.principal.person.partition("/")
            found = await self.source.read(rp_type, rp_id)
            relatedperson = (
                orjson.loads(found.content or b"{}") if found and found.content else None
            )
        problem = "Consent.patient must name the citizen"
        if patient is not None and not patient.deleted:
            problem = (
                consent_write_problem(
                    self.principal,
                    content,
                    orjson.loads(patient.content or b"{}"),
                    self.now,
                    relatedperson,
                    deleting=stored.deleted,
                )
                or ""
            )
        if problem:
            raise Forbidden(f"This Consent may not be written: {problem}", ["Consent"])

    # ---- searches -------------------------------------------------------------------------------

    async def narrow(self, query: SearchQuery, action: Action, quiet: bool = False) -> None:
        await self.inner.narrow(query, action, quiet)
        param = compartment.owner_param(query.type)
        if param is None:
            return
        named = _named_patients(query, param) if self.mode == HEALTH else None
        if named is not None and len(named) <= _NAMED_LIMIT:
            # the query already keeps to these patients: judging only them is exact, and a
            # patient-scoped search costs one relationship and one Consent look-up, not the
            # caller's whole list
            views = {p: v for p in sorted(named) if (v := await self._view(p)) is not None}
        elif self.mode == HEALTH:
            await self._narrow_related(query, param)
            return
        else:
            views = await self._views()
        if not views:
            query.filters.append(NOTHING)
            return
        query.filters.append(_owner_filter(param, views))
        await self._exclude(query, param, dict(views))

    async def _narrow_related(self, query: SearchQuery, param: str) -> None:
        """A health professional's search across their citizens: the owner among the patients
        the care relationship index relates to the caller's holders now (`RelatedTo`, joined in
        the store query) or the break-the-glass patient; minus, of the related patients with a
        Consent, what their views exclude (all of it for a view of nothing)."""
        related: Criterion = RelatedTo(param, tuple(self.principal.holders), self.at)
        btg = self.principal.patient
        if btg and self._btg(btg):
            self._seen.views[btg] = EVERYTHING
            related = FilterGroup(((related,), (owner_filter(param, [btg]),)))
        query.filters.append(related)
        await self._exclude(query, param, await self._related_views())

    async def _exclude(self, query: SearchQuery, param: str, views: dict[str, View | None]) -> None:
        """Narrow ``query`` by a negated group of what ``views`` exclude: the patients whose view
        is nothing, and per kind of exclusion the patients it applies to — one branch each, not
        one per patient (many patients' blocks are alike: the same unit, the same kind of data),
        so the store probes a handful of branches per candidate."""
        hidden = sorted(p for p, found in views.items() if found is None)
        alike: dict[tuple[Criterion, ...], list[str]] = {}
        for patient, found in sorted(views.items()):
            if found is None or found.everything:
                continue
            restrictions = found.filters(query.type)
            if restrictions and self.mode == HEALTH:
                self._seen.withheld = True  # related (or it would not be here), yet narrowed
            for criteria in await self._excluded(query.type, restrictions):
                alike.setdefault(criteria, []).append(patient)
        branches: list[tuple[Criterion, ...]] = [(owner_filter(param, hidden),)] if hidden else []
        branches += [(owner_filter(param, ps), *criteria) for criteria, ps in alike.items()]
        if branches:
            query.filters.append(FilterGroup(tuple(branches), negate=True))

    async def _excluded(
        self, type_: str, restrictions: list[Restriction]
    ) -> list[tuple[Criterion, ...]]:
        """The criteria matching what a view with ``restrictions`` excludes of ``type_``: each
        exclude restriction, and — when there are include restrictions — whatever matches
        none."""
        out: list[tuple[Criterion, ...]] = []
        includes: list[tuple[Criterion, ...]] = []
        for restriction in restrictions:
            criteria = await self._criteria(type_, restriction.match)
            if restriction.exclude:
                out.append(criteria)
            else:
                includes.append(criteria)
        if includes:
            out.append((FilterGroup(tuple(includes), negate=True),))
        return out

    async def _criteria(self, type_: str, match: Match) -> tuple[Criterion, ...]:
        """``match`` as search criteria on ``type_``; parsed once per request (many patients'
        blocks are alike: the same unit, the same kind of data)."""
        key = (type_, match)
        if key not in self._criteria_of:
            self._criteria_of[key] = await self._parse_criteria(type_, match)
        return self._criteria_of[key]

    async def _parse_criteria(self, type_: str, match: Match) -> tuple[Criterion, ...]:
        async def no_chains(query: SearchQuery) -> list[StoredResource]:
            raise AssertionError("consent restrictions have no chains")

        parsed = await build_query(
            no_chains,
            type_,
            list(match.pairs),
            params=self.source.params,
            default_count=1,
            max_count=1,
            base=self.source.base_url,
        )
        unless = [FilterGroup((await self._criteria(type_, u),), negate=True) for u in match.unless]
        return (*parsed.filters, *unless)


def _named_patients(query: SearchQuery, param: str) -> set[str] | None:
    """The patients a query already keeps to by its owner parameter (``patient=Patient/x``,
    several values: any of them), or None when it names none that way."""
    for f in query.filters:
        if not isinstance(f, Filter) or f.param != param or f.kind != "reference":
            continue
        if f.modifier is not None or f.missing is not None or not f.values:
            continue
        ids = {
            v.id
            for v in f.values
            if isinstance(v, ReferenceValue)
            and v.type in ("Patient", None)
            and v.url is None
            and v.id is not None
        }
        if len(ids) == len(set(f.values)):  # every value names a patient by id
            return ids
    return None


def _given_by(consent: dict[str, Any], patient: str) -> bool:
    """Whether the citizen themself gave ``consent`` (its ``performer``)."""
    return any(
        isinstance(p, dict) and p.get("reference") == f"Patient/{patient}"
        for p in consent.get("performer") or ()
    )


def _owner_filter(param: str, views: dict[str, View]) -> Filter:
    """The owner parameter among ``views``' patients (``_id`` for Patient)."""
    return owner_filter(param, views)
