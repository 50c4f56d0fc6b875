"""Who is calling: the one seam through which identity and permissions enter every interaction.

`Authenticator.authenticate` turns a request's ``Authorization`` header into a `Principal`:
with ``FHIR_AUTH=off`` the anonymous, all-permitted one; otherwise the verified access token's
client, user (``fhirUser``, resolved to person, role, organization and its parents, and sector,
see `auth.identity`), patient context, parsed scopes, and the actor's purpose of use
(break-the-glass included, `auth.purpose`). Interactions ask the principal — through
`auth.access` — never HTTP headers, what the caller may do; the cross-sector consent policy
narrows it through the same seam (docs/design/consent.md).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auth.identity import CITIZEN as CITIZEN_SECTOR
from auth.identity import NOBODY, Directory, UserContext
from auth.purpose import (
    EMERGENCY,
    NOT_HEALTH,
    REQUEST,
    TREATMENT,
    PurposeError,
    purpose_code,
    reason_text,
    until,
)
from auth.scopes import Grant, parse_scopes
from auth.verify import KeySource, Revoked, TokenError, TokenVerifier, external_issuer, own_issuer
from fhir_server.access import Access, Reader
from fhir_server.config import Settings
from fhir_server.errors import Issue, Unauthorized
from fhir_server.store.base import Store

INTERACTION_LETTERS = {
    "create": "c",
    "read": "r",
    "vread": "r",
    "history-instance": "r",
    "update": "u",
    "patch": "u",
    "delete": "d",
    "search-type": "s",
    "history-type": "s",
    "search-system": "s",
    "history-system": "s",
}
"""The SMART permission letter of each interaction (scopes-and-launch-context, v2 table)."""

CITIZEN = "citizen"
"""A user who is a Patient, or a RelatedPerson acting for one: their patient's data only."""
CLINICIAN = "clinician"
"""A user who is a Practitioner or PractitionerRole."""
USER_KINDS = {
    "Patient": CITIZEN,
    "RelatedPerson": CITIZEN,
    "Practitioner": CLINICIAN,
    "PractitionerRole": CLINICIAN,
}
"""The kinds of user a ``fhirUser`` can name; any other reference is a user of unknown kind."""
_FHIR_USER = re.compile(rf"({'|'.join(USER_KINDS)})/[A-Za-z0-9\-.]{{1,64}}")

