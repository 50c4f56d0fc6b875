"""``private_key_jwt`` client authentication as SMART's asymmetric clients and backend services
use it (RFC 7523 with SMART's rules), in place of authlib's more lenient defaults:

* the header's ``alg`` must be RS384 or ES384 (``none``, RS256, HS256, … are refused) and its
  ``kid`` must name a key the client registered — inline, or at its JWKS URL (fetched, cached
  for 5 minutes, fetched again for an unknown ``kid``);
* ``iss`` and ``sub`` are the client id, ``aud`` is this token endpoint's URL, ``exp`` is in the
  future and at most 5 minutes ahead (30 s of clock skew allowed either way);
* a ``jti`` is accepted once: it is recorded per client in the database and kept a day past the
  assertion's ``exp`` (after which the assertion itself is long expired).
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from auth.clients import ASSERTION_ALGS

if TYPE_CHECKING:
    from auth.clients import Client
    from auth.smart.request import SmartRequest
    from auth.smart.server import SmartServer

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_AHEAD = 300
SKEW = 30
JTI = "jti"
_JWKS_TTL = 300.0
_JWKS_REFETCH = 10.0
_JWKS_MAX_BYTES = 1 << 20


class JwksCache:
    """Client JWKS documents fetched by URL."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def get(self, url: str, kid: str) -> dict[str, Any]:
        cached = self._cache.get(url)
        age = time.monotonic() - cached[0] if cached else float("inf")
        if cached and age < _JWKS_TTL and (_has_kid(cached[1], kid) or age < _JWKS_REFETCH):
            return cached[1]
        with urllib.request.urlopen(url, timeout=5) as resp:
            doc = json.loads(resp.read(_JWKS_MAX_BYTES))
        if not isinstance(doc, dict):
            raise ValueError("not a JWKS")
        self._cache[url] = (time.monotonic(), doc)
        return doc


def _has_kid(jwks: dict[str, Any], kid: str) -> bool:
    return any(isinstance(k, dict) and k.get("kid") == kid for k in jwks.get("keys", []))


def _refuse(description: str) -> InvalidClientError:
    return InvalidClientError(description=description)


class PrivateKeyJwt(JWTBearerClientAssertion):
    # authlib's own design is to override this per subclass; the stubs call it Final
    CLIENT_AUTH_METHOD = "private_key_jwt"  # type: ignore[misc]

    def __init__(self, smart: SmartServer) -> None:
        super().__init__(validate_jti=True, leeway=SKEW)
        self.smart = smart
        self.jwks = JwksCache()

    def __call__(self, query_client: Any, request: SmartRequest) -> Client | None:
        form = request.form
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return None
        assertion = form.get("client_assertion")
        if not assertion:
            raise _refuse("Missing 'client_assertion'")
        header, unverified = self.extract_assertion(assertion)
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ASSERTION_ALGS:
            raise _refuse(f"Client assertions must be signed with RS384 or ES384, not {alg}")
        if not isinstance(kid, str) or not kid:
            raise _refuse("The client assertion header needs a 'kid'")
        client_id = unverified.get("sub")
        if not isinstance(client_id, str):
            raise _refuse("The client assertion needs 'sub' (the client id)")
        client: Client | None = query_client(client_id)
        if client is None or client.kind != "confidential-asymmetric":
            raise _refuse("Unknown client, or not registered for private_key_jwt")
        key = self._key(client, kid)
        try:
            claims = jwt.decode(assertion, key, algorithms=[alg]).claims
        except JoseError as err:
            raise _refuse(f"Client assertion signature: {err.error}") from err
        self._check_claims(claims, client, request)
        request.client = client
        return self.authenticate_client(client)

    def _key(self, client: Client, kid: str) -> KeySet:
        jwks = client.jwks
        if jwks is None and client.jwks_uri:
            try:
                jwks = self.jwks.get(client.jwks_uri, kid)
            except (OSError, ValueError) as err:
                raise _refuse("The client's JWKS URL could not be read") from err
        keys = [k for k in (jwks or {}).get("keys", []) if k.get("kid") == kid]
        if not keys:
            raise _refuse(f"No key with kid {kid} is registered for this client")
        try:
            return KeySet.import_key_set({"keys": keys})
        except Exception as err:  # a malformed key published at the client's URL
            raise _refuse(f"The client's key {kid} is not usable") from err

    def _check_claims(self, claims: dict[str, Any], client: Client, request: SmartRequest) -> None:
        now = time.time()
        token_url = request.fhir_base + "/auth/token"
        if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
            raise _refuse("'iss' and 'sub' must both be the client id")
        aud = claims.get("aud")
        if aud != token_url and not (isinstance(aud, list) and aud == [token_url]):
            raise _refuse("'aud' must be the token endpoint URL")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise _refuse("The client assertion needs 'exp'")
        if exp < now - SKEW:
            raise _refuse("The client assertion has expired")
        if exp > now + MAX_AHEAD + SKEW:
            raise _refuse("'exp' is more than 5 minutes ahead")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise _refuse("The client assertion needs 'jti'")
        records = self.smart.records
        fresh = self.smart.wait(
            records.add(JTI, f"{client.client_id}:{jti}", {}, expires=exp + 86400)
        )
        if not fresh:
            raise _refuse("This client assertion 'jti' was used before")

    def extract_assertion(self, assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            obj = jws.extract_compact(assertion.encode())
            claims = json.loads(obj.payload)
        except (JoseError, ValueError) as err:
            raise _refuse("The client assertion is not a JWT") from err
        if not isinstance(claims, dict):
            raise _refuse("The client assertion is not a JWT")
        return obj.headers(), claims
