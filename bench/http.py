"""Minimal HTTP/1.1 pieces shared by the set-up client and the load generator."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


def request_bytes(
    method: str,
    path: str,
    host: str,
    body: bytes = b"",
    content_type: str = "application/fhir+json",
    headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        "Accept: application/fhir+json",
        *(f"{k}: {v}" for k, v in headers),
    ]
    if body or method in ("POST", "PUT"):
        lines += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Status and (lower-cased) headers of a response head without its final CRLFCRLF."""
    first, *rest = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in rest:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return int(first.split(" ", 2)[1]), headers


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Client:
    """One keep-alive connection; enough for setting up data, not for load."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Response:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        host = f"{self.host}:{self.port}"
        self._writer.write(request_bytes(method, path, host, body, headers=headers))
        head = await self._reader.readuntil(b"\r\n\r\n")
        status, headers = parse_head(head[:-4])
        data = await self._reader.readexactly(int(headers.get("content-length", "0")))
        return Response(status, headers, data)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()
            self._writer = None
