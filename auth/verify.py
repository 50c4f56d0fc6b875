"""Access-token verification: a JWT's signature against its issuer's JWKS, then ``exp``, ``nbf``,
``iss``, ``aud`` and revocation of its ``jti``.

Two kinds of issuer: the embedded SMART authorization server (``FHIR_AUTH=smart``: its issuer and
audience are the FHIR base, its keys come from the key store's ``public_jwks()``), and external
identity providers (``FHIR_AUTH=resource-server``: each configured with its issuer, JWKS URL,
audience and claim mapping; their JWKS fetched over HTTPS and cached).

Verifying an RS256 signature costs ~60 µs, far more than serving a read, so a verified token is
remembered (by the whole token string, never by its signature alone: a forged payload under a
copied signature must miss) until it expires; each hit re-checks ``exp`` and asks whether the
``jti`` was revoked (the revocation source answers from memory and syncs with the database
every few seconds: a revocation counts at once in the process that made it and within seconds
on the others).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import inspect
import json
import time
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from fhir_server.config import ClaimMapping

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "ES256", "ES384")
"""Asymmetric algorithms only: ``none`` and the HMAC family (whose key would be public) never."""
LEEWAY = 5
"""Seconds of clock skew tolerated on ``exp`` and ``nbf``."""
JWKS_TTL = 300.0
"""How long fetched JWKS are used before they are fetched again."""
JWKS_RETRY = 30.0
"""An unknown ``kid`` refetches the JWKS (key rotation), at most this often per issuer."""
CACHE_SIZE = 20_000

SELF = "self"
"""The issuer (and audience) that is this server's own FHIR base."""

Jwks = Mapping[str, Any]
Revoked = Callable[[str], "bool | Awaitable[bool]"]
Clock = Callable[[], float]


class KeySource(Protocol):
    """What the embedded authorization server's key store offers (``auth.keys.KeyStore``):
    the public signing keys, current and recently rotated, as a JWKS document. A store that
    also has ``refresh_for(kid)`` (reload when another process rotated the keys) is asked
    before a token with an unknown ``kid`` is refused."""

    def public_jwks(self) -> Jwks | Awaitable[Jwks]: ...


class TokenError(Exception):
    """A token that must be refused with 401; ``code`` names why (for the OperationOutcome and
    the ``WWW-Authenticate`` ``error_description``)."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass(frozen=True, slots=True)
class Issuer:
    """One trusted issuer. ``issuer``/``audience`` `SELF` stand for the request's FHIR base."""

    issuer: str
    jwks: Callable[[], Awaitable[Jwks]]
    audience: str = SELF
    claims: Mapping[str, str] = field(default_factory=dict)
    """Our claim name → the issuer's (``{"client_id": "azp", "scope": "scp"}``)."""
    algorithms: tuple[str, ...] = ALGORITHMS
    refresh: Callable[[str], Awaitable[Any]] | None = None
    """Asked to reload the keys when a token names an unknown ``kid``."""


def own_issuer(keys: KeySource) -> Issuer:
    """The embedded authorization server: tokens it signed with a key from ``keys``."""

    async def jwks() -> Jwks:
        found = keys.public_jwks()
        return await found if inspect.isawaitable(found) else found

    return Issuer(SELF, jwks, refresh=getattr(keys, "refresh_for", None))


_CLAIM_NAMES = {"subject": "sub", "fhir_user": "fhirUser"}
"""Settings' claim-mapping field names that differ from the claim names they stand for."""
SERVER_ONLY = ("btg_until",)
"""Claims only this server's own tokens may carry (an external token's are dropped: a
break-the-glass's end is worked out here, from ``FHIR_BTG_SECONDS``)."""


