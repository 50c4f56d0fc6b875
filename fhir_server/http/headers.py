"""Headers added to every answer of an ASGI app: browsers must not guess another content type
for a JSON or HTML answer (``X-Content-Type-Options: nosniff``)."""

from __future__ import annotations

from typing import Any

NOSNIFF = (b"x-content-type-options", b"nosniff")


def adding(send: Any, headers: list[tuple[bytes, bytes]]) -> Any:
    """``send`` with ``headers`` added to the response start (replacing any of the same name)."""
    names = {name for name, _ in headers}

    async def send_with(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            kept = [h for h in message.get("headers", []) if h[0].lower() not in names]
            message = {**message, "headers": [*kept, *headers]}
        await send(message)

    return send_with
