"""CORS for the public discovery endpoints (``.well-known/*`` and ``metadata``): any origin may
read them, as SMART App Launch requires for purely browser-based apps. And the origins the
FHIR API and the token endpoints answer (``AppOrigins``, for ``fhir_server.http.cors``)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from auth.clients import Clients

ASGIApp = Any

_PREFLIGHT_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
    (b"access-control-allow-headers", b"Accept, Authorization, Content-Type"),
    (b"access-control-max-age", b"86400"),
    (b"content-length", b"0"),
]


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    return next((v for k, v in scope["headers"] if k.lower() == name), None)


async def public_cors(app: ASGIApp, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Serve ``scope`` with ``app``, adding ``Access-Control-Allow-Origin: *``; answer a CORS
    preflight (OPTIONS with ``Access-Control-Request-Method``) here."""
    if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method"):
        await send({"type": "http.response.start", "status": 204, "headers": _PREFLIGHT_HEADERS})
        await send({"type": "http.response.body", "body": b""})
        return

    async def send_with_cors(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = [
                h
                for h in message.get("headers", [])
                if h[0].lower() != b"access-control-allow-origin"
            ]
            message = {**message, "headers": [*headers, (b"access-control-allow-origin", b"*")]}
        await send(message)

    await app(scope, receive, send_with_cors)


def origin_of(uri: str | None) -> str | None:
    """``scheme://host[:port]`` of an http(s) URI, else None."""
    parts = urlsplit(uri or "")
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


class AppOrigins:
    """The browser origins the FHIR API answers with CORS: ``FHIR_CORS_ORIGINS`` and the
    origins of every registered client's redirect and launch URIs. Registrations are read
    again at most every ``ttl`` seconds (``fhir-server clients add`` runs in another process),
    so a new app's origin works within that time, and a removed one's stops."""

    def __init__(self, configured: list[str], clients: Clients | None, ttl: float = 5.0) -> None:
        self.configured = frozenset(o.rstrip("/") for o in configured)
        self.clients = clients
        self.ttl = ttl
        self._registered: frozenset[str] = frozenset()
        self._loaded = -ttl

    async def __call__(self, origin: str) -> bool:
        if origin in self.configured:
            return True
        if self.clients is None:
            return False
        if time.monotonic() - self._loaded >= self.ttl:
            found: set[str] = set()
            for client in await self.clients.all():
                found |= client.origins()
                launch = origin_of(client.launch_uri)
                if launch is not None:
                    found.add(launch)
            self._registered, self._loaded = frozenset(found), time.monotonic()
        return origin in self._registered
