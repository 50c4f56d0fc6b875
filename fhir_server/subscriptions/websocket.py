"""The websocket endpoint (ASGI ``websocket`` scope at the FHIR base + `WEBSOCKET_PATH`): a
client sends ``bind-with-token <token>`` (from ``$get-ws-binding-token``) and receives the
subscription's notification Bundles as text messages, a handshake first."""

from __future__ import annotations

from typing import Any

from fhir_server.subscriptions.hub import Hub

_BIND = "bind-with-token "


async def serve(hub: Hub, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """One websocket connection, until the client or the server closes it."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})

    async def send_text(text: str) -> None:
        await send({"type": "websocket.send", "text": text})

    bound: list[str] = []
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text") or (message.get("bytes") or b"").decode(errors="replace")
            if not text.startswith(_BIND):
                await send_text('{"error": "send bind-with-token <token>"}')
                continue
            subscription = hub.redeem(text[len(_BIND) :].strip())
            if subscription is None:
                await send_text('{"error": "unknown or expired binding token"}')
                continue
            bound.append(subscription)
            if hub.worker is not None:
                await hub.worker.handshake_socket(subscription, send_text)
            hub.bind(subscription, send_text)
    finally:
        for subscription in bound:
            hub.unbind(subscription, send_text)
