"""Token introspection (RFC 7662, as SMART 2.2 asks) and revocation (RFC 7009).

Introspection needs an authenticated caller: a confidential client (HTTP Basic or
``private_key_jwt``), or a bearer access token from this server issued to a client registered
with ``--may-introspect`` (a resource server). A client may introspect its own tokens; only
``--may-introspect`` clients may introspect anyone's. Anything else gets ``{"active": false}``.
An active access token's answer echoes its launch context: ``scope``, ``client_id``, ``exp``,
``iat``, ``sub``, ``iss``, ``aud``, ``patient``, ``encounter`` and ``fhirUser`` (an absolute URL,
as in the id_token).

Revocation revokes the whole grant a token belongs to — every access token issued in it and its
refresh token — whether the access or the refresh token is presented, so an app's access ends
at once when a patient asks for it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from auth.tokens import REFRESH, Grant, digest

if TYPE_CHECKING:
    from auth.clients import Client
    from auth.smart.request import SmartRequest
    from auth.smart.server import SmartServer


@dataclass
class TokenView:
    """An access token (its verified claims) or a refresh token (its grant)."""

    kind: str
    client_id: str
    claims: dict[str, Any]
    grant: Grant | None
    exp: float
    revoked: bool

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def is_expired(self) -> bool:
        return self.exp <= time.time()

    def is_revoked(self) -> bool:
        return self.revoked


def find_token(smart: SmartServer, raw: str, hint: str | None) -> TokenView | None:
    """From authlib's thread: an access token this server signed, or a live refresh token."""
    if hint != "refresh_token":
        claims = smart.wait(smart.issuer.own_claims(raw))
        if claims is not None:
            revoked = smart.wait(smart.revocations.is_revoked(claims["jti"]))
            return TokenView(
                "access_token", claims["client_id"], claims, None, claims["exp"], revoked
            )
    found = smart.wait(smart.records.get(REFRESH, digest(raw)))
    if found is not None and not found.used:
        grant = Grant.from_doc(found.doc)
        return TokenView("refresh_token", grant.client_id, {}, grant, found.doc["exp"], False)
    return None


def _introspection(token: TokenView, base: str) -> dict[str, Any]:
    if token.kind == "access_token":
        claims = dict(token.claims)
        out = {
            k: claims[k] for k in ("scope", "client_id", "exp", "iat", "sub", "iss", "aud", "jti")
        }
        out.update({k: claims[k] for k in ("patient", "encounter") if k in claims})
        if "fhirUser" in claims:
            out["fhirUser"] = f"{base}/{claims['fhirUser']}"
        out["token_type"] = "Bearer"
        return out
    assert token.grant is not None
    grant = token.grant
    out = {
        "scope": " ".join(grant.scope),
        "client_id": grant.client_id,
        "exp": int(token.exp),
        "sub": grant.subject,
        "iss": base,
        "token_type": "refresh_token",
    }
    out.update({k: v for k, v in (("patient", grant.context.patient),
                                  ("encounter", grant.context.encounter)) if v})  # fmt: skip
    if grant.context.fhir_user:
        out["fhirUser"] = f"{base}/{grant.context.fhir_user}"
    return out


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]

    def __init__(self, smart: SmartServer) -> None:
        super().__init__(smart.oauth)
        self.smart = smart

    def authenticate_endpoint_client(self, request: SmartRequest) -> Client:
        auth = request.headers.get("Authorization") or ""
        scheme, _, bearer = auth.partition(" ")
        if scheme.lower() != "bearer":
            return super().authenticate_endpoint_client(request)
        smart = self.smart
        claims = smart.wait(smart.issuer.own_claims(bearer.strip()))
        client = smart.wait(smart.clients.get(claims["client_id"])) if claims else None
        if (
            claims is None
            or client is None
            or not client.may_introspect
            or smart.wait(smart.revocations.is_revoked(claims["jti"]))
        ):
            raise InvalidClientError(
                status_code=401, description="The bearer token may not introspect"
            )
        request.client = client
        return client

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenView | None:
        return find_token(self.smart, token_string, token_type_hint)

    def check_permission(self, token: TokenView, client: Client, request: SmartRequest) -> bool:
        return client.may_introspect or token.check_client(client)

    # authlib calls this with the request our server built: a SmartRequest
    def create_endpoint_response(self, request: SmartRequest) -> tuple[int, Any, list]:  # type: ignore[override]
        status, body, headers = super().create_endpoint_response(request)
        if body.get("active"):
            body = {"active": True, **_introspection(request.smart["token"], request.fhir_base)}
        return status, body, headers

    def authenticate_token(self, request: SmartRequest, client: Client) -> TokenView | None:
        token = super().authenticate_token(request, client)
        request.smart["token"] = token
        return token

    def introspect_token(self, token: TokenView) -> dict[str, Any]:
        return {"active": True}


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt", "none"]

    def __init__(self, smart: SmartServer) -> None:
        super().__init__(smart.oauth)
        self.smart = smart

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenView | None:
        return find_token(self.smart, token_string, token_type_hint)

    def revoke_token(self, token: TokenView, request: SmartRequest) -> None:
        smart = self.smart
        if token.grant is not None:
            smart.wait(smart.revocations.revoke_grant(token.grant.grant_id))
            return
        jti = token.claims["jti"]
        smart.wait(smart.revocations.revoke(jti, token.exp))
        record = smart.wait(smart.records.get("access", jti))
        if record is not None and record.group:
            smart.wait(smart.revocations.revoke_grant(record.group))
