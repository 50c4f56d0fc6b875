"""A real HTTP receiver on loopback for rest-hook notifications: an asyncio server that records
each POST (headers, JSON body) and answers with the statuses it is told, in turn (then 200)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson


class Receiver:
    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.received: list[tuple[dict[str, str], dict[str, Any], int]] = []
        """(headers, body, the status answered) of every request, in order."""
        self.arrived = asyncio.Event()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hook"

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                headers: dict[str, str] = {}
                while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = h.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status = self.statuses.pop(0) if self.statuses else 200
                self.received.append((headers, orjson.loads(body) if body else {}, status))
                self.arrived.set()
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    def taken(self) -> list[dict[str, Any]]:
        """The bodies answered with a 2xx, in order."""
        return [body for _, body, status in self.received if 200 <= status < 300]

    async def wait_for(self, count: int, kind: str = "event-notification") -> list[dict[str, Any]]:
        """The taken notifications of ``kind`` once there are ``count`` of them (of events, for
        event notifications, which may carry several); waits up to 20 s."""
        async with asyncio.timeout(20):
            while True:
                found = [b for b in self.taken() if notification_type(b) == kind]
                seen = (
                    sum(len(event_numbers(b)) for b in found)
                    if kind == "event-notification"
                    else len(found)
                )
                if seen >= count:
                    return found
                self.arrived.clear()
                await self.arrived.wait()


def _status(bundle: dict[str, Any]) -> dict[str, Any]:
    return {p["name"]: p for p in bundle["entry"][0]["resource"]["parameter"] if "name" in p}


def notification_type(bundle: dict[str, Any]) -> str:
    return str(_status(bundle)["type"]["valueCode"])


def event_numbers(bundle: dict[str, Any]) -> list[int]:
    params = bundle["entry"][0]["resource"]["parameter"]
    return [
        int(next(q["valueString"] for q in p["part"] if q["name"] == "event-number"))
        for p in params
        if p["name"] == "notification-event"
    ]


def focus(bundle: dict[str, Any]) -> list[str]:
    """The focus references of a notification's events, as ``Type/id``."""
    params = bundle["entry"][0]["resource"]["parameter"]
    out = []
    for p in params:
        if p["name"] == "notification-event":
            for q in p["part"]:
                if q["name"] == "focus":
                    out.append("/".join(q["valueReference"]["reference"].split("/")[-2:]))
    return out
