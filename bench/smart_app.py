"""The FHIR server as the SMART benchmark runs it: ``FHIR_AUTH`` from the environment and, for
``smart``, the signing keys the benchmark minted its tokens with (``BENCH_JWKS``, a JWKS file)
standing in for the authorization server's key store.

``python -m uvicorn bench.smart_app:create_app --factory`` (see bench/smart.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from fhir_server.app import ServerApp
from fhir_server.config import Settings


class JwksFile:
    def __init__(self, path: str) -> None:
        self.jwks: dict[str, Any] = orjson.loads(Path(path).read_bytes())

    def public_jwks(self) -> dict[str, Any]:
        return self.jwks


async def never_revoked(jti: str) -> bool:
    """The revocation check of every request, answered from memory as the authorization
    server's list (auth.tokens.Revocations) answers between its reloads."""
    return False


def create_app() -> ServerApp:
    settings = Settings()
    if settings.auth != "smart":
        return ServerApp(settings)
    return ServerApp(settings, keys=JwksFile(os.environ["BENCH_JWKS"]), is_revoked=never_revoked)