PRINCIPAL_TTL = 60.0
"""A principal (with its resolved organization) is reused for at most this long per token."""


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    """Stable id of the caller (user or client id) — for audit, never a token or a CPR number."""
    scopes: Grant = field(default_factory=Grant)
    unrestricted: bool = False
    """True only when authorization is switched off."""
    client_id: str | None = None
    patient: str | None = None
    """The patient in context (launch or standalone patient, or the citizen themself): what a
    ``patient/`` scope limits access to."""
    encounter: str | None = None
    fhir_user: str | None = None
    """``Practitioner/…``, ``PractitionerRole/…``, ``Patient/…`` or ``RelatedPerson/…``
    (relative, see `fhir_user_reference`); None when the token names no user we can place."""
    organization: str | None = None
    """``Organization/x`` the caller acts for (the role's, a backend's registered one, or a
    national token's ``organization_id``)."""
    sector: str | None = None
    """``region``, ``region-psychiatry``, ``municipality-health``, ``municipality-social``,
    ``general-practice`` or ``citizen`` (`auth.identity.sector_of`)."""
    token_id: str | None = None
    """The access token's ``jti`` (for audit)."""
    person: str | None = None
    """``Practitioner/x``, ``Patient/x`` or ``RelatedPerson/x`` — the human acting."""
    authorisation_id: str | None = None
    """The practitioner's Danish authorisation id (``https://autregweb.sst.dk``)."""
    role: str | None = None
    """``PractitionerRole/x`` the practitioner acts in."""
    organizations: tuple[str, ...] = ()
    """``organization`` and its ``Organization.partOf`` parents, nearest first."""
    organization_identifiers: Mapping[str, tuple[tuple[str, str], ...]] = field(
        default_factory=dict, compare=False, hash=False
    )
    """Per organization of `organizations`: its identifiers (system, value), e.g. SOR."""
    health_professional: bool = False
    """A practitioner acting in a health sector (`auth.identity.HEALTH_SECTORS`)."""
    purpose: str | None = None
    """``TREATMENT``, ``EMERGENCY`` or ``REQUEST`` (`auth.purpose`): the token's, else
    TREATMENT for a practitioner or an organization's service, REQUEST for a citizen."""
    btg_reason: str | None = None
    """The stated reason of a break-the-glass (only with ``EMERGENCY``)."""
    btg_until: float | None = None
    """When the break-the-glass ends (epoch seconds; never after the token's ``exp``)."""
    is_over_15: bool | None = None
    """A citizen's age as the token (``is_over_15``) or their birth date says; None: unknown."""
    children_in_custody: tuple[str, ...] = ()
    """Patient ids of the children a national token says the user has custody of."""
    identity: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    """What of the token's claims makes this principal again without the token (`Authenticator
    .grant_of`): recorded with a Subscription it writes, so its notifications are read as it
    may read (client, subject, user, organization, scopes, patient; never the token)."""
    decisions: dict[Any, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)
    """`auth.access.scopes`'s answers per (type, permission), worked out once per principal."""
    claims: Mapping[str, Any] | None = field(default=None, compare=False, hash=False, repr=False)
    """The verified access token's claims it was made from (None: not made from a token)."""

    @property
    def held(self) -> dict[str, Any] | None:
        """What `Authenticator.regrant` makes this principal again from (`Grant.held`): its
        token's claims; ``{}`` when authorization is off; None for any other."""
        if self.unrestricted:
            return {}
        return dict(self.claims) if self.claims is not None else None

    @property
    def user_kind(self) -> str | None:
        """`CITIZEN`, `CLINICIAN`, or None when the token names no user (or none we know)."""
        if self.fhir_user is None:
            return None
        return USER_KINDS.get(self.fhir_user.split("/", 1)[0])

    @property
    def holders(self) -> tuple[str, ...]:
        """The references a care relationship of this caller may be held by: the person, the
        role and each organization up the ``partOf`` chain."""
        return tuple(h for h in (self.person, self.role, *self.organizations) if h)

    def btg_active(self, now: float) -> bool:
        """Whether a break-the-glass holds at ``now`` (epoch seconds)."""
        return (
            self.purpose == EMERGENCY
            and self.health_professional
            and self.btg_until is not None
            and now < self.btg_until
        )

    def bind(self, reader: Reader) -> Access:
        """This principal's `Access` (`fhir_server.access.Grant`), reading through ``reader``."""
        from auth.access import access_for  # auth.access builds on this module

        return access_for(self, reader)

    def may(self, interaction: str, type_: str | None) -> bool:
        """Whether some scope lets the caller perform ``interaction`` (``read``,
        ``search-type``, …) on ``type_`` at all; which instances: `auth.access`."""
        if self.unrestricted:
            return True
        letter = INTERACTION_LETTERS.get(interaction)
        return letter is not None and type_ is not None and bool(usable(self, type_, letter))


def user_principal(
    username: str, fhir_user: str | None, user: UserContext, scope: str, **token: Any
) -> Principal:
    """The principal of a user as the data places them (`UserContext`), with ``scope`` — the
    one place a principal is made from a user: for a token (``token``: what its claims add) and
    before any token exists (the SMART patient picker, an EHR launch's patient)."""
    patient = token.pop("patient", None) or user.patient
    token.setdefault("purpose", TREATMENT if user.health_professional else REQUEST)
    token.setdefault("is_over_15", user.is_over_15)
    return Principal(
        subject=username,
        scopes=parse_scopes(scope),
        patient=patient,
        fhir_user=fhir_user,
        organization=user.organization,
        sector=user.sector,
        person=user.person,
        authorisation_id=user.authorisation_id,
        role=user.role,
        organizations=user.organizations,
        organization_identifiers=user.organization_identifiers,
        health_professional=user.health_professional,
        **token,
    )


def usable(principal: Principal, type_: str, letters: str) -> tuple[Any, ...]:
    """The principal's scopes granting any of ``letters`` on ``type_`` that it can use: a
    ``patient/`` scope needs a patient in context."""
    found = principal.scopes.for_type(type_, letters)
    if principal.patient is None:
        found = tuple(s for s in found if s.context != "patient")
    return found