def external_issuer(config: Any) -> Issuer:
    """An issuer from ``FHIR_AUTH_ISSUERS`` (a settings model or its JSON): ``issuer``,
    ``jwks_uri``, optional ``audience``, ``algorithms`` and ``claims`` (our name → theirs)."""
    if hasattr(config, "model_dump"):
        config = config.model_dump()
    missing = [k for k in ("issuer", "jwks_uri") if not isinstance(config.get(k), str)]
    if missing:
        raise ValueError(f"FHIR_AUTH_ISSUERS entry {config!r} lacks {', '.join(missing)}")
    uri = config["jwks_uri"]

    async def jwks() -> Jwks:
        return await asyncio.to_thread(_fetch_json, uri)

    mapping = ClaimMapping.model_validate(config.get("claims") or {})  # unknown keys refused
    claims = {_CLAIM_NAMES.get(ours, ours): theirs for ours, theirs in mapping.model_dump().items()}
    wanted = config.get("algorithms") or ALGORITHMS
    return Issuer(
        config["issuer"].rstrip("/"),
        jwks,
        str(config.get("audience") or SELF),
        claims,
        tuple(a for a in wanted if a in ALGORITHMS),
    )


def _fetch_json(url: str) -> Jwks:
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ValueError(f"JWKS must be fetched over HTTPS, not {url!r}")
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@dataclass(slots=True)
class _Keys:
    keys: KeySet
    fetched: float


@dataclass(frozen=True, slots=True)
class Verified:
    """A token that passed: its claims in our names (see `Issuer.claims`)."""

    claims: dict[str, Any]
    exp: float
    audience: str
    jti: str | None


