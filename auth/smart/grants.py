"""The three grants (authorization code, refresh token, client credentials) and the rules SMART
adds to authlib's defaults.

Where authlib is more lenient than SMART App Launch 2.2, it is overridden here:

* PKCE: authlib accepts ``plain`` and skips the verifier when the authorization request had no
  challenge or the client is confidential. Here every authorization request needs an ``S256``
  challenge and every code exchange its verifier (``S256Pkce``).
* ``state`` is required, ``aud`` must be this FHIR base, and a ``launch`` scope needs a valid
  EHR launch context (``SmartLaunch``). A break-the-glass request (``purpose_of_use=BTG`` with
  ``btg_reason``, `auth.purpose`) must be well-formed there; whether the user may is decided
  once they have signed in (``auth.smart.interactive``), and a backend service never may.
* Codes are spent on first use; a second use revokes the tokens already issued from them.
  Refresh tokens are checked (client, scope) before they are spent, so a refused refresh leaves
  the token usable; a spent one presented again revokes the grant.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Request,
)
from authlib.oauth2.rfc6749 import grants as rfc6749_grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge

from auth.purpose import NO_PERSON, PurposeError, requested
from auth.scope_grants import covers
from auth.smart.assertion import PrivateKeyJwt
from auth.smart.endpoints import Introspection, Revocation
from auth.smart.oidc import CodeIdToken, RefreshIdToken
from auth.smart.request import SmartRequest, smart_request
from auth.storage import Claim
from auth.tokens import REFRESH, Context, Grant, digest, new_id

if TYPE_CHECKING:
    from auth.clients import Client
    from auth.smart.server import SmartAuthorizationServer, SmartServer
    from auth.users import User

CODE = "code"
CODE_SECONDS = 300
NONCE = "nonce"
AUTH_METHODS = ["client_secret_basic", "private_key_jwt", "none"]


def refresh_seconds(smart: SmartServer, client: Client, scope: list[str]) -> int | None:
    """A refresh token only for ``offline_access`` / ``online_access`` and clients allowed the
    refresh grant."""
    if not client.check_grant_type("refresh_token"):
        return None
    if "offline_access" in scope:
        return smart.settings.refresh_token_days * 86400
    if "online_access" in scope:
        return smart.settings.online_refresh_hours * 3600
    return None


class S256Pkce(CodeChallenge):
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    CODE_CHALLENGE_METHODS = {"S256": compare_s256_code_challenge}

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: 'code_challenge' (S256) is missing")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


class SmartLaunch:
    """SMART's additions to the authorization request: ``state``, ``aud``, ``launch``."""

    def __init__(self, smart: SmartServer) -> None:
        self.smart = smart

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_validate_authorization_request_payload", self.validate)

    def validate(self, grant: Any, redirect_uri: str) -> None:
        request: SmartRequest = grant.request
        data = request.payload.data
        if not data.get("state"):
            raise InvalidRequestError("Missing 'state'")
        aud = (data.get("aud") or "").rstrip("/")
        if aud != request.fhir_base.rstrip("/"):
            raise InvalidRequestError("'aud' must be this FHIR server's base URL")
        launch = data.get("launch")
        try:
            requested(data.get("purpose_of_use"), data.get("btg_reason"))
        except PurposeError as err:
            raise InvalidRequestError(str(err)) from None
        if "launch" in (request.scope or "").split() and not launch:
            raise InvalidRequestError("The 'launch' scope needs a 'launch' parameter (EHR launch)")
        if launch:
            from auth.smart.launch import find_launch

            found = self.smart.wait(find_launch(self.smart, launch))
            if found is None or found.get("client_id") not in (None, request.payload.client_id):
                raise InvalidRequestError("Unknown or expired 'launch'")
            request.smart["launch"] = found


