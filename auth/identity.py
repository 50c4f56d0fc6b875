"""Who the token's user is in the data: ``fhirUser`` → organization → sector, or → patient.

- ``Practitioner/x``: its active PractitionerRoles; their organization when they all name one.
- ``PractitionerRole/x``: its organization.
- ``Patient/x``: the citizen; their own compartment is the patient context.
- ``RelatedPerson/x``: a relative or proxy; the patient they are related to.

The sector comes from the organization and the chain of its ``partOf`` parents, by the
identifiers the Danish registers give them (see `sector_of`). Answers are cached for `TTL`
seconds: a changed role or organization takes effect on new principals within that time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from fhir_server.search.model import Filter, ReferenceValue, SearchQuery
from fhir_server.search.params.reference import split_reference
from fhir_server.store.base import Store
from profiles.danish.identifiers import (
    MUNICIPALITY_SYSTEM,
    REGION_SYSTEM,
    SOR_SYSTEM,
    YDERNUMMER_SYSTEM,
)

TTL = 60.0
MAX_DEPTH = 8
"""How far up ``Organization.partOf`` the sector is looked for."""

REGION = "region"
MUNICIPALITY_HEALTH = "municipality-health"
MUNICIPALITY_SOCIAL = "municipality-social"
GENERAL_PRACTICE = "general-practice"


@dataclass(frozen=True, slots=True)
class UserContext:
    organization: str | None = None
    """``Organization/id`` the user acts for."""
    sector: str | None = None
    patient: str | None = None
    """The patient id a citizen (or their relative) acts as or for."""


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


def sector_of(chain: list[dict[str, Any]]) -> str | None:
    """The sector of an organization, given it and its ``partOf`` parents (nearest first):
    a GP clinic carries a ydernummer; a region (or a unit under one) a region code; a
    municipality's unit is health when it has a SOR id (health units are in the SOR register)
    and social otherwise (social units are identified in FK-ORG instead)."""
    systems = [_systems(org) for org in chain]
    if any(YDERNUMMER_SYSTEM in s for s in systems):
        return GENERAL_PRACTICE
    if any(REGION_SYSTEM in s for s in systems):
        return REGION
    if any(MUNICIPALITY_SYSTEM in s for s in systems):
        return MUNICIPALITY_HEALTH if SOR_SYSTEM in systems[0] else MUNICIPALITY_SOCIAL
    return None


class Directory:
    """Resolves ``fhirUser`` references through the store's public read and search."""

    def __init__(self, store: Store, clock: Any = time.monotonic) -> None:
        self.store = store
        self.clock = clock
        self._cache: dict[str, tuple[float, UserContext]] = {}

    async def resolve(self, fhir_user: str | None) -> UserContext:
        if not fhir_user:
            return NOBODY
        now = self.clock()
        hit = self._cache.get(fhir_user)
        if hit is not None and now - hit[0] < TTL:
            return hit[1]
        found = await self._resolve(fhir_user)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[fhir_user] = (now, found)
        return found

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
            return UserContext(patient=id_)
        if type_ == "RelatedPerson":
            return UserContext(patient=_ref_id(user.get("patient"), "Patient"))
        if type_ == "PractitionerRole":
            return await self._organization(_ref_id(user.get("organization"), "Organization"))
        if type_ == "Practitioner":
            return await self._practitioner(id_ or "")
        return NOBODY

    async def _practitioner(self, id_: str) -> UserContext:
        by = Filter("practitioner", "reference", (ReferenceValue("Practitioner", id_),))
        page = await self.store.search(SearchQuery("PractitionerRole", [by], count=20))
        orgs = set()
        for stored in page.items:
            role = orjson.loads(stored.content or b"{}")
            if role.get("active") is not False:
                orgs.add(_ref_id(role.get("organization"), "Organization"))
        if len(orgs) != 1:  # none, or several: no single organization acts here
            return NOBODY
        return await self._organization(orgs.pop())

    async def _organization(self, org_id: str | None) -> UserContext:
        chain: list[dict[str, Any]] = []
        current = org_id
        while current and len(chain) < MAX_DEPTH:
            org = await self._resource("Organization", current)
            if org is None:
                break
            chain.append(org)
            current = _ref_id(org.get("partOf"), "Organization")
        if not chain:
            return NOBODY
        return UserContext(organization=f"Organization/{org_id}", sector=sector_of(chain))
