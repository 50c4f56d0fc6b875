"""Where the authorization server keeps its state: clients, users, signing keys, pending
authorizations, codes, launch contexts, refresh tokens, issued and revoked token ids, and the
client-assertion ``jti`` replay list.

Everything is a small JSON record addressed by ``(kind, key)``, with an optional expiry and
group (the grant a token belongs to), kept beside the FHIR data in the same database: a table
``auth_record`` in the SQLite file, a collection ``auth_records`` in MongoDB
(``auth.storage.sqlite`` / ``auth.storage.mongo``). The few atomic operations the flows need —
insert-if-absent for ``jti`` replay and key creation, a one-time claim for authorization codes
and refresh tokens — are single statements in both backends, so several server processes can
share one database.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fhir_server.store.base import Store

Doc = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Record:
    key: str
    doc: Doc
    expires: float | None
    """Epoch seconds after which the record no longer exists for readers (purged later)."""
    used: bool
    """Set once by ``claim``: an authorization code or refresh token already spent."""
    group: str | None


class Claim:
    """The outcome of ``AuthStore.claim``."""

    FIRST = "first"
    """This caller marked the record used."""
    SPENT = "spent"
    """It was used before (a replayed code or refresh token)."""


class AuthStore(abc.ABC):
    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def get(self, kind: str, key: str) -> Record | None:
        """The live record (not expired), used or not."""

    @abc.abstractmethod
    async def put(
        self,
        kind: str,
        key: str,
        doc: Doc,
        *,
        expires: float | None = None,
        group: str | None = None,
    ) -> None:
        """Create or replace (unused again)."""

    @abc.abstractmethod
    async def add(
        self,
        kind: str,
        key: str,
        doc: Doc,
        *,
        expires: float | None = None,
        group: str | None = None,
    ) -> bool:
        """Create unless a live record exists; False when one does (atomic)."""

    @abc.abstractmethod
    async def claim(self, kind: str, key: str) -> tuple[Record, str] | None:
        """Mark a live record used, atomically; None when there is no live record, else the
        record and ``Claim.FIRST`` or ``Claim.SPENT``."""

    @abc.abstractmethod
    async def delete(self, kind: str, key: str) -> bool: ...

    @abc.abstractmethod
    async def all(self, kind: str) -> list[Record]:
        """Every live record of a kind, by key."""

    @abc.abstractmethod
    async def in_group(self, kind: str, group: str) -> list[Record]:
        """Every live record of a kind in one group (the tokens of one grant)."""

    @abc.abstractmethod
    async def purge(self) -> int:
        """Delete expired records; how many."""


def now() -> float:
    return time.time()


class _AuthRecords:
    """The auth records as a tenant of the FHIR store's database (`DatabaseTenant`): the store
    says which kind of database it has, so auth never looks at the store's concrete class."""

    def sqlite_file(self, path: str) -> AuthStore:
        from auth.storage.sqlite import SqliteAuthStore

        return SqliteAuthStore(path)

    def mongodb_database(self, database: Any) -> AuthStore:
        from auth.storage.mongo import MongoAuthStore

        return MongoAuthStore(database)


def auth_store_for(store: Store) -> AuthStore:
    """The auth records live in the FHIR store's database: the same SQLite file, or the same
    MongoDB database through the same client."""
    return store.lend_database(_AuthRecords())
