"""A `fhir_server.access.Reader` over the store itself, for decisions taken outside a FHIR
request (the SMART patient picker and EHR launch ask the same access decision a token's request
would, before any token exists)."""

from __future__ import annotations

from collections.abc import Sequence

from fhir_server.config import Settings
from fhir_server.search.registry import KnownParameters
from fhir_server.search.terms import SearchQuery
from fhir_server.store.base import Page, Store, UnitOfWork
from fhir_server.stored import StoredResource


class StoreReader:
    """Reads the store as it is (no unit of work: nothing is written through it)."""

    __slots__ = ("params", "settings", "store")

    uow: UnitOfWork | None = None
    """None: nothing is written through it."""

    def __init__(self, store: Store, params: KnownParameters, settings: Settings) -> None:
        self.store = store
        self.params = params
        self.settings = settings

    @property
    def base_url(self) -> str:
        return self.store.base_url or ""

    async def read(self, type_: str, id_: str) -> StoredResource | None:
        return await self.store.read(type_, id_)

    async def vread(self, type_: str, id_: str, version: int) -> StoredResource | None:
        return await self.store.vread(type_, id_, version)

    async def search(self, query: SearchQuery) -> Page:
        return await self.store.search(query)

    async def related_patients(self, holders: Sequence[str], at: str) -> set[str]:
        return await self.store.related_patients(holders, at)

    async def is_related(self, patient: str, holders: Sequence[str], at: str) -> bool:
        return await self.store.is_related(patient, holders, at)

    async def relate(self, patient: str, holder: str, kind: str, start: str) -> None:
        raise RuntimeError("nothing is written outside a FHIR request's unit of work")
