"""The tokens the embedded authorization server issues, and their revocation.

Access tokens are RS256 JWTs signed with the current key of ``auth.keys.KeyStore``::

    header  {"alg": "RS256", "kid": "<current key>", "typ": "JWT"}
    claims  {"iss": "<FHIR base>", "aud": "<FHIR base>", "sub": "<user or client id>",
             "client_id": "...", "scope": "patient/*.rs openid ...", "iat": ..., "exp": ...,
             "jti": "...", "patient": "123", "encounter": "e1", "fhirUser": "Practitioner/p1",
             "organization_id": "Organization/o1", "purpose_of_use": "EMERGENCY",
             "btg_reason": "...", "btg_until": ...}

(``patient``, ``encounter`` and ``fhirUser`` only when there is such a context;
``organization_id`` for a backend service registered for an organization; ``purpose_of_use``
when the authorization request asked for one, and with ``EMERGENCY`` — break-the-glass, see
`auth.purpose` — its reason and end, never after ``exp``; a refresh after that end gives an
ordinary token). Each issued
access token is recorded (its ``jti``, grouped by the grant it belongs to), so revoking a grant
revokes every token from it. Refresh tokens are opaque random strings; only their SHA-256 is
stored, bound to the client and the grant, and each is spent on use (rotation: a refresh returns a
new one; presenting a spent one again revokes the whole grant).

Revoked access tokens are listed in the database until they expire; ``Revocations`` keeps that
list in memory per process and reloads it when it is older than 5 seconds, so a token revoked
through one server process is refused by every other within 5 s.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError

from auth.keys import ALG, KeyStore
from auth.purpose import EMERGENCY
from auth.storage import AuthStore

ACCESS = "access"
REFRESH = "refresh"
REVOKED = "revoked"
SYNC_SECONDS = 5.0


def digest(token: str) -> str:
    """How opaque tokens (codes, refresh tokens) are keyed in the database: never in clear."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_id() -> str:
    return secrets.token_urlsafe(24)


@dataclass(slots=True)
class Context:
    """The launch context a grant carries into its tokens."""

    patient: str | None = None
    encounter: str | None = None
    fhir_user: str | None = None
    need_patient_banner: bool | None = None
    smart_style_url: str | None = None
    organization_id: str | None = None
    """A backend service's registered organization (``Organization/x``)."""
    purpose_of_use: str | None = None
    btg_reason: str | None = None
    btg_until: float | None = None
    """Break-the-glass ends here (epoch seconds), whatever tokens the grant still gives."""

    def to_doc(self) -> dict[str, Any]:
        return {k: v for k in self.__slots__ if (v := getattr(self, k)) is not None}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Context:
        return cls(**{k: doc.get(k) for k in cls.__slots__})


@dataclass(slots=True)
class Grant:
    """One authorization: who (``subject``), which client, which scopes, in which context."""

    grant_id: str
    client_id: str
    subject: str
    scope: list[str]
    context: Context = field(default_factory=Context)
    auth_time: float | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "grant_id": self.grant_id,
            "client_id": self.client_id,
            "subject": self.subject,
            "scope": self.scope,
            "context": self.context.to_doc(),
            "auth_time": self.auth_time,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Grant:
        return cls(
            doc["grant_id"],
            doc["client_id"],
            doc["subject"],
            list(doc["scope"]),
            Context.from_doc(doc.get("context") or {}),
            doc.get("auth_time"),
        )


def access_claims(grant: Grant, base: str, lifetime: int, scope: list[str]) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": base,
        "aud": base,
        "sub": grant.subject,
        "client_id": grant.client_id,
        "scope": " ".join(scope),
        "iat": now,
        "exp": now + lifetime,
        "jti": new_id(),
    }
    ctx = grant.context
    for claim, value in (
        ("patient", ctx.patient),
        ("encounter", ctx.encounter),
        ("fhirUser", ctx.fhir_user),
        ("organization_id", ctx.organization_id),
    ):
        if value is not None:
            claims[claim] = value
    if ctx.purpose_of_use == EMERGENCY:
        if ctx.btg_until is not None and now < ctx.btg_until:
            claims["purpose_of_use"] = EMERGENCY
            claims["btg_reason"] = ctx.btg_reason
            claims["btg_until"] = int(min(ctx.btg_until, claims["exp"]))
    elif ctx.purpose_of_use is not None:
        claims["purpose_of_use"] = ctx.purpose_of_use
    return claims


