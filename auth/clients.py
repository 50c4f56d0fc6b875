"""Registered OAuth clients (SMART apps, EHRs, backend services), stored in the database.

Three kinds, as SMART names them: ``public`` (a browser or native app: no secret, PKCE only),
``confidential-symmetric`` (a client secret sent with HTTP Basic; only its SHA-256 is stored, the
secret is shown once at registration) and ``confidential-asymmetric`` (``private_key_jwt``: the
client's public keys registered inline as a JWKS or by URL). Redirect URIs match exactly. A
backend service may be registered for an organization (``--organization``): its tokens carry it
and it acts as that organization (``auth.identity.Directory.acting_for``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

from joserfc.jwk import KeySet, KeySetSerialization

from auth.scope_grants import grantable, is_valid
from auth.storage import AuthStore

KIND = "client"
KINDS = ("public", "confidential-symmetric", "confidential-asymmetric")
ASSERTION_ALGS = ("RS384", "ES384")

APP_SCOPES = (
    "openid fhirUser profile launch launch/patient offline_access online_access"
    " patient/*.cruds user/*.cruds"
)
"""What an app may be granted unless registered with ``--scope``."""
BACKEND_SCOPES = "system/*.cruds"
"""What a backend service may be granted unless registered with ``--scope``."""

_CLIENT_ID = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")
_ORGANIZATION = re.compile(r"^Organization/[A-Za-z0-9\-.]{1,64}$|^[^|\s]{1,200}\|[^|\s]{1,64}$")
"""``Organization/id``, or an identifier ``system|value`` (a SOR code:
``urn:oid:1.2.208.176.1.1|…``)."""


class RegistrationError(ValueError):
    """A registration that cannot work (named field, reason)."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Client:
    """A registered client, as authlib's ``ClientMixin`` expects it."""

    client_id: str
    kind: str
    name: str = ""
    redirect_uris: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ()
    secret_sha256: str | None = None
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    launch_uri: str | None = None
    may_launch: bool = False
    """May create EHR launch contexts (the EHR itself)."""
    may_introspect: bool = False
    """May introspect any token (a resource server), not only its own."""
    organization: str | None = None
    """A backend service's organization, which it acts for (``Organization/id`` or
    ``system|value``)."""
    created: float = field(default=0.0, compare=False)

    @property
    def public(self) -> bool:
        return self.kind == "public"

    # authlib ClientMixin
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        granted = grantable(self.scopes, (scope or "").split())
        return " ".join(granted) if granted else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.secret_sha256 is None:
            return False
        return hmac.compare_digest(self.secret_sha256, _digest(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.auth_method

    @property
    def auth_method(self) -> str:
        return {
            "public": "none",
            "confidential-symmetric": "client_secret_basic",
            "confidential-asymmetric": "private_key_jwt",
        }[self.kind]

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    def origins(self) -> frozenset[str]:
        """The web origins of the redirect URIs (CORS on the token endpoint)."""
        out = set()
        for uri in self.redirect_uris:
            parts = urlsplit(uri)
            if parts.scheme in ("http", "https") and parts.netloc:
                out.add(f"{parts.scheme}://{parts.netloc}")
        return frozenset(out)

    def to_doc(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "kind": self.kind,
            "name": self.name,
            "redirect_uris": list(self.redirect_uris),
            "scopes": list(self.scopes),
            "grant_types": list(self.grant_types),
            "secret_sha256": self.secret_sha256,
            "jwks": self.jwks,
            "jwks_uri": self.jwks_uri,
            "launch_uri": self.launch_uri,
            "may_launch": self.may_launch,
            "may_introspect": self.may_introspect,
            "organization": self.organization,
            "created": self.created,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Client:
        return cls(
            **{
                **doc,
                "redirect_uris": tuple(doc.get("redirect_uris") or ()),
                "scopes": tuple(doc.get("scopes") or ()),
                "grant_types": tuple(doc.get("grant_types") or ()),
            }
        )


@dataclass
class Registration:
    """What ``fhir-server clients add`` asks for."""

    client_id: str
    kind: str
    name: str = ""
    redirect_uris: list[str] = field(default_factory=list)
    scope: str | None = None
    backend: bool = False
    """client_credentials (system-to-system) instead of the authorization code flow."""
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    launch_uri: str | None = None
    may_launch: bool = False
    may_introspect: bool = False
    secret: str | None = None
    """For ``confidential-symmetric``: a chosen secret (else one is generated)."""
    organization: str | None = None
    """For ``backend``: the organization the service acts for."""


def _check_redirect(uri: str) -> None:
    parts = urlsplit(uri)
    if (
        not parts.scheme
        or parts.fragment
        or (parts.scheme in ("http", "https") and not parts.netloc)
    ):
        raise RegistrationError(f"--redirect-uri {uri!r}: an absolute URI without a fragment")


def check_jwks(jwks: dict[str, Any]) -> None:
    """A client JWKS must hold public RSA or P-384 EC keys, each with a ``kid``."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise RegistrationError("--jwks: a JSON Web Key Set with a non-empty 'keys' array")
    for key in keys:
        if not isinstance(key, dict) or not key.get("kid"):
            raise RegistrationError("--jwks: every key needs a 'kid'")
        if key.get("d") is not None:
            raise RegistrationError(f"--jwks: key {key['kid']!r} is private; register public keys")
        if key.get("alg") not in (None, *ASSERTION_ALGS):
            raise RegistrationError(
                f"--jwks: key {key['kid']!r} has alg {key['alg']!r}; use RS384 or ES384"
            )
    try:
        KeySet.import_key_set(cast(KeySetSerialization, jwks))  # its shape checked above
    except Exception as err:  # joserfc raises several error types for malformed keys
        raise RegistrationError(f"--jwks: not a usable key set ({err})") from err


def _grant_types(reg: Registration) -> tuple[str, ...]:
    if reg.backend:
        if reg.kind == "public":
            raise RegistrationError("--backend needs a confidential client (a secret or keys)")
        return ("client_credentials",)
    return ("authorization_code", "refresh_token")


def build(reg: Registration) -> tuple[Client, str | None]:
    """Check a registration and make the client (and its secret, shown once)."""
    if not _CLIENT_ID.match(reg.client_id):
        raise RegistrationError("client id: 1-64 letters, digits or . _ ~ -")
    if reg.kind not in KINDS:
        raise RegistrationError(f"--type: one of {', '.join(KINDS)}")
    grants = _grant_types(reg)
    if "authorization_code" in grants and not reg.redirect_uris:
        raise RegistrationError("--redirect-uri: an app needs at least one")
    for uri in reg.redirect_uris:
        _check_redirect(uri)
    scopes = (reg.scope or (BACKEND_SCOPES if reg.backend else APP_SCOPES)).split()
    for scope in scopes:
        if not is_valid(scope):
            raise RegistrationError(f"--scope: {scope!r} is not a SMART scope")
    secret = None
    if reg.kind == "confidential-symmetric":
        secret = reg.secret or secrets.token_urlsafe(32)
    if reg.kind == "confidential-asymmetric":
        if (reg.jwks is None) == (reg.jwks_uri is None):
            raise RegistrationError("confidential-asymmetric: give --jwks or --jwks-url (one)")
        if reg.jwks is not None:
            check_jwks(reg.jwks)
    elif reg.jwks is not None or reg.jwks_uri is not None:
        raise RegistrationError("--jwks/--jwks-url: only for confidential-asymmetric clients")
    if reg.organization is not None:
        if not reg.backend:
            raise RegistrationError(
                "--organization: only for --backend services (an app's user brings their own)"
            )
        if not _ORGANIZATION.match(reg.organization):
            raise RegistrationError("--organization: Organization/<id> or system|value")
    client = Client(
        client_id=reg.client_id,
        kind=reg.kind,
        name=reg.name or reg.client_id,
        redirect_uris=tuple(reg.redirect_uris),
        scopes=tuple(scopes),
        grant_types=grants,
        secret_sha256=_digest(secret) if secret else None,
        jwks=reg.jwks,
        jwks_uri=reg.jwks_uri,
        launch_uri=reg.launch_uri,
        may_launch=reg.may_launch,
        may_introspect=reg.may_introspect,
        organization=reg.organization,
        created=time.time(),
    )
    return client, secret


class Clients:
    def __init__(self, records: AuthStore) -> None:
        self.records = records

    async def get(self, client_id: str) -> Client | None:
        found = await self.records.get(KIND, client_id)
        return Client.from_doc(found.doc) if found else None

    async def add(self, reg: Registration, replace: bool = False) -> tuple[Client, str | None]:
        """Register (or with ``replace``, re-register) a client; returns it and its new secret."""
        client, secret = build(reg)
        if replace:
            await self.records.put(KIND, client.client_id, client.to_doc())
        elif not await self.records.add(KIND, client.client_id, client.to_doc()):
            raise RegistrationError(f"client {client.client_id!r} exists (use --replace)")
        return client, secret

    async def remove(self, client_id: str) -> bool:
        return await self.records.delete(KIND, client_id)

    async def all(self) -> list[Client]:
        return [Client.from_doc(r.doc) for r in await self.records.all(KIND)]