ANONYMOUS_UNRESTRICTED = Principal(subject="anonymous (FHIR_AUTH=off)", unrestricted=True)


def _unauthorized(err: TokenError) -> Unauthorized:
    code = "expired" if err.code == "expired" else "security"
    issue = Issue(code, err.description)
    return Unauthorized(err.description, issues=[issue], token_error="invalid_token")


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer …`` header, or 401."""
    if not authorization:
        raise Unauthorized("This server requires an access token (Authorization: Bearer …)")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized(TokenError("invalid", "Authorization must be 'Bearer <token>'"))
    return token


class Authenticator:
    """One per app: the verifier (with its token cache), the directory (with its cache) and
    the principals already built, per token."""

    def __init__(
        self,
        mode: str,
        verifier: TokenVerifier | None = None,
        directory: Directory | None = None,
        clock: Any = time.time,
        btg_seconds: int = 4 * 3600,
    ) -> None:
        if mode != "off" and (verifier is None or directory is None):
            raise ValueError(f"FHIR_AUTH={mode} needs a token verifier and a directory")
        self.mode = mode
        self.public = PUBLIC
        self.verifier = verifier
        self.directory = directory
        self.clock = clock
        self.btg_seconds = btg_seconds
        self._principals: dict[str, tuple[float, Principal]] = {}

    async def authenticate(self, authorization: str | None, base: str) -> Principal:
        if self.mode == "off":
            return ANONYMOUS_UNRESTRICTED
        assert self.verifier is not None
        token = bearer_token(authorization)
        try:
            claims = await self.verifier.verify(token, base)
        except TokenError as err:
            raise _unauthorized(err) from None
        now = self.clock()
        known = self._principals.get(token)
        if known is not None and now < known[0]:
            return known[1]
        try:
            principal = await self._build(claims, base, now)
        except PurposeError as err:
            raise _unauthorized(TokenError("invalid", str(err))) from None
        if len(self._principals) > 20_000:
            self._principals.clear()
        until = min(now + PRINCIPAL_TTL, float(claims.get("exp") or now))
        self._principals[token] = (until, principal)
        return principal

    async def regrant(self, held: dict[str, Any] | None, base: str) -> Principal:
        """The principal of a token's claims kept by `Principal.held`, as the data places its
        user now (work started by a request that outlives it: a bulk export's resumption).
        Claims that no longer make a principal (a break-the-glass without its reason) are
        refused (401)."""
        if self.mode == "off":
            return ANONYMOUS_UNRESTRICTED
        if held is None:
            raise Unauthorized("The grant this work was started with cannot be restored")
        try:
            return await self._build(held, base, self.clock())
        except PurposeError as err:
            raise _unauthorized(TokenError("invalid", str(err))) from None

    async def _build(self, claims: dict[str, Any], base: str, now: float) -> Principal:
        assert self.directory is not None
        fhir_user = fhir_user_reference(claims.get("fhirUser"), base)
        user: UserContext = await self.directory.resolve(fhir_user)
        organization = _text(claims.get("organization_id"))
        if organization is not None:
            user = await self.directory.acting_for(user, organization)
        client_id = _text(claims.get("client_id")) or _text(claims.get("azp"))
        scope = claims.get("scope")
        purpose, reason, btg_until = self._purpose(claims, user, now)
        over_15 = _flag(claims.get("is_over_15"))
        custody = _texts(claims.get("children_in_custody"))
        return user_principal(
            _text(claims.get("sub")) or client_id or "unknown",
            fhir_user,
            user,
            scope if isinstance(scope, str) else "",
            client_id=client_id,
            patient=_text(claims.get("patient")),
            encounter=_text(claims.get("encounter")),
            token_id=_text(claims.get("jti")),
            purpose=purpose,
            btg_reason=reason,
            btg_until=btg_until,
            is_over_15=user.is_over_15 if over_15 is None else over_15,
            children_in_custody=await self.directory.patients_by_cpr(custody) if custody else (),
            claims=claims,
            identity=_identity(claims, fhir_user, client_id),
        )

    async def grant_of(self, identity: Mapping[str, str]) -> Principal:
        """The principal ``identity`` (`Principal.identity`) describes, as it is now: its user
        placed by today's directory, its recorded scopes, no break-the-glass (an emergency
        ends with its token). Nothing is granted for an empty identity unless auth is off."""
        if self.mode == "off":
            return ANONYMOUS_UNRESTRICTED
        if not identity:
            return PUBLIC
        return await self._build(dict(identity), "", self.clock())

    def _purpose(
        self, claims: dict[str, Any], user: UserContext, now: float
    ) -> tuple[str | None, str | None, float | None]:
        """Purpose of use, break-the-glass reason and end. An EMERGENCY needs a reason and a
        health professional (`PurposeError`: the token is refused); it lasts from the token's
        issue (or ``btg_until``, which only this server's own tokens carry) for at most
        ``btg_seconds``, and never beyond ``exp``."""
        purpose = purpose_code(claims.get("purpose_of_use"))
        if purpose != EMERGENCY:
            if purpose is None and user != NOBODY:
                purpose = REQUEST if user.sector == CITIZEN_SECTOR else TREATMENT
            return purpose, None, None
        reason = reason_text(claims.get("btg_reason"))
        if not user.health_professional:
            raise PurposeError(NOT_HEALTH)
        exp = _number(claims.get("exp"))
        start = _number(claims.get("iat"))
        end = until(now if start is None else min(start, now), self.btg_seconds, exp)
        own = _number(claims.get("btg_until"))
        return EMERGENCY, reason, end if own is None else min(own, end)


def authenticator_for(
    settings: Settings,
    store: Store,
    keys: KeySource | None = None,
    is_revoked: Revoked | None = None,
) -> Authenticator:
    """The authenticator of ``settings.auth``: ``smart`` verifies the embedded authorization
    server's tokens with ``keys`` (its key store) and ``is_revoked`` (its revocation list);
    ``resource-server`` the configured issuers' tokens by their published JWKS."""
    if settings.auth == "off":
        return Authenticator("off")
    if settings.auth == "smart":
        if keys is None:
            raise ValueError("FHIR_AUTH=smart needs the authorization server's key store")
        issuers = [own_issuer(keys)]
    else:
        issuers = [external_issuer(c) for c in settings.auth_issuers]
        if not issuers:
            raise ValueError("FHIR_AUTH=resource-server needs FHIR_AUTH_ISSUERS")
    verifier = TokenVerifier(issuers, is_revoked)
    directory = Directory(store)
    return Authenticator(settings.auth, verifier, directory, btg_seconds=settings.btg_seconds)


PUBLIC = Principal(subject="anonymous")
"""A caller without a token where none is needed (the CapabilityStatement): no scopes."""


def fhir_user_reference(claim: Any, base: str) -> str | None:
    """The ``fhirUser`` claim as ``Type/id`` — the one place it is read, so every decision
    sees the same user. SMART sends it as an absolute URL on this server
    (``https://…/fhir/Patient/x``) or relative; a URL on another server, a version, a type
    that is no kind of user or anything else unparsable gives None (a user of unknown kind,
    whom `auth.access` grants nothing through ``user/`` scopes)."""
    text = _text(claim)
    if text is None:
        return None
    if "://" in text:
        prefix = base.rstrip("/") + "/"
        if not text.startswith(prefix):
            return None
        text = text[len(prefix) :]
    return text if _FHIR_USER.fullmatch(text) else None


def _identity(
    claims: dict[str, Any], fhir_user: str | None, client_id: str | None
) -> dict[str, str]:
    found = {
        "sub": _text(claims.get("sub")),
        "client_id": client_id,
        "fhirUser": fhir_user,
        "organization_id": _text(claims.get("organization_id")),
        "scope": _text(claims.get("scope")),
        "patient": _text(claims.get("patient")),
    }
    return {k: v for k, v in found.items() if v is not None}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _flag(value: Any) -> bool | None:
    """A boolean claim; SAML-derived tokens often send ``"true"``/``"false"``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _texts(value: Any) -> list[str]:
    """A multi-valued claim: a list of strings, or one string (space or comma separated)."""
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return []