@dataclass
class IssuedCode:
    """An authorization code as authlib's grant reads it."""

    doc: dict[str, Any]
    grant: Grant

    @property
    def code_challenge(self) -> str | None:
        return self.doc.get("code_challenge")

    @property
    def code_challenge_method(self) -> str | None:
        return self.doc.get("code_challenge_method")

    def get_redirect_uri(self) -> str | None:
        return self.doc.get("redirect_uri")

    def get_scope(self) -> str:
        return " ".join(self.grant.scope)

    def get_nonce(self) -> str | None:
        return self.doc.get("nonce")

    def get_auth_time(self) -> int | None:
        return int(self.grant.auth_time) if self.grant.auth_time else None

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


@dataclass
class RefreshView:
    """A stored refresh token as authlib's refresh grant reads it."""

    key: str
    grant: Grant
    seconds: int

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.grant.client_id

    def get_scope(self) -> str:
        return " ".join(self.grant.scope)


class SmartTokens:
    """Issuing through ``auth.tokens.Issuer`` for the grants below."""

    server: SmartAuthorizationServer
    request: OAuth2Request

    @property
    def smart_request(self) -> SmartRequest:
        return smart_request(self.request)

    def _issue(
        self, grant: Grant, lifetime: int, scope: list[str] | None, refresh: int | None
    ) -> dict[str, Any]:
        smart = self.server.smart
        return smart.wait(
            smart.issuer.issue(
                grant,
                base=self.smart_request.fhir_base,
                lifetime=lifetime,
                scope=scope,
                refresh_seconds=refresh,
            )
        )


