"""The measurements: seeding, reads, writes and ``fhir-server load``, each returning table rows."""

from __future__ import annotations

import asyncio
import os
import pickle
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from bench.danish import Citizens
from bench.data import Generator
from bench.http import Client, request_bytes
from bench.loadgen import Result, Spec
from bench.report import Row
from bench.server import BIN, HOST, pinned

BUNDLE_ENTRIES = 100  # whole citizens per transaction Bundle until it holds at least this many
BUNDLES = 20
INGEST_STAGGER = 0.1
"""Seconds between the ingest connections: clients that connect one after another, not in one
burst (a burst lets the first of several workers to wake accept every connection: uvicorn's
workers share one listening socket)."""
CEILING_HEADERS = ("etag", "last-modified", "content-type", "content-length")
Answers = dict[str, tuple[int, list[tuple[bytes, bytes]], bytes]]


@dataclass
class Options:
    duration: float
    warmup: float
    rounds: int
    patients: int
    connections: int
    workdir: Path
    server_cpu: int | None
    client_cpu: int | None
    load_patients: int = 0
    """The write measurements' sizes: a read-only benchmark (bench.smart) leaves them 0."""
    citizens: int = 0
    write_rounds: int = 0
    keep: bool = False
    logging_only: bool = False
    """`python -m bench.run --logging`: only the read-by-id logging comparison."""


def pinning() -> tuple[int | None, int | None]:
    """(server CPU, client CPU): one core each when there are two, else the scheduler's."""
    two = len(os.sched_getaffinity(0)) >= 2
    return (0, 1) if two else (None, None)


def say(text: str) -> None:
    print(text, flush=True)


def db_env(opts: Options, name: str, synchronous: str, validate: bool = True) -> dict[str, str]:
    """A fresh database; ``validate=False`` switches profile validation off
    (``FHIR_VALIDATE_PROFILES=false``: the structural check alone, as before issue 4)."""
    db = opts.workdir / name / "fhir.db"
    return {
        "FHIR_STORE_URL": f"sqlite:///{db}",
        "FHIR_SQLITE_SYNCHRONOUS": synchronous,
        "FHIR_VALIDATE_PROFILES": "true" if validate else "false",
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
    if r.server_cpu and r.rps:
        out.cpu_us = r.server_cpu / (r.rps * scale) * 1e6
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


@dataclass
class WriteData:
    """What the write measurements send (Danish, profile-conformant: `bench.danish`)."""

    directory: bytes
    """The shared organizations, practitioners and roles: one transaction of PUTs."""
    patients: list[bytes]
    """Distinct Patients for ``POST /Patient``."""
    bundles: list[bytes]
    """Transaction Bundles of whole citizens, ~100 entries each."""
    entries: float
    """Mean entries per Bundle."""


def write_data(citizens: int, bundles: int = BUNDLES) -> WriteData:
    data = Citizens(citizens)
    made = data.transactions(bundles, BUNDLE_ENTRIES)
    entries = sum(len(orjson.loads(b)["entry"]) for b in made) / len(made)
    patients = [orjson.dumps(p) for p in data.patients_to_create()]
    return WriteData(data.directory_bundle(), patients, made, entries)


def post_directory(port: int, data: WriteData) -> None:
    """Load the directory the citizens refer to (before any measured write)."""

    async def post() -> None:
        client = Client(HOST, port)
        resp = await client.request("POST", "/fhir", data.directory)
        await client.close()
        if resp.status != 200:
            raise RuntimeError(f"loading the directory failed: {resp.status} {resp.body[:500]!r}")

    asyncio.run(post())


def ingest(opts: Options, port: int, pid: int, data: WriteData, label: str) -> Row:
    """Transaction ingest alone (4 connections), e.g. against a server with several workers."""
    host = f"{HOST}:{port}"
    bundles = [request_bytes("POST", "/fhir", host, b) for b in data.bundles]
    result = load(
        opts, port, pid, bundles, connections=4, order="cycle", expect=200, stagger=INGEST_STAGGER
    )
    note = (
        f"{data.entries:.0f}-entry Bundles, {result.rps:.1f}/s; latency per Bundle; 4 connections"
        f" opened {INGEST_STAGGER:g} s apart"
    )
    return row(opts, f"Transaction ingest ({label})", result, "resources/s", data.entries, note)


def create(opts: Options, port: int, pid: int, data: WriteData, label: str) -> Row:
    """``POST /Patient`` of distinct Patients (cycled) on 16 connections."""
    host = f"{HOST}:{port}"
    creates = [request_bytes("POST", "/fhir/Patient", host, body) for body in data.patients]
    result = load(opts, port, pid, creates, connections=16, order="cycle", expect=201)
    return row(opts, f"Create Patient ({label})", result, note="16 connections")


@dataclass
class LoadFiles:
    """``fhir-server generate`` output, and the first resource of each of its files to time the
    command's start-up (which includes compiling the validator's rules for each type)."""

    directory: Path
    one: Path
    resources: int


def generate(opts: Options) -> LoadFiles:
    out, one = opts.workdir / "generated", opts.workdir / "one.ndjson"
    cmd = [str(BIN / "fhir-server"), "generate", "--patients", str(opts.load_patients)]
    subprocess.run([*cmd, "--seed", "1", "--out", str(out)], check=True, capture_output=True)
    files = sorted(out.glob("*.ndjson"))
    firsts = []
    for path in files:
        with path.open("rb") as fh:
            firsts.append(fh.readline())
    one.write_bytes(b"".join(firsts))
    count = sum(sum(1 for line in f.open("rb") if line.strip()) for f in files)
    return LoadFiles(out, one, count)


def load_cli(opts: Options, files: LoadFiles, sync: str, validate: bool = True) -> Row:
    """``fhir-server load`` of the generated directory into a fresh database; its start-up
    (imports, opening the store, installing the conformance resources, compiling the validator's
    rules for each type once), timed with one resource of each type, is subtracted."""
    label = sync + ("" if validate else ", validation off")
    tag = f"{sync}-{'on' if validate else 'off'}"

    def timed(name: str, path: Path) -> tuple[float, float]:
        """Wall and CPU seconds of one ``fhir-server load``."""
        env = {**os.environ, **db_env(opts, name, sync, validate)}
        cmd = [str(BIN / "fhir-server"), "load", str(path), "--no-progress"]
        cpu0, start = _children_cpu(), time.perf_counter()
        pin = pinned(opts.server_cpu)
        done = subprocess.run(cmd, env=env, capture_output=True, preexec_fn=pin)
        wall = time.perf_counter() - start
        if done.returncode != 0 or b"failed 0" not in done.stdout:
            out = (done.stdout + done.stderr).decode()[-3000:]
            raise RuntimeError(f"fhir-server load failed:\n{out}")
        return wall, _children_cpu() - cpu0

    startup, startup_cpu = min(timed(f"load-one-{tag}-{i}", files.one) for i in range(2))
    wall, cpu = timed(f"load-{tag}", files.directory)
    rate = files.resources / (wall - startup)
    out = Row(f"`fhir-server load` ndjson ({label})", rate, "resources/s", server_cpu=cpu / wall)
    out.cpu_us = (cpu - startup_cpu) / files.resources * 1e6
    out.note = f"{files.resources:,} resources in {wall:.1f} s, minus {startup:.1f} s start-up"
    say(f"  {out.name}: {out.rate:,.0f} resources/s, {out.cpu_us:,.0f} CPU µs each ({out.note})")
    return out


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
