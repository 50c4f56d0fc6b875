"""Password guessing is throttled per username and per client address.

Every sign-in attempt is recorded *before* the password is checked, as one auth record per
attempt in the username's group and one in the address's group (``login_attempt``, living
``FHIR_LOGIN_LOCK_SECONDS``); a successful attempt takes its records back (and the username's
earlier failures), so what stays counts failures. When a group holds its limit of failures
(``FHIR_LOGIN_FAILURES_PER_USER``, ``FHIR_LOGIN_FAILURES_PER_ADDRESS``) a ``login_lock`` record
locks it for ``FHIR_LOGIN_LOCK_SECONDS``: every attempt meanwhile is refused without checking
the password, so the right one does not get through either.

All state is in the auth store, so the limits hold across authorization requests and server
processes; since each attempt is its own insert and counted after it, parallel guesses cannot
slip past the count either. Usernames and addresses are kept only as SHA-256 digests, locks
apply to unknown usernames alike (a lock says nothing about whether an account exists), and
nothing here is logged.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from auth.storage import AuthStore
from auth.tokens import digest, new_id
from fhir_server.config import Settings

ATTEMPT = "login_attempt"
LOCK = "login_lock"


@dataclass(frozen=True, slots=True)
class Locked:
    until: float
    """Epoch seconds when sign-in is possible again."""
    by_address: bool
    """The address is locked (else the username)."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One sign-in in progress: the groups it counts in and its records' keys."""

    user: str
    address: str
    keys: tuple[str, str]


def _address_key(address: str | None) -> str:
    """An IPv4 address, or an IPv6 address's /64 (one subscriber's usual allocation)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return digest(f"address:{address}")
    if ip.version == 6:
        return digest(f"address:{ipaddress.ip_network(f'{ip}/64', strict=False)}")
    return digest(f"address:{ip}")


class LoginThrottle:
    def __init__(self, records: AuthStore, settings: Settings) -> None:
        self.records = records
        self.per_user = settings.login_failures_per_user
        self.per_address = settings.login_failures_per_address
        self.seconds = settings.login_lock_seconds

    async def begin(self, username: str, address: str | None) -> Attempt | Locked:
        """Record an attempt, or refuse it: the username or address is locked, or this attempt
        is past a limit (then the lock starts now)."""
        user = digest(f"user:{username.strip().casefold()}")
        where = _address_key(address)
        locked = await self.lock_of(user, where)
        if locked is not None:
            return locked
        attempt = Attempt(user, where, (new_id(), new_id()))
        expires = time.time() + self.seconds
        for group, key in zip((user, where), attempt.keys, strict=True):
            await self.records.put(ATTEMPT, key, {}, expires=expires, group=group)
        return await self._over(attempt, strictly=True) or attempt

    async def failed(self, attempt: Attempt) -> Locked | None:
        """The password was wrong: the lock when this failure reached a limit."""
        return await self._over(attempt, strictly=False)

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: this attempt and the username's failures no longer count
        (the address's other failures do: one valid account must not reset guesses at others)."""
        for record in await self.records.in_group(ATTEMPT, attempt.user):
            await self.records.delete(ATTEMPT, record.key)
        await self.records.delete(ATTEMPT, attempt.keys[1])

    async def lock_of(self, user: str, address: str) -> Locked | None:
        for group, by_address in ((address, True), (user, False)):
            found = await self.records.get(LOCK, group)
            if found is not None and found.expires is not None:
                return Locked(found.expires, by_address)
        return None

    async def _over(self, attempt: Attempt, strictly: bool) -> Locked | None:
        """Lock each group whose count reached its limit (``strictly``: went past it — an
        attempt counted before its password is checked)."""
        limits = ((attempt.address, self.per_address), (attempt.user, self.per_user))
        for group, limit in limits:
            count = len(await self.records.in_group(ATTEMPT, group))
            if count > limit or (count == limit and not strictly):
                # the first locker sets the time; a racing one does not extend it
                await self.records.add(LOCK, group, {}, expires=time.time() + self.seconds)
        return await self.lock_of(attempt.user, attempt.address)
