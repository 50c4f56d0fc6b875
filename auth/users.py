"""Test users of the embedded login: a username, a password (stored as a salted scrypt hash) and
the FHIR resource the user is (``fhirUser``): a Patient (a citizen), a RelatedPerson, or a
Practitioner / PractitionerRole (a clinician).

The embedded login exists for development, demos and conformance testing; production logins
come from an external identity provider (``FHIR_AUTH=resource-server``, docs/security.md).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from auth.storage import AuthStore

KIND = "user"
FHIR_USER_TYPES = ("Patient", "RelatedPerson", "Practitioner", "PractitionerRole")
_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_REFERENCE = re.compile(
    r"^(Patient|RelatedPerson|Practitioner|PractitionerRole)/[A-Za-z0-9.-]{1,64}$"
)
SCRYPT_COST = 2**14
"""scrypt's N for new hashes (r=8, p=1: 16 MiB, ~0.1 s); each hash records its own N."""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_COST, r=8, p=1, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_COST}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(stored: str, password: str) -> bool:
    _, cost, salt, digest = stored.split("$")
    got = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(cost), r=8, p=1, dklen=32
    )
    return hmac.compare_digest(got, base64.b64decode(digest))


@cache
def _dummy() -> str:
    """Checked against for unknown usernames, so a wrong username costs as long as a wrong
    password."""
    return hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class User:
    username: str
    fhir_user: str
    """A relative reference: ``Patient/123``, ``PractitionerRole/abc``, …"""
    name: str = ""
    password_hash: str = ""

    @property
    def role(self) -> str:
        """``citizen``, ``relative`` or ``clinician``."""
        kind = self.fhir_user.split("/", 1)[0]
        return {"Patient": "citizen", "RelatedPerson": "relative"}.get(kind, "clinician")

    def to_doc(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "fhir_user": self.fhir_user,
            "name": self.name,
            "password_hash": self.password_hash,
            "created": time.time(),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> User:
        return cls(doc["username"], doc["fhir_user"], doc.get("name", ""), doc["password_hash"])


class UserError(ValueError):
    pass


def check(username: str, fhir_user: str, password: str) -> None:
    if not _USERNAME.match(username):
        raise UserError("username: 1-64 letters, digits or . _ @ -")
    if not _REFERENCE.match(fhir_user):
        raise UserError(
            "--fhir-user: a relative reference to a "
            + ", ".join(FHIR_USER_TYPES)
            + " (e.g. Practitioner/abc)"
        )
    if len(password) < 8:
        raise UserError("--password: at least 8 characters")


class Users:
    def __init__(self, records: AuthStore) -> None:
        self.records = records

    async def get(self, username: str) -> User | None:
        found = await self.records.get(KIND, username)
        return User.from_doc(found.doc) if found else None

    async def add(
        self, username: str, fhir_user: str, password: str, name: str = "", replace: bool = False
    ) -> User:
        check(username, fhir_user, password)
        hashed = await asyncio.to_thread(hash_password, password)
        user = User(username, fhir_user, name, hashed)
        if replace:
            await self.records.put(KIND, username, user.to_doc())
        elif not await self.records.add(KIND, username, user.to_doc()):
            raise UserError(f"user {username!r} exists (use --replace)")
        return user

    async def remove(self, username: str) -> bool:
        return await self.records.delete(KIND, username)

    async def all(self) -> list[User]:
        return [User.from_doc(r.doc) for r in await self.records.all(KIND)]

    async def login(self, username: str, password: str) -> User | None:
        """The user when the password matches; the same work is done for unknown usernames."""
        user = await self.get(username)
        stored = user.password_hash if user else _dummy()
        ok = await asyncio.to_thread(check_password, stored, password)
        return user if ok and user else None
