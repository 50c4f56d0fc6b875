"""An access token for a SMART backend service (client credentials with a signed JWT,
``private_key_jwt``), as docs/tutorial.md walks through it.

    python examples/backend_token.py demo-backend key.json http://127.0.0.1:8080/fhir

``key.json`` holds the client's private key as a JWK (``fhir-server demo`` prints demo-backend's);
the server knows its public half from the client's registration. Prints the access token.
Needs only joserfc and httpx (both installed with the server).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def client_assertion(client_id: str, private_jwk: dict[str, Any], token_url: str) -> str:
    """The signed JWT that stands in for a client secret: issued by the client about itself,
    for the token endpoint, valid for at most five minutes, used once (``jti``)."""
    key = KeySet.import_key_set({"keys": [private_jwk]}).keys[0]
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    header = {"alg": private_jwk["alg"], "kid": private_jwk["kid"], "typ": "JWT"}
    return jwt.encode(header, claims, key, algorithms=[header["alg"]])


def token_request(
    client_id: str, private_jwk: dict[str, Any], token_url: str, scope: str
) -> dict[str, str]:
    """The form to POST to the token endpoint."""
    return {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(client_id, private_jwk, token_url),
    }


def main(argv: list[str]) -> int:
    client_id, key_file, base = argv[:3]
    scope = argv[3] if len(argv) > 3 else "system/*.rs"
    with open(key_file, encoding="utf-8") as f:
        jwk = json.load(f)
    # the token endpoint is announced in the SMART configuration
    token_url = httpx.get(f"{base}/.well-known/smart-configuration").json()["token_endpoint"]
    resp = httpx.post(token_url, data=token_request(client_id, jwk, token_url, scope))
    if resp.status_code != 200:
        print(resp.text, file=sys.stderr)
        return 1
    print(resp.json()["access_token"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
