"""Who the token's user is in the data: ``fhirUser`` → person, role, organization (and its
parents) → sector, or → patient.

- ``Practitioner/x``: the person; its authorisation id (``https://autregweb.sst.dk``); its
  active PractitionerRoles — role and organization when there is exactly one.
- ``PractitionerRole/x``: the role; its practitioner (the person) and organization.
- ``Patient/x``: the citizen; their own compartment is the patient context.
- ``RelatedPerson/x``: a relative or proxy; the patient they are related to.

The sector comes from the organization and the chain of its ``partOf`` parents, by the
identifiers the Danish registers give them and, for psychiatry, the organization's type (see
`sector_of`). A backend service, or a national token's ``organization_id``, names the
organization directly (`Directory.acting_for`). Answers are cached for `TTL` seconds: a changed
role or organization takes effect on new principals within that time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, TypeVar

import orjson

from fhir_server.search.params.reference import split_reference
from fhir_server.search.terms import Filter, ReferenceValue, SearchQuery, TokenValue
from fhir_server.store.base import Store
from profiles.danish.identifiers import (
    AUTHORISATION_SYSTEM,
    CPR_SYSTEM,
    MUNICIPALITY_SYSTEM,
    REGION_SYSTEM,
    SOR_PATTERN,
    SOR_SYSTEM,
    YDERNUMMER_SYSTEM,
)

T = TypeVar("T")

TTL = 60.0
MAX_DEPTH = 8
"""How far up ``Organization.partOf`` the sector is looked for."""

REGION = "region"
REGION_PSYCHIATRY = "region-psychiatry"
MUNICIPALITY_HEALTH = "municipality-health"
MUNICIPALITY_SOCIAL = "municipality-social"
GENERAL_PRACTICE = "general-practice"
CITIZEN = "citizen"
HEALTH_SECTORS = frozenset({REGION, REGION_PSYCHIATRY, MUNICIPALITY_HEALTH, GENERAL_PRACTICE})
"""The sectors whose staff are health professionals (sundhedspersoner, sundhedsloven §6)."""

ROLE_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
PSYCHIATRY_TYPES = frozenset({"PSYCHF", "PHU", "PSY", "CAPC"})
"""``Organization.type`` codes (HL7 v3 RoleCode, ServiceDeliveryLocationRoleType) that mark a
psychiatric unit: psychiatric hospital, psychiatric hospital unit, psychiatry clinic, child
and adolescent psychiatry clinic. SOR classifies units by specialty, but its codes are not
published in a FHIR code system; the RoleCode on ``Organization.type`` is what a SOR import
(and the demo data) writes for a psychiatric unit."""


@dataclass(frozen=True, slots=True)
class UserContext:
    """What the data says about a token's user (or a backend's organization)."""

    organization: str | None = None
    """``Organization/id`` the user acts for."""
    sector: str | None = None
    patient: str | None = None
    """The patient id a citizen (or their relative) acts as or for."""
    person: str | None = None
    """``Practitioner/x``, ``Patient/x`` or ``RelatedPerson/x``."""
    authorisation_id: str | None = None
    role: str | None = None
    """``PractitionerRole/x`` the practitioner acts in."""
    organizations: tuple[str, ...] = ()
    """``organization`` and its ``partOf`` parents, nearest first."""
    organization_identifiers: Mapping[str, tuple[tuple[str, str], ...]] = field(
        default_factory=dict, compare=False, hash=False
    )
    """Per organization of ``organizations``: its identifiers as (system, value) — a citizen's
    block may name a site by its SOR id rather than by reference."""
    is_over_15: bool | None = None
    """For a citizen with a known birth date."""

    @property
    def health_professional(self) -> bool:
        """A practitioner acting in a health sector; a social worker, a citizen or a service
        without a person is not one."""
        practitioner = self.person is not None and self.person.startswith("Practitioner/")
        return practitioner and self.sector in HEALTH_SECTORS


NOBODY = UserContext()


def _ref_id(value: Any, type_: str) -> str | None:
    ref = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(ref, str):
        return None
    found_type, found_id, _ = split_reference(ref)
    return found_id if found_type == type_ else None


def _systems(org: dict[str, Any]) -> set[str]:
    return {
        system
        for i in org.get("identifier") or ()
        if isinstance(i, dict) and isinstance(system := i.get("system"), str)
    }


def _psychiatric(org: dict[str, Any]) -> bool:
    return any(
        isinstance(c, dict)
        and c.get("system") == ROLE_CODE_SYSTEM
        and c.get("code") in PSYCHIATRY_TYPES
        for t in org.get("type") or ()
        if isinstance(t, dict)
        for c in t.get("coding") or ()
    )


def _identifiers(org: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (i["system"], i["value"])
        for i in org.get("identifier") or ()
        if isinstance(i, dict)
        and isinstance(i.get("system"), str)
        and isinstance(i.get("value"), str)
    )


def sector_of(chain: list[dict[str, Any]]) -> str | None:
    """The sector of an organization, given it and its ``partOf`` parents (nearest first):
    a GP clinic carries a ydernummer; a region (or a unit under one) a region code, and is
    psychiatry when it or a parent is typed as a psychiatric unit (`PSYCHIATRY_TYPES`); a
    municipality's unit is health when it has a SOR id (health units are in the SOR register)
    and social otherwise (social units are identified in FK-ORG instead)."""
    systems = [_systems(org) for org in chain]
    if any(YDERNUMMER_SYSTEM in s for s in systems):
        return GENERAL_PRACTICE
    if any(REGION_SYSTEM in s for s in systems):
        return REGION_PSYCHIATRY if any(_psychiatric(org) for org in chain) else REGION
    if any(MUNICIPALITY_SYSTEM in s for s in systems):
        return MUNICIPALITY_HEALTH if SOR_SYSTEM in systems[0] else MUNICIPALITY_SOCIAL
    return None


def authorisation_id(practitioner: dict[str, Any]) -> str | None:
    """The Danish authorisation id, from ``identifier`` or a ``qualification.identifier``."""
    places = [practitioner.get("identifier") or []]
    places += [
        q.get("identifier") or []
        for q in practitioner.get("qualification") or ()
        if isinstance(q, dict)
    ]
    for identifiers in places:
        for i in identifiers:
            if isinstance(i, dict) and i.get("system") == AUTHORISATION_SYSTEM:
                value = i.get("value")
                if isinstance(value, str) and value:
                    return value
    return None


def over_15(birth_date: Any, today: date) -> bool | None:
    """Whether someone born on ``birth_date`` (FHIR date, any precision) is 15 today; None
    when unknown or too imprecise to tell."""
    if not isinstance(birth_date, str):
        return None
    parts = birth_date.split("-")
    try:
        year = int(parts[0])
        month = int(parts[1]) if len(parts) > 1 else None
        day = int(parts[2][:2]) if len(parts) > 2 else None
    except ValueError:
        return None
    if today.year - year > 15:
        return True
    if today.year - year < 15:
        return False
    if month is None or (day is None and month == today.month):
        return None
    return (month, day or 1) <= (today.month, today.day)


def _organization_identifier(value: str) -> TokenValue | None:
    """``system|value``, or a bare SOR code."""
    if "|" in value:
        system, _, code = value.partition("|")
        return TokenValue(system or None, code) if code else None
    return TokenValue(SOR_SYSTEM, value) if re.fullmatch(SOR_PATTERN[1:-1], value) else None


class Directory:
    """Resolves ``fhirUser`` references, organizations and CPR numbers through the store's
    public read and search (no auth: the directory is the platform's own look-up)."""

    def __init__(self, store: Store, clock: Any = time.monotonic) -> None:
        self.store = store
        self.clock = clock
        self._cache: dict[str, tuple[float, Any]] = {}

    async def _cached(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < TTL:
            found: T = hit[1]
            return found
        found = await work()
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (now, found)
        return found

    async def resolve(self, fhir_user: str | None) -> UserContext:
        if not fhir_user:
            return NOBODY
        return await self._cached(f"user:{fhir_user}", lambda: self._resolve(fhir_user))

    async def acting_for(self, user: UserContext, organization: str) -> UserContext:
        """``user`` acting for ``organization`` (``Organization/x``, ``system|value`` or a bare
        SOR code — a national token's ``organization_id``, a backend's registration): its
        chain and sector, and the practitioner's role there when there is exactly one. An
        organization that is not in the data leaves the user without one."""
        org_id = await self._cached(f"org:{organization}", lambda: self._find_org(organization))
        if org_id is None:
            return replace(
                user,
                organization=None,
                organizations=(),
                organization_identifiers={},
                sector=None,
                role=None,
            )
        chain = await self._cached(f"chain:{org_id}", lambda: self._chain(org_id))
        role = None
        if user.person is not None and user.person.startswith("Practitioner/"):
            roles = await self._roles(user.person.split("/", 1)[1])
            at = [r for r, org in roles if org == org_id]
            role = at[0] if len(at) == 1 else None
        return replace(user, role=role, **chain)

    async def patients_by_cpr(self, cprs: list[str]) -> tuple[str, ...]:
        """The ids of the Patients with these CPR numbers (unknown ones are left out)."""
        out: list[str] = []
        for cpr in cprs[:20]:
            by = Filter("identifier", "token", (TokenValue(CPR_SYSTEM, cpr),))
            page = await self.store.search(SearchQuery("Patient", [by], count=2))
            out += [stored.id for stored in page.items if not stored.deleted]
        return tuple(dict.fromkeys(out))

    async def _resource(self, type_: str, id_: str | None) -> dict[str, Any] | None:
        if not id_:
            return None
        stored = await self.store.read(type_, id_)
        if stored is None or stored.deleted:
            return None
        return orjson.loads(stored.content or b"{}")

    async def _resolve(self, fhir_user: str) -> UserContext:
        type_, id_, _ = split_reference(fhir_user)
        user = await self._resource(type_ or "", id_) if type_ else None
        if user is None:
            return NOBODY
        if type_ == "Patient":
            over = over_15(user.get("birthDate"), date.today())
            return UserContext(patient=id_, person=fhir_user, sector=CITIZEN, is_over_15=over)
        if type_ == "RelatedPerson":
            patient = _ref_id(user.get("patient"), "Patient")
            return UserContext(patient=patient, person=fhir_user, sector=CITIZEN)
        if type_ == "PractitionerRole":
            practitioner = _ref_id(user.get("practitioner"), "Practitioner")
            person = await self._person(practitioner)
            org = _ref_id(user.get("organization"), "Organization")
            return replace(person, role=fhir_user, **await self._chain(org))
        if type_ == "Practitioner":
            person = UserContext(person=fhir_user, authorisation_id=authorisation_id(user))
            roles = await self._roles(id_ or "")
            if len({org for _, org in roles}) != 1:  # none, or several: no single one acts here
                return person
            role, org = roles[0] if len(roles) == 1 else (None, roles[0][1])
            return replace(person, role=role, **await self._chain(org))
        return NOBODY

    async def _person(self, practitioner_id: str | None) -> UserContext:
        found = await self._resource("Practitioner", practitioner_id)
        if found is None:
            return NOBODY
        return UserContext(
            person=f"Practitioner/{practitioner_id}", authorisation_id=authorisation_id(found)
        )

    async def _roles(self, practitioner_id: str) -> list[tuple[str, str | None]]:
        """The practitioner's active roles: (``PractitionerRole/x``, organization id)."""
        by = Filter("practitioner", "reference", (ReferenceValue("Practitioner", practitioner_id),))
        page = await self.store.search(SearchQuery("PractitionerRole", [by], count=20))
        out = []
        for stored in page.items:
            role = orjson.loads(stored.content or b"{}")
            if role.get("active") is not False:
                org = _ref_id(role.get("organization"), "Organization")
                out.append((f"PractitionerRole/{stored.id}", org))
        return out

    async def _find_org(self, organization: str) -> str | None:
        type_, id_, _ = split_reference(organization)
        if type_ == "Organization" and id_:
            return id_ if await self._resource("Organization", id_) is not None else None
        token = _organization_identifier(organization)
        if token is None:
            return None
        by = Filter("identifier", "token", (token,))
        page = await self.store.search(SearchQuery("Organization", [by], count=2))
        found = [stored.id for stored in page.items if not stored.deleted]
        return found[0] if len(found) == 1 else None

    async def _chain(self, org_id: str | None) -> dict[str, Any]:
        """``organization``, ``organizations`` and ``sector`` of the organization ``org_id``."""
        chain: list[dict[str, Any]] = []
        ids: list[str] = []
        current = org_id
        while current and len(chain) < MAX_DEPTH and current not in ids:
            org = await self._resource("Organization", current)
            if org is None:
                break
            chain.append(org)
            ids.append(current)
            current = _ref_id(org.get("partOf"), "Organization")
        if not chain:
            return {
                "organization": None,
                "organizations": (),
                "organization_identifiers": {},
                "sector": None,
            }
        return {
            "organization": f"Organization/{org_id}",
            "organizations": tuple(f"Organization/{i}" for i in ids),
            "organization_identifiers": {
                f"Organization/{i}": _identifiers(org) for i, org in zip(ids, chain, strict=True)
            },
            "sector": sector_of(chain),
        }
