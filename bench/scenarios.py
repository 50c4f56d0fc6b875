"""The measurements: seeding, reads, writes and ``fhir-server load``, each returning table rows."""

from __future__ import annotations

import asyncio
import os
import pickle
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from bench.data import Generator
from bench.http import Client, request_bytes
from bench.loadgen import Result, Spec
from bench.report import Row
from bench.server import BIN, HOST, pinned

BUNDLE_PATIENTS = 25  # x 4 resources = 100 entries per transaction Bundle
CEILING_HEADERS = ("etag", "last-modified", "content-type", "content-length")
Answers = dict[str, tuple[int, list[tuple[bytes, bytes]], bytes]]


@dataclass
class Options:
    duration: float
    warmup: float
    rounds: int
    patients: int
    connections: int
    load_patients: int
    workdir: Path
    server_cpu: int | None
    client_cpu: int | None
    keep: bool = False


def say(text: str) -> None:
    print(text, flush=True)


def db_env(opts: Options, name: str, synchronous: str) -> dict[str, str]:
    db = opts.workdir / name / "fhir.db"
    return {
        "FHIR_STORE_URL": f"sqlite:///{db}",
        "FHIR_SQLITE_SYNCHRONOUS": synchronous,
        "FHIR_AUTH": "off",  # the REST core's throughput; token checking is measured apart
    }


def load(opts: Options, port: int, pid: int, requests: list[bytes], **spec: object) -> Result:
    """Run the load generator in its own process (pinned to the client CPU) against one server."""
    path = opts.workdir / "spec.pickle"
    fields = asdict(
        Spec(HOST, port, requests, warmup=opts.warmup, duration=opts.duration, server_pid=pid)
    )
    path.write_bytes(pickle.dumps({**fields, "cpu": opts.client_cpu, **spec}))
    out = subprocess.run([sys.executable, "-m", "bench.loadgen", str(path)], capture_output=True)
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{out.stderr.decode()[-3000:]}")
    result = Result(**orjson.loads(out.stdout))
    if result.unexpected:
        say(f"  unexpected answers: {result.unexpected}")
    return result


def row(
    opts: Options, name: str, r: Result, unit: str = "req/s", scale: float = 1.0, note: str = ""
) -> Row:
    core = r.cores.get(f"cpu{opts.server_cpu}", {}).get("busy")
    out = Row(name, r.rps * scale, unit, r.p50_ms, r.p99_ms, r.server_cpu, core, r.client_cpu)
    out.note = note
    say(
        f"  {name}: {out.rate:,.0f} {unit}, p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms,"
        f" server CPU {r.server_cpu or 0:.0%} (core {core or 0:.0%}), client {r.client_cpu:.0%}"
    )
    return out


async def _seed(port: int, bodies: list[bytes]) -> list[str]:
    """Create Patients through the HTTP API (8 connections); their ids, in order."""
    ids: list[str] = [""] * len(bodies)

    async def worker(start: int) -> None:
        client = Client(HOST, port)
        for i in range(start, len(bodies), 8):
            resp = await client.request("POST", "/fhir/Patient", bodies[i])
            if resp.status != 201:
                raise RuntimeError(f"seeding failed: {resp.status} {resp.body[:300]!r}")
            ids[i] = resp.headers["location"].split("/_history/")[0].rsplit("/", 1)[1]
        await client.close()

    await asyncio.gather(*(worker(s) for s in range(8)))
    return ids


async def _capture(port: int, paths: list[str]) -> Answers:
    """What the server answers for each path: the ceiling replays exactly this."""
    client = Client(HOST, port)
    answers: Answers = {}
    for path in paths:
        resp = await client.request("GET", path)
        if resp.status != 200:
            raise RuntimeError(f"GET {path} answered {resp.status}")
        headers = [(k.encode(), resp.headers[k].encode()) for k in CEILING_HEADERS]
        answers[path] = (resp.status, headers, resp.body)
    await client.close()
    return answers


def seed_patients(opts: Options, port: int, gen: Generator) -> Answers:
    """Create the Patients to read and capture each one's answer: path → (status, headers, body)."""
    bodies = [orjson.dumps(gen.patient()) for _ in range(opts.patients)]
    ids = asyncio.run(_seed(port, bodies))
    return asyncio.run(_capture(port, [f"/fhir/Patient/{i}" for i in ids]))


def reads(port: int, paths: list[str]) -> list[bytes]:
    return [request_bytes("GET", p, f"{HOST}:{port}") for p in paths]


def _bundles(port: int, gen: Generator) -> list[bytes]:
    host = f"{HOST}:{port}"
    return [
        request_bytes("POST", "/fhir", host, gen.transaction(BUNDLE_PATIENTS)) for _ in range(20)
    ]


def ingest(opts: Options, port: int, pid: int, gen: Generator, label: str) -> Row:
    """Transaction ingest alone (4 connections), e.g. against a server with several workers."""
    entries = BUNDLE_PATIENTS * 4
    result = load(opts, port, pid, _bundles(port, gen), connections=4, order="cycle", expect=200)
    note = f"{entries}-entry Bundles, {result.rps:.1f}/s; latency per Bundle; 4 connections"
    return row(opts, f"Transaction ingest ({label})", result, "resources/s", entries, note)


def writes(opts: Options, port: int, pid: int, gen: Generator, sync: str) -> list[Row]:
    """Create (16 connections) and transaction ingest (4 connections) against one server."""
    host = f"{HOST}:{port}"
    creates = [
        request_bytes("POST", "/fhir/Patient", host, orjson.dumps(gen.patient()))
        for _ in range(2000)
    ]
    create = load(opts, port, pid, creates, connections=16, order="cycle", expect=201)
    out = [row(opts, f"Create Patient ({sync})", create, note="16 connections")]
    out.append(ingest(opts, port, pid, gen, sync))
    return out


def load_cli(opts: Options, gen: Generator, sync: str) -> Row:
    """``fhir-server load`` of an ndjson file into a fresh database; its start-up (imports,
    opening the store), timed with a one-line file, is subtracted."""
    data, one = opts.workdir / "load.ndjson", opts.workdir / "one.ndjson"
    if not data.exists():
        data.write_bytes(gen.ndjson(opts.load_patients))
        one.write_bytes(gen.ndjson(1).split(b"\n", 1)[0] + b"\n")
    count = opts.load_patients * 4

    def timed(name: str, path: Path) -> float:
        env = {**os.environ, **db_env(opts, name, sync)}
        cmd = [str(BIN / "fhir-server"), "load", str(path), "--no-progress"]
        start = time.perf_counter()
        pin = pinned(opts.server_cpu)
        done = subprocess.run(cmd, env=env, capture_output=True, preexec_fn=pin)
        if done.returncode != 0:
            raise RuntimeError(f"fhir-server load failed:\n{done.stderr.decode()[-3000:]}")
        return float(time.perf_counter() - start)

    startup = min(timed(f"load-one-{sync}-{i}", one) for i in range(2))
    wall = timed(f"load-{sync}", data)
    out = Row(f"`fhir-server load` ndjson ({sync})", count / (wall - startup), "resources/s")
    out.note = f"{count:,} resources in {wall:.1f} s, minus {startup:.1f} s start-up"
    say(f"  {out.name}: {out.rate:,.0f} resources/s ({out.note})")
    return out
