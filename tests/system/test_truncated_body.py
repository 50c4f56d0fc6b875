"""A request whose body ends before it is complete (the client declared more bytes than it sent,
or never sent the last chunk, and closed the connection) is never executed."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import httpx

from tests.system.servers import Launcher

ORGANIZATION = b'{"resourceType":"Organization","name":"truncated request"}'


def _send_and_close(port: int, head: bytes, body: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head + body)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(2)
        with contextlib.suppress(OSError):
            s.recv(4096)  # whatever the server does, it must not execute the request


def _head(port: int, framing: str) -> bytes:
    return (
        f"POST /fhir/Organization HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/fhir+json\r\n{framing}\r\n\r\n"
    ).encode()


def test_truncated_bodies_are_not_executed(tmp_path: Path) -> None:
    with Launcher(tmp_path / "fhir.db") as launcher:
        server = launcher.start()
        port = server.port
        assert len(ORGANIZATION) == 58
        _send_and_close(port, _head(port, "Content-Length: 1000"), ORGANIZATION)
        chunk = f"{len(ORGANIZATION):x}\r\n".encode() + ORGANIZATION + b"\r\n"  # no last chunk
        _send_and_close(port, _head(port, "Transfer-Encoding: chunked"), chunk)
        time.sleep(0.5)  # let the server finish whatever it would do
        with httpx.Client(base_url=server.base, timeout=10) as http:
            found = http.get("Organization", params={"_total": "accurate"})
            assert found.status_code == 200, found.text
            assert found.json()["total"] == 0
            # the same request, complete, is executed: the server was listening
            done = http.post(
                "Organization",
                content=ORGANIZATION,
                headers={"content-type": "application/fhir+json"},
            )
            assert done.status_code == 201, done.text
