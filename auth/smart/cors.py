"""CORS for the public discovery endpoints (``.well-known/*`` and ``metadata``): any origin may
read them, as SMART App Launch requires for purely browser-based apps."""

from __future__ import annotations

from typing import Any

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