class TokenVerifier:
    def __init__(
        self,
        issuers: list[Issuer],
        is_revoked: Revoked | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.issuers = issuers
        self.is_revoked = is_revoked
        self.clock = clock
        self._keys: dict[str, _Keys] = {}
        self._tokens: dict[str, Verified] = {}

    async def verify(self, token: str, base: str) -> dict[str, Any]:
        """The token's claims, or `TokenError`; ``base`` is the FHIR base of the request."""
        now = self.clock()
        hit = self._tokens.get(token)
        if hit is None or hit.audience != base:
            hit = await self._verify_signed(token, base, now)
            self._remember(token, hit, now)
        elif hit.exp + LEEWAY <= now:
            del self._tokens[token]
            raise TokenError("expired", "The access token has expired")
        if hit.jti is not None and await self._revoked(hit.jti, now):
            raise TokenError("revoked", "The access token was revoked")
        return hit.claims

    async def _verify_signed(self, token: str, base: str, now: float) -> Verified:
        header, payload = _unverified(token)
        alg = header.get("alg")
        issuer = self._issuer(payload.get("iss"), base)
        if alg not in issuer.algorithms:
            raise TokenError("invalid", f"Tokens signed with alg {alg!r} are not accepted")
        key = await self._key(issuer, header.get("kid"), now)
        try:
            jws.deserialize_compact(token, key, algorithms=[alg])
        except (JoseError, ValueError) as err:
            raise TokenError("invalid", "The access token's signature is not valid") from err
        claims = _mapped(payload, issuer.claims)
        audience = base if issuer.audience == SELF else issuer.audience
        exp = _check_times(payload, now)
        _check_audience(payload.get("aud"), audience)
        jti = payload.get("jti")
        return Verified(claims, exp, base, jti if isinstance(jti, str) else None)

    def _issuer(self, iss: Any, base: str) -> Issuer:
        if isinstance(iss, str):
            wanted = iss.rstrip("/")
            for issuer in self.issuers:
                if (base if issuer.issuer == SELF else issuer.issuer) == wanted:
                    return issuer
        raise TokenError("invalid", f"Tokens issued by {iss!r} are not accepted here{_at(base)}")

    async def _key(self, issuer: Issuer, kid: Any, now: float) -> Any:
        cached = self._keys.get(issuer.issuer)
        if cached is None or now - cached.fetched > JWKS_TTL:
            cached = await self._fetch(issuer, now)
        key = _pick(cached.keys, kid)
        if key is None and issuer.refresh is not None and isinstance(kid, str):
            await issuer.refresh(kid)  # the key store reloads (rate-limited on its side)
            key = _pick((await self._fetch(issuer, now)).keys, kid)
        elif key is None and now - cached.fetched > JWKS_RETRY:  # perhaps a rotated key
            key = _pick((await self._fetch(issuer, now)).keys, kid)
        if key is None:
            raise TokenError("invalid", f"The token's signing key {kid!r} is not known")
        return key

    async def _fetch(self, issuer: Issuer, now: float) -> _Keys:
        try:
            keys = KeySet.import_key_set(dict(await issuer.jwks()))  # type: ignore[arg-type]
        except Exception as err:  # an unreachable or broken JWKS: refuse, do not crash
            raise TokenError("invalid", "The issuer's signing keys are not available") from err
        self._keys[issuer.issuer] = fetched = _Keys(keys, now)
        return fetched

    async def _revoked(self, jti: str, now: float) -> bool:
        """Asked on every use: the revocation source keeps its own short cache (the embedded
        server's `auth.tokens.Revocations`: a set in memory, synced with the database every few
        seconds), so a revocation made by this process counts at once."""
        if self.is_revoked is None:
            return False
        answer = self.is_revoked(jti)
        return bool(await answer if inspect.isawaitable(answer) else answer)

    def _remember(self, token: str, verified: Verified, now: float) -> None:
        if len(self._tokens) >= CACHE_SIZE:
            for key in [k for k, v in self._tokens.items() if v.exp <= now]:
                del self._tokens[key]
            if len(self._tokens) >= CACHE_SIZE:  # still full of live tokens: forget the oldest
                for key in list(self._tokens)[: CACHE_SIZE // 2]:
                    del self._tokens[key]
        self._tokens[token] = verified


def _b64json(part: str, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError) as err:
        raise TokenError("invalid", f"The access token's {what} is not base64url JSON") from err
    if not isinstance(value, dict):
        raise TokenError("invalid", f"The access token's {what} is not a JSON object")
    return value


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload, read only to choose the issuer and key; trusted after the check."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise TokenError("invalid", "The access token is not a signed JWT (header.payload.sig)")
    return _b64json(parts[0], "header"), _b64json(parts[1], "payload")


def _pick(keys: KeySet, kid: Any) -> Any:
    if isinstance(kid, str):
        try:
            return keys.get_by_kid(kid)
        except (JoseError, ValueError, KeyError):
            return None
    return keys.keys[0] if len(keys.keys) == 1 else None


def _check_times(payload: dict[str, Any], now: float) -> float:
    exp, nbf = payload.get("exp"), payload.get("nbf")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise TokenError("invalid", "The access token has no numeric exp")
    if exp + LEEWAY <= now:
        raise TokenError("expired", "The access token has expired")
    if isinstance(nbf, int | float) and nbf - LEEWAY > now:
        raise TokenError("invalid", "The access token is not valid yet (nbf)")
    return float(exp)


def _check_audience(aud: Any, audience: str) -> None:
    wanted = audience.rstrip("/")
    found = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(isinstance(a, str) and a.rstrip("/") == wanted for a in found):
        raise TokenError(
            "invalid", f"The access token is not meant for {audience} (aud){_at(audience)}"
        )


def _at(base: str) -> str:
    """What to do when a token was made for another base (``127.0.0.1`` used on ``localhost``
    is the usual case): tokens are bound to the base they were issued for."""
    return (
        f"; this server's FHIR base here is {base}: get a token issued for it, or call the"
        " base the token was issued for (set FHIR_BASE_URL to give the server one base"
        " whatever the host name)"
    )


_OURS = (
    "sub",
    "client_id",
    "scope",
    "patient",
    "encounter",
    "fhirUser",
    "jti",
    "iss",
    "purpose_of_use",
    "btg_reason",
    "is_over_15",
    "children_in_custody",
    "organization_id",
)


def _mapped(payload: dict[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """The claims under our names; a list-valued scope (``scp``) becomes the usual string."""
    if not mapping:
        return payload
    out = dict(payload)
    for name in SERVER_ONLY:
        out.pop(name, None)
    for ours in _OURS:
        theirs = mapping.get(ours)
        if theirs is not None:
            out[ours] = payload.get(theirs)
    if isinstance(out.get("scope"), list):
        out["scope"] = " ".join(str(s) for s in out["scope"])
    return out


async def verify_access_token(
    token: str,
    base: str,
    keys: KeySource,
    is_revoked: Revoked | None = None,
) -> dict[str, Any]:
    """One-off verification of a token of the embedded server (e.g. for introspection); the
    FHIR API keeps one `TokenVerifier`, whose cache makes repeated checks cheap."""
    return await TokenVerifier([own_issuer(keys)], is_revoked).verify(token, base)
