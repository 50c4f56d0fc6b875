"""Subscription notification latency on loopback (issue 14): from the commit of a write to the
delivery of its notification at a rest-hook receiver, while CarePlans are written at a steady
rate (100 writes/s by default) to a real server (`fhir-server serve --workers 1`, SQLite,
authorization off: the path measured is the outbox's, not the token check's).

The server journals each CarePlan change in the write's unit of work; its subscription worker
turns the journal into numbered events and POSTs notification Bundles (``id-only``) to a
receiver in this process. The latency of an event is its arrival at the receiver minus the
event's ``timestamp`` (the instant the change was stamped, just before its commit; same
machine, same clock, millisecond resolution). Every event number must arrive: a gap is
reported as lost.

``python -m bench.subscription_latency [--rate 100] [--seconds 20]``; the figures are in
docs/performance.md ("Subscription notifications").
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.server import HOST, UVICORN_FLAGS, fhir_command, free_port, running
from fhir_server.subscriptions.topics import TOPIC_BASE


class Receiver:
    """A minimal HTTP/1.1 server that records when each event arrived."""

    def __init__(self) -> None:
        self.arrivals: dict[int, float] = {}
        self.stamps: dict[int, float] = {}
        self.handshakes = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, HOST, 0)
        return f"http://{HOST}:{self.server.sockets[0].getsockname()[1]}/hook"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                length = 0
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = h.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                body = orjson.loads(await reader.readexactly(length)) if length else {}
                now = time.time()
                self._record(body, now)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
                del line
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the server's keep-alive connection, cut when the bench ends
        finally:
            writer.close()

    def _record(self, body: dict[str, Any], now: float) -> None:
        params = body["entry"][0]["resource"]["parameter"]
        kind = next(p["valueCode"] for p in params if p["name"] == "type")
        if kind == "handshake":
            self.handshakes += 1
        for p in params:
            if p["name"] == "notification-event":
                parts = {q["name"]: q for q in p["part"]}
                n = int(parts["event-number"]["valueString"])
                stamp = datetime.fromisoformat(parts["timestamp"]["valueInstant"]).timestamp()
                self.arrivals.setdefault(n, now)
                self.stamps.setdefault(n, stamp)


def _plan() -> bytes:
    return orjson.dumps(
        {
            "resourceType": "CarePlan",
            "status": "active",
            "intent": "plan",
            "subject": {"reference": "Patient/bench"},
        }
    )


async def baseline(rate: float, seconds: float) -> float:
    """The same writes with subscriptions switched off: CarePlans answered per second."""
    port = free_port()
    env = {
        "FHIR_STORE_URL": f"sqlite:///{Path(tempfile.mkdtemp()) / 'fhir.db'}",
        "FHIR_AUTH": "off",
        "FHIR_REQUIRED_PROFILES": "{}",
        "FHIR_INSTALL_CONFORMANCE": "false",
        "FHIR_SUBSCRIPTIONS": "false",
    }
    log = Path(tempfile.gettempdir()) / "bench-subscription-latency.log"
    with running(fhir_command(port, 1, UVICORN_FLAGS), port, env, log, None):
        base = f"http://{HOST}:{port}/fhir"
        limits = httpx.Limits(max_connections=50)
        timeout = httpx.Timeout(60, pool=None)
        async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) as client:
            return (await _write(client, rate, seconds))[1]


async def _write(client: httpx.AsyncClient, rate: float, seconds: float) -> tuple[int, float]:
    """Write CarePlans open-loop (one every 1/rate s, whatever the answers); (how many were
    stored, the rate they were all answered at)."""
    total = int(rate * seconds)
    start = time.monotonic()
    pending = []
    headers = {"content-type": "application/fhir+json"}
    for i in range(total):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(
            asyncio.ensure_future(client.post("CarePlan", content=_plan(), headers=headers))
        )
    answers = await asyncio.gather(*pending)
    achieved = total / (time.monotonic() - start)
    return sum(1 for a in answers if a.status_code == 201), achieved


async def measure(rate: float, seconds: float) -> dict[str, Any]:
    receiver = Receiver()
    hook = await receiver.start()
    port = free_port()
    env = {
        "FHIR_STORE_URL": f"sqlite:///{Path(tempfile.mkdtemp()) / 'fhir.db'}",
        "FHIR_AUTH": "off",
        "FHIR_REQUIRED_PROFILES": "{}",
        "FHIR_INSTALL_CONFORMANCE": "false",
    }
    log = Path(tempfile.gettempdir()) / "bench-subscription-latency.log"
    with running(fhir_command(port, 1, UVICORN_FLAGS), port, env, log, None):
        base = f"http://{HOST}:{port}/fhir"
        limits = httpx.Limits(max_connections=50)
        timeout = httpx.Timeout(60, pool=None)
        async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) as client:
            await client.put("Patient/bench", json={"resourceType": "Patient", "id": "bench"})
            sub = {
                "resourceType": "Subscription",
                "status": "requested",
                "reason": "bench",
                "criteria": TOPIC_BASE + "careplan-changed",
                "channel": {
                    "type": "rest-hook",
                    "endpoint": hook,
                    "payload": "application/fhir+json",
                },
            }
            r = await client.post("Subscription", json=sub)
            r.raise_for_status()
            while not receiver.handshakes:
                await asyncio.sleep(0.01)
            written, achieved = await _write(client, rate, seconds)
            deadline = time.monotonic() + 60  # a receiver that was too slow is retried later
            while len(receiver.arrivals) < written and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if len(receiver.arrivals) < written:  # what the store holds: journal and queue
                import sqlite3

                db = sqlite3.connect(env["FHIR_STORE_URL"].removeprefix("sqlite:///"))
                print("outbox_queue:", db.execute("SELECT * FROM outbox_queue").fetchall())
                r = await client.get("Subscription")
                print("status:", [e["resource"]["status"] for e in r.json().get("entry", [])])
    if receiver.server is not None:
        receiver.server.close()
    latencies = sorted(
        (receiver.arrivals[n] - receiver.stamps[n]) * 1000 for n in receiver.arrivals
    )
    q = statistics.quantiles(latencies, n=100)
    return {
        "rate": rate,
        "achieved": achieved,
        "written": written,
        "delivered": len(receiver.arrivals),
        "lost": sorted(set(range(1, written + 1)) - set(receiver.arrivals)),
        "p50_ms": statistics.median(latencies),
        "p95_ms": q[94],
        "p99_ms": q[98],
        "max_ms": latencies[-1],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=100.0, help="writes per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--baseline", action="store_true", help="also the same writes without subscriptions"
    )
    args = parser.parse_args(argv)
    if args.baseline:
        plain = asyncio.run(baseline(args.rate, args.seconds))
        print(f"without subscriptions: all answered at {plain:.0f}/s")
    result = asyncio.run(measure(args.rate, args.seconds))
    print(
        f"{result['written']} CarePlans at {result['rate']:.0f}/s"
        f" (all answered at {result['achieved']:.0f}/s):"
        f" {result['delivered']} events delivered, lost {result['lost'] or 'none'};"
        f" commit→delivery p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms,"
        f" p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms"
    )
    return 0 if not result["lost"] and result["p95_ms"] < 500 else 1


if __name__ == "__main__":
    raise SystemExit(main())
