"""OpenID Connect for SMART's ``openid fhirUser``: an RS256 id_token signed with the server's
current key, for the authorization code grant (with ``nonce``) and the refresh grant.

Claims: ``iss`` (the FHIR base, as in the OpenID configuration), ``sub`` (the username), ``aud``
(the client id), ``iat``, ``exp``, ``auth_time``, ``at_hash``, ``nonce`` when sent, ``fhirUser``
(the absolute URL of the user's FHIR resource) with the ``fhirUser`` scope, ``name`` with
``profile``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode, OpenIDToken
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt

from auth.keys import ALG
from auth.smart.request import smart_request

if TYPE_CHECKING:
    from auth.smart.server import SmartServer
    from auth.users import User


class _SmartIdToken:
    smart: SmartServer
    get_authorization_code_claims: Any  # OpenIDToken's

    def get_compatible_claims(self, request: OAuth2Request) -> dict[str, Any]:
        request = smart_request(request)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": request.fhir_base,
            "aud": request.known_client.client_id,
            "iat": now,
            "exp": now + self.smart.settings.access_token_seconds,
        }
        refreshed = getattr(request, "refresh_token", None)
        if refreshed is not None and refreshed.grant.auth_time:
            claims["auth_time"] = int(refreshed.grant.auth_time)
        return claims

    def encode_id_token(self, token: dict[str, Any], request: OAuth2Request) -> str:
        """authlib's, with the user's claims built from this request's FHIR base."""
        request = smart_request(request)
        user: User | None = request.user
        if user is None:
            raise RuntimeError("an id_token is only issued for a signed-in user")
        claims = self.get_compatible_claims(request)
        code = request.authorization_code
        if code is not None:
            claims.update(self.get_authorization_code_claims(code))
        at_hash = create_half_hash(token["access_token"], ALG)
        if at_hash is not None:
            claims["at_hash"] = at_hash.decode()
        claims.update(user_claims(user, token["scope"], request.fhir_base))
        key = self.smart.keys.current
        header = {"alg": ALG, "kid": key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, key.key, algorithms=[ALG])

    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        raise NotImplementedError("encode_id_token builds the user's claims")


def user_claims(user: User, scope: str, base: str) -> dict[str, Any]:
    scopes = scope.split()
    info: dict[str, Any] = {"sub": user.username}
    if "fhirUser" in scopes:
        info["fhirUser"] = f"{base}/{user.fhir_user}"
    if "profile" in scopes and user.name:
        info["name"] = user.name
    return info


class CodeIdToken(_SmartIdToken, OpenIDCode):
    def __init__(self, smart: SmartServer) -> None:
        super().__init__(require_nonce=False)
        self.smart = smart

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        key = f"{smart_request(request).payload.client_id}:{nonce}"
        return self.smart.wait(self.smart.records.get("nonce", key)) is not None


class RefreshIdToken(_SmartIdToken, OpenIDToken):
    def __init__(self, smart: SmartServer) -> None:
        self.smart = smart
