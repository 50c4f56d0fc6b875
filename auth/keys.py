"""The authorization server's signing keys: RSA keys kept in the database (so every server
process signs with the same key and verifies every other's tokens), published as a JWKS.

The first process to start on an empty database makes a 2048-bit RSA key; processes that race to
do so each insert one and then all agree on the newest (by creation time, then ``kid``).
``fhir-server keys rotate`` adds a new current key and keeps the previous one published until
the tokens it signed have expired. Private keys are stored unencrypted in the database: protect
the database file (or MongoDB access) as you would the key itself.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from joserfc.jwk import KeySet, KeySetSerialization, RSAKey

from auth.storage import AuthStore

KIND = "signing_key"
ALG = "RS256"
_RELOAD_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    created: float
    key: RSAKey


def _new_key() -> dict[str, Any]:
    key = RSAKey.generate_key(2048, {"alg": ALG, "use": "sig"}, private=True, auto_kid=True)
    return {"jwk": key.as_dict(private=True), "created": time.time()}


@lru_cache(maxsize=64)
def _imported(jwk: str) -> RSAKey:
    """The key of a stored JWK (JSON text). Importing a private RSA key checks it, tens of
    milliseconds of CPU; a process re-reads its keys every few seconds (``_RELOAD_SECONDS``) and
    the test suite starts thousands of apps over the same few stored keys, so each distinct key
    is imported once per process."""
    return RSAKey.import_key(json.loads(jwk))


class KeyStore:
    """The signing keys of one authorization server (one database)."""

    def __init__(self, records: AuthStore) -> None:
        self.records = records
        self._keys: list[SigningKey] = []
        self._public: dict[str, Any] = {"keys": []}
        self._loaded_at = 0.0

    async def load(self) -> None:
        """Read the keys, creating the first one if there is none."""
        found = await self.records.all(KIND)
        if not found:
            fresh = _new_key()
            await self.records.add(KIND, fresh["jwk"]["kid"], fresh)
            found = await self.records.all(KIND)
        keys = [
            SigningKey(
                r.key, float(r.doc["created"]), _imported(json.dumps(r.doc["jwk"], sort_keys=True))
            )
            for r in found
        ]
        keys.sort(key=lambda k: (k.created, k.kid), reverse=True)
        self._keys = keys
        self._public = {"keys": [k.key.as_dict(private=False) for k in keys]}
        self._loaded_at = time.monotonic()

    async def rotate(self) -> str:
        """Make a new current key; keep only the one before it besides. Returns the new kid."""
        await self.load()
        fresh = _new_key()
        await self.records.add(KIND, fresh["jwk"]["kid"], fresh)
        for old in self._keys[1:]:
            await self.records.delete(KIND, old.kid)
        await self.load()
        return self.current.kid

    @property
    def current(self) -> SigningKey:
        if not self._keys:
            raise RuntimeError("KeyStore.load() was not awaited")
        return self._keys[0]

    def public_jwks(self) -> dict[str, Any]:
        """The JWKS document published at ``/fhir/.well-known/jwks.json``."""
        return self._public

    def key_set(self) -> KeySet:
        """The public keys, for verifying this server's own tokens."""
        # the JWKS this store built from its own keys (``rotate``/``load``)
        return KeySet.import_key_set(cast(KeySetSerialization, self._public))

    def kids(self) -> frozenset[str]:
        return frozenset(k.kid for k in self._keys)

    async def refresh_for(self, kid: str) -> bool:
        """Reload when a token names a key this process has not seen (another process rotated),
        at most every few seconds; whether ``kid`` is known afterwards."""
        if kid not in self.kids() and time.monotonic() - self._loaded_at > _RELOAD_SECONDS:
            await self.load()
        return kid in self.kids()
