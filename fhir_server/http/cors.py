"""CORS for browser apps on other origins: the FHIR API (and the token, introspection and
revocation endpoints) answer the origins an ``allowed`` check admits — the bootstrap passes the
registered apps' origins and ``FHIR_CORS_ORIGINS`` (``auth.smart.cors.AppOrigins``).

A preflight (``OPTIONS`` with ``Access-Control-Request-Method``) from an allowed origin is
answered here, before authentication (a browser sends it without the ``Authorization`` header it
asks permission for); every other response to an allowed origin names it in
``Access-Control-Allow-Origin`` and exposes the headers a FHIR client reads (ETag, Location,
Content-Location, Last-Modified). No credentials: the apps send bearer tokens, not cookies.
A request from any other origin is served as if CORS did not exist (the browser then withholds
the answer from the page).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Allowed = Callable[[str], Awaitable[bool]]

ALLOWED_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = (
    b"Authorization, Content-Type, Accept, Accept-Language, If-Match, If-None-Match,"
    b" If-None-Exist, If-Modified-Since, Prefer, X-Request-Id"
)
EXPOSED_HEADERS = b"ETag, Location, Content-Location, Last-Modified"
_OURS = frozenset({b"access-control-allow-origin", b"access-control-expose-headers"})


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    return next((v for k, v in scope["headers"] if k == name), None)


async def cors(app: Any, allowed: Allowed, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Serve ``scope`` with ``app``, with CORS for an allowed ``Origin``."""
    origin = _header(scope, b"origin")
    if origin is None or not await allowed(origin.decode("latin-1")):
        await app(scope, receive, send)
        return
    if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method"):
        headers = [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-methods", ALLOWED_METHODS),
            (b"access-control-allow-headers", ALLOWED_HEADERS),
            (b"access-control-max-age", b"600"),
            (b"vary", b"Origin"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return

    async def send_with_cors(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = [h for h in message.get("headers", []) if h[0].lower() not in _OURS]
            headers += [
                (b"access-control-allow-origin", origin),
                (b"access-control-expose-headers", EXPOSED_HEADERS),
            ]
            if not any(k.lower() == b"vary" and b"origin" in v.lower() for k, v in headers):
                headers.append((b"vary", b"Origin"))
            message = {**message, "headers": headers}
        await send(message)

    await app(scope, receive, send_with_cors)