class Issuer:
    """Signs and records tokens for grants."""

    def __init__(self, records: AuthStore, keys: KeyStore) -> None:
        self.records = records
        self.keys = keys

    def sign(self, claims: dict[str, Any]) -> str:
        key = self.keys.current
        header = {"alg": ALG, "kid": key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, key.key, algorithms=[ALG])

    async def issue(
        self,
        grant: Grant,
        *,
        base: str,
        lifetime: int,
        scope: list[str] | None = None,
        refresh_seconds: int | None = None,
    ) -> dict[str, Any]:
        """The token response for ``grant`` (``scope``: a narrower set for this access token);
        with ``refresh_seconds``, a new refresh token for the whole grant too."""
        scope = grant.scope if scope is None else scope
        claims = access_claims(grant, base, lifetime, scope)
        await self.records.put(
            ACCESS,
            claims["jti"],
            {"client_id": grant.client_id, "sub": grant.subject, "exp": claims["exp"]},
            expires=claims["exp"],
            group=grant.grant_id,
        )
        response: dict[str, Any] = {
            "access_token": self.sign(claims),
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": claims["scope"],
        }
        if refresh_seconds is not None:
            response["refresh_token"] = await self.new_refresh_token(grant, refresh_seconds)
        ctx = grant.context
        for name, value in (
            ("patient", ctx.patient),
            ("encounter", ctx.encounter),
            ("need_patient_banner", ctx.need_patient_banner),
            ("smart_style_url", ctx.smart_style_url),
        ):
            if value is not None:
                response[name] = value
        return response

    async def new_refresh_token(self, grant: Grant, seconds: int) -> str:
        token = secrets.token_urlsafe(48)
        expires = time.time() + seconds
        doc = {**grant.to_doc(), "refresh_seconds": seconds, "exp": int(expires)}
        await self.records.put(REFRESH, digest(token), doc, expires=expires, group=grant.grant_id)
        return token

    async def own_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of an access token this server signed and that has not expired (revocation
        is checked separately); None for anything else."""
        try:
            kid = jws.extract_compact(token.encode()).headers().get("kid")
        except (JoseError, ValueError):
            return None
        if not isinstance(kid, str) or not await self.keys.refresh_for(kid):
            return None
        try:
            decoded = jwt.decode(token, self.keys.key_set(), algorithms=[ALG])
        except (JoseError, ValueError):
            return None
        claims = decoded.claims
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= time.time() or not isinstance(claims.get("jti"), str):
            return None
        return claims


class Revocations:
    """Revoked access tokens (by ``jti``) and revoked grants."""

    def __init__(self, records: AuthStore) -> None:
        self.records = records
        self._revoked: set[str] = set()
        self._synced = float("-inf")

    async def sync(self) -> None:
        self._revoked = {r.key for r in await self.records.all(REVOKED)}
        self._synced = time.monotonic()

    async def is_revoked(self, jti: str) -> bool:
        """Whether the access token ``jti`` was revoked (at most 5 s stale across processes)."""
        if time.monotonic() - self._synced > SYNC_SECONDS:
            await self.sync()
        return jti in self._revoked

    async def revoke(self, jti: str, exp: float) -> None:
        await self.records.put(REVOKED, jti, {"at": time.time()}, expires=exp)
        self._revoked.add(jti)

    async def revoke_grant(self, grant_id: str) -> None:
        """Every access token issued in the grant, and its refresh token."""
        for record in await self.records.in_group(ACCESS, grant_id):
            await self.revoke(record.key, float(record.doc["exp"]))
        for record in await self.records.in_group(REFRESH, grant_id):
            await self.records.delete(REFRESH, record.key)


_installed: Revocations | None = None


def install(revocations: Revocations) -> None:
    """Make ``is_revoked`` answer from this server's revocation list (done at start)."""
    global _installed
    _installed = revocations


async def is_revoked(jti: str) -> bool:
    """Whether an access token of this server was revoked — what the FHIR API's token
    verification asks (``FHIR_AUTH=smart``). At most 5 s stale across server processes."""
    if _installed is None:
        raise RuntimeError("no authorization server started in this process")
    return await _installed.is_revoked(jti)
