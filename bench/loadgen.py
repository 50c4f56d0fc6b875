"""A closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending its next request
as soon as the previous response is complete.

Runs in its own process (``python -m bench.loadgen SPEC``, SPEC the pickled fields of a `Spec`)
and prints one JSON `Result` line, so client and server each get a core. asyncio Protocols on
uvloop, pre-built request bytes, no HTTP library: ~20 µs of client CPU per request; the client's
own CPU share is reported, so a run shows whether it kept up.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import cast

import orjson
import uvloop

_CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Spec:
    host: str
    port: int
    requests: list[bytes]
    connections: int = 32
    warmup: float = 2.0
    duration: float = 10.0
    order: str = "random"  # "random" | "cycle"
    expect: int = 200
    server_pid: int | None = None
    cpu: int | None = None  # pin the client to this CPU
    stagger: float = 0.0
    """Seconds between opening one connection and the next (each sends its first request as
    soon as it is open)."""


@dataclass
class Result:
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    unexpected: dict[str, int] = field(default_factory=dict)
    bytes_in: int = 0
    client_cpu: float = 0.0
    """Client CPU seconds per wall second during the measurement (1.0 = one core saturated)."""
    server_cpu: float | None = None
    """The server's CPU seconds per wall second (all its threads and worker processes; softirq
    work not included)."""
    cores: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per CPU: share of the window spent busy, in softirq, and stolen by the hypervisor."""


def cpu_times() -> dict[str, list[int]]:
    """Per-CPU jiffies from /proc/stat: user nice system idle iowait irq softirq steal."""
    out = {}
    with open("/proc/stat") as fh:
        for line in fh:
            name, *values = line.split()
            if name.startswith("cpu") and name != "cpu":
                out[name] = [int(v) for v in values[:8]]
    return out


def core_shares(
    before: dict[str, list[int]], after: dict[str, list[int]]
) -> dict[str, dict[str, float]]:
    shares = {}
    for name, end in after.items():
        d = [e - b for e, b in zip(end, before[name], strict=True)]
        total = sum(d) or 1
        idle = d[3] + d[4]
        shares[name] = {
            "busy": (total - idle) / total,
            "softirq": d[6] / total,
            "steal": d[7] / total,
        }
    return shares


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all threads) and of its live children (uvicorn's workers
    when it runs several), from /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        with open(f"/proc/{pid}/task/{pid}/children", "rb") as fh:
            children = [int(c) for c in fh.read().split()]
    except FileNotFoundError:  # it exited in between
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / _CLK_TCK
    return own + sum(process_cpu_seconds(c) for c in children)


class _Run:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.sending = True
        self.measuring = False
        self.window_start = 0
        self.latencies: list[int] = []
        self.unexpected: dict[str, int] = {}
        self.bytes_in = 0
        self._cycle = 0
        self._choice = random.Random(7).choice

    def next_request(self) -> bytes:
        reqs = self.spec.requests
        if self.spec.order == "cycle":
            self._cycle = (self._cycle + 1) % len(reqs)
            return reqs[self._cycle]
        return self._choice(reqs)

    def done(self, started: int, status: int, size: int) -> None:
        if not self.measuring or started < self.window_start:
            return
        self.latencies.append(time.perf_counter_ns() - started)
        self.bytes_in += size
        if status != self.spec.expect:
            self.unexpected[str(status)] = self.unexpected.get(str(status), 0) + 1


class _Conn(asyncio.Protocol):
    def __init__(self, run: _Run, closed: asyncio.Future[None]) -> None:
        self.run = run
        self.closed = closed
        self.buf = bytearray()
        self.need = -1
        self.status = 0
        self.started = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        if not self.run.sending:
            self.transport.close()
            return
        self.started = time.perf_counter_ns()
        self.transport.write(self.run.next_request())

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if self.need < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).lower()
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                raise RuntimeError("the load generator needs a Content-Length in every response")
            stop = head.find(b"\r\n", at + 17)
            self.need = end + 4 + int(head[at + 17 : stop if stop >= 0 else None])
        if len(buf) < self.need:
            return
        size, self.need = self.need, -1
        del buf[:size]
        self.run.done(self.started, self.status, size)
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.run.sending:  # the server closed it: count it, the rest carry on
            lost = self.run.unexpected
            lost["connection lost"] = lost.get("connection lost", 0) + 1
        if not self.closed.done():
            self.closed.set_result(None)


async def _main(spec: Spec) -> Result:
    loop = asyncio.get_running_loop()
    run = _Run(spec)
    closed: list[asyncio.Future[None]] = []
    for _ in range(spec.connections):
        fut: asyncio.Future[None] = loop.create_future()
        closed.append(fut)
        await loop.create_connection(lambda f=fut: _Conn(run, f), spec.host, spec.port)  # type: ignore[misc]
        if spec.stagger:
            await asyncio.sleep(spec.stagger)
    await asyncio.sleep(spec.warmup)
    cores0 = cpu_times()
    cpu0, srv0, t0 = time.process_time(), _server_cpu(spec), time.perf_counter_ns()
    run.window_start, run.measuring = t0, True
    await asyncio.sleep(spec.duration)
    run.measuring = False
    cpu1, srv1, t1 = time.process_time(), _server_cpu(spec), time.perf_counter_ns()
    cores = core_shares(cores0, cpu_times())
    run.sending = False
    await asyncio.wait_for(asyncio.gather(*closed), timeout=60)
    result = _result(run, (t1 - t0) / 1e9, cpu1 - cpu0, srv0, srv1)
    result.cores = cores
    return result


def _server_cpu(spec: Spec) -> float | None:
    return process_cpu_seconds(spec.server_pid) if spec.server_pid else None


def _result(
    run: _Run, seconds: float, cpu: float, srv0: float | None, srv1: float | None
) -> Result:
    lat = sorted(run.latencies)
    n = len(lat)

    def pct(q: float) -> float:
        return lat[min(n - 1, int(q * n))] / 1e6 if n else 0.0

    return Result(
        requests=n,
        seconds=seconds,
        rps=n / seconds,
        p50_ms=pct(0.50),
        p90_ms=pct(0.90),
        p99_ms=pct(0.99),
        max_ms=lat[-1] / 1e6 if n else 0.0,
        unexpected=run.unexpected,
        bytes_in=run.bytes_in,
        client_cpu=cpu / seconds,
        server_cpu=None if srv0 is None or srv1 is None else (srv1 - srv0) / seconds,
    )


def main() -> None:
    with open(sys.argv[1], "rb") as fh:
        spec = Spec(**pickle.load(fh))
    if spec.cpu is not None:
        os.sched_setaffinity(0, {spec.cpu})
    result = uvloop.run(_main(spec))  # uvicorn[standard] brings uvloop
    sys.stdout.buffer.write(orjson.dumps(asdict(result)) + b"\n")


if __name__ == "__main__":
    main()