class CodeGrant(SmartTokens, rfc6749_grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        smart = self.server.smart
        request = smart_request(request)
        client = request.known_client
        user: User | None = request.user
        if user is None:
            raise RuntimeError("a code is only saved for a signed-in user")
        approval = request.smart["approval"]
        grant = Grant(
            new_id(),
            client.client_id,
            user.username,
            approval["scope"],
            approval["context"],
            approval["auth_time"],
        )
        data = request.payload.data
        doc = {
            "client_id": client.client_id,
            "redirect_uri": request.payload.redirect_uri,
            "code_challenge": data.get("code_challenge"),
            "code_challenge_method": data.get("code_challenge_method"),
            "nonce": data.get("nonce"),
            "grant": grant.to_doc(),
        }
        expires = time.time() + CODE_SECONDS
        smart.wait(smart.records.put(CODE, digest(code), doc, expires=expires))
        if data.get("nonce"):
            key = f"{client.client_id}:{data['nonce']}"
            smart.wait(smart.records.put(NONCE, key, {}, expires=time.time() + 86400))

    def query_authorization_code(self, code: str, client: ClientMixin) -> IssuedCode | None:
        smart = self.server.smart
        found = smart.wait(smart.records.get(CODE, digest(code)))
        if found is None or found.doc["client_id"] != client.get_client_id():
            return None
        claimed = smart.wait(smart.records.claim(CODE, digest(code)))
        if claimed is None:
            return None
        record, outcome = claimed
        grant = Grant.from_doc(record.doc["grant"])
        if outcome == Claim.SPENT:  # RFC 6749 4.1.2: revoke what the code already gave
            smart.wait(smart.revocations.revoke_grant(grant.grant_id))
            return None
        return IssuedCode(record.doc, grant)

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        """Spent when queried."""

    def authenticate_user(self, authorization_code: IssuedCode) -> User | None:
        smart = self.server.smart
        return smart.wait(smart.users.get(authorization_code.grant.subject))

    def generate_token(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        request = self.smart_request
        code = request.authorization_code
        if not isinstance(code, IssuedCode):
            raise RuntimeError("a code's token is generated after the code is validated")
        smart = self.server.smart
        refresh = refresh_seconds(smart, request.known_client, code.grant.scope)
        return self._issue(code.grant, smart.settings.access_token_seconds, None, refresh)


class RefreshGrant(SmartTokens, rfc6749_grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    if TYPE_CHECKING:  # authlib's own helpers, which types-Authlib leaves out (private)

        def _validate_request_client(self) -> Client: ...

    def _validate_token_scope(self, token: RefreshView) -> None:
        """A refresh may ask for less than the grant: each requested scope covered by one the
        grant holds (``patient/CarePlan.rs`` under ``patient/*.rs``), not only the grant's
        own scope strings as authlib's subset check requires (docs/security.md)."""
        asked = (self.smart_request.form.get("scope") or "").split()
        held = tuple(token.grant.scope)
        if any(not any(covers(h, want) for h in held) for want in asked):
            raise InvalidScopeError("A requested scope is not within the grant's scopes")

    def validate_token_request(self) -> None:
        request = self.smart_request
        client = self._validate_request_client()
        request.client = client
        raw = request.form.get("refresh_token")
        if not raw:
            raise InvalidRequestError("Missing 'refresh_token'")
        smart = self.server.smart
        found = smart.wait(smart.records.get(REFRESH, digest(raw)))
        if found is None or found.doc["client_id"] != client.client_id:
            raise InvalidGrantError("Unknown, expired or revoked refresh token")
        token = RefreshView(found.key, Grant.from_doc(found.doc), int(found.doc["refresh_seconds"]))
        self._validate_token_scope(token)
        claimed = smart.wait(smart.records.claim(REFRESH, found.key))
        if claimed is None:
            raise InvalidGrantError("Unknown, expired or revoked refresh token")
        if claimed[1] == Claim.SPENT:
            smart.wait(smart.revocations.revoke_grant(token.grant.grant_id))
            raise InvalidGrantError("Refresh token already used: the grant is revoked")
        request.refresh_token = token

    def authenticate_refresh_token(self, refresh_token: str) -> NoReturn:
        raise NotImplementedError("validate_token_request looks refresh tokens up itself")

    def authenticate_user(self, refresh_token: RefreshView) -> User | None:
        smart = self.server.smart
        return smart.wait(smart.users.get(refresh_token.grant.subject))

    def revoke_old_credential(self, refresh_token: object) -> None:
        """Spent when validated."""

    def generate_token(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        request = self.smart_request
        token = request.refresh_token
        if not isinstance(token, RefreshView):
            raise RuntimeError("a refresh token is generated after the old one is validated")
        narrower = (request.payload.scope or "").split() or None
        lifetime = self.server.smart.settings.access_token_seconds
        return self._issue(token.grant, lifetime, narrower, token.seconds)


class BackendGrant(SmartTokens, rfc6749_grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["private_key_jwt", "client_secret_basic"]

    def validate_requested_scope(self) -> None:
        request = self.smart_request
        form = request.form
        if form.get("purpose_of_use") or form.get("btg_reason"):
            try:
                if requested(form.get("purpose_of_use"), form.get("btg_reason")) is not None:
                    raise PurposeError(NO_PERSON)
            except PurposeError as err:
                raise InvalidRequestError(str(err)) from None
        scope = request.payload.scope
        if not scope:
            raise InvalidRequestError("Missing 'scope'")
        granted = request.known_client.get_allowed_scope(scope)
        if granted is None:
            raise InvalidScopeError("None of the requested scopes is registered for this client")
        request.scope = granted

    def generate_token(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        request = self.smart_request
        client = request.known_client
        context = Context(organization_id=client.organization)
        scope = request.scope.split()
        grant = Grant(new_id(), client.client_id, client.client_id, scope, context)
        lifetime = self.server.smart.settings.backend_token_seconds
        return self._issue(grant, lifetime, None, None)


def register(smart: SmartServer) -> None:
    oauth = smart.oauth
    oauth.register_client_auth_method(PrivateKeyJwt.CLIENT_AUTH_METHOD, PrivateKeyJwt(smart))
    oauth.register_grant(CodeGrant, [S256Pkce(), SmartLaunch(smart), CodeIdToken(smart)])
    oauth.register_grant(RefreshGrant, [RefreshIdToken(smart)])
    oauth.register_grant(BackendGrant)
    oauth.register_endpoint(Introspection(smart))
    oauth.register_endpoint(Revocation(smart))


def approval(scope: list[str], context: Context, auth_time: float) -> dict[str, Any]:
    """What the approval page hands ``save_authorization_code`` through ``SmartRequest.smart``."""
    return {"scope": scope, "context": context, "auth_time": auth_time}
