"""Search latency at scale: a fixed query mix against SQLite databases of the Danish data set
(``--sizes`` counts citizens; each brings ~11 resources, see bench/search_data.py).

``.venv/bin/python -m bench.search [--sizes 1000,10000,100000]`` generates each size with
``fhir-server generate``, loads it with ``fhir-server load`` into a fresh database, starts
``fhir-server serve`` on it and times each query sequentially over one keep-alive connection
(latency, not throughput). It also runs every query in-process against the same file (no HTTP)
and keeps SQLite's plan. Results go to docs/performance-search.md. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit

import orjson

from bench.http import Client
from bench.report import machine
from bench.search_data import ATC, CPR, Drawn, SizeResult, Timing, prepare, say
from bench.search_inproc import explain
from bench.search_report import DOC, PAGE, render, write_docs
from bench.server import HOST, fhir_command, free_port, running
from fhir_server.errors import FhirError

SERVER_CPU, CLIENT_CPU = 0, 1

Maker = Callable[[Drawn, random.Random], str]


def _patient(d: Drawn, rng: random.Random) -> int:
    return rng.randrange(len(d.patient_ids))


def _pid(d: Drawn, rng: random.Random) -> str:
    return d.patient_ids[_patient(d, rng)]


def _cpr(d: Drawn, rng: random.Random) -> str:
    return _q(CPR + "|" + d.cprs[_patient(d, rng)])


def _q(value: str) -> str:
    return quote(value, safe="")


def _month(d: Drawn, rng: random.Random) -> str:
    """One calendar month in which Observations were made."""
    year, month = (int(x) for x in rng.choice(d.observation_months).split("-"))
    after = f"{year + month // 12}-{month % 12 + 1:02d}-01"
    return f"date=ge{year}-{month:02d}-01&date=lt{after}"


QUERIES: dict[str, tuple[str, Maker]] = {
    "carePlan-patient-status": (
        "CarePlan?patient=Patient/X&status=active",
        lambda d, r: f"CarePlan?patient=Patient/{_pid(d, r)}&status=active",
    ),
    "serviceRequest-subject": (
        "ServiceRequest?subject=Patient/X",
        lambda d, r: f"ServiceRequest?subject=Patient/{_pid(d, r)}",
    ),
    "medStatement-patient": (
        "MedicationStatement?patient=Patient/X&_count=50",
        lambda d, r: f"MedicationStatement?patient=Patient/{_pid(d, r)}&_count=50",
    ),
    "patient-identifier": (
        "Patient?identifier=urn:oid:1.2.208.176.1.2|<cpr>",
        lambda d, r: f"Patient?identifier={_cpr(d, r)}",
    ),
    "medStatement-code": (
        "MedicationStatement?code=http://www.whocc.no/atc|<code>&_count=20",
        lambda d, r: f"MedicationStatement?code={_q(ATC + '|' + r.choice(d.atc_codes))}&_count=20",
    ),
    "observation-date-month": (
        "Observation?date=ge<month>&date=lt<next month>&_count=20",
        lambda d, r: f"Observation?{_month(d, r)}&_count=20",
    ),
    "patient-birthdate": (
        "Patient?birthdate=<day>",
        lambda d, r: f"Patient?birthdate={d.births[_patient(d, r)]}",
    ),
    "carePlan-chain-identifier": (
        "CarePlan?patient.identifier=urn:oid:1.2.208.176.1.2|<cpr>",
        lambda d, r: f"CarePlan?patient.identifier={_cpr(d, r)}",
    ),
    "serviceRequest-chain-org-name": (
        "ServiceRequest?performer:Organization.name=<name>&_count=20",
        lambda d, r: (
            "ServiceRequest?performer:Organization.name="
            f"{_q(r.choice(d.organization_names))}&_count=20"
        ),
    ),
    "carePlan-include-subject": (
        "CarePlan?patient=Patient/X&_include=CarePlan:subject",
        lambda d, r: f"CarePlan?patient=Patient/{_pid(d, r)}&_include=CarePlan:subject",
    ),
    "patient-revinclude-careplan": (
        "Patient?_id=X&_revinclude=CarePlan:subject",
        lambda d, r: f"Patient?_id={_pid(d, r)}&_revinclude=CarePlan:subject",
    ),
    "patient-has-condition": (
        "Patient?_has:Condition:subject:code=<rarest diagnosis>&_count=20",
        lambda d, r: f"Patient?_has:Condition:subject:code={_q(d.rare_condition_code)}&_count=20",
    ),
}
PAGING = "MedicationStatement?status=active&_count=20"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- measurement ------------------------------------------------------------------------------


def _entries(body: bytes) -> int:
    return len(orjson.loads(body).get("entry", []))


async def _time(client: Client, path: str) -> tuple[float, int, bytes]:
    start = time.perf_counter()
    resp = await client.request("GET", path)
    elapsed = (time.perf_counter() - start) * 1000
    return elapsed, resp.status, resp.body


async def _measure_query(
    client: Client, name: str, drawn: Drawn, requests: int, warmup: int, salt: str = ""
) -> Timing:
    _, make = QUERIES[name]
    rng = random.Random(f"{name}-{len(drawn.patient_ids)}{salt}")
    paths = ["/fhir/" + make(drawn, rng) for _ in range(requests + warmup)]
    t = Timing(name)
    times, counts = [], []
    for i, path in enumerate(paths):
        ms, status, body = await _time(client, path)
        if status != 200:
            t.errors += 1
            t.error = t.error or f"{status} {body[:300].decode(errors='replace')} ({path})"
            continue
        if i >= warmup:
            times.append(ms)
            counts.append(_entries(body))
    if times:
        t.p50, t.p95 = statistics.median(times), _pct(times, 0.95)
        t.entries = statistics.fmean(counts)
    return t


def _next(body: bytes) -> str | None:
    for link in orjson.loads(body).get("link", []):
        if link.get("relation") == "next":
            parts = urlsplit(link["url"])
            return f"{parts.path}?{parts.query}"
    return None


async def _measure_paging(client: Client, walks: int) -> tuple[Timing, Timing]:
    first, last = Timing("paging-page-1"), Timing(f"paging-page-{PAGE}")
    firsts, lasts = [], []
    for _ in range(walks + 1):  # the first walk warms up
        path: str | None = "/fhir/" + PAGING
        for page in range(1, PAGE + 1):
            if path is None:
                last.errors += 1
                last.error = f"no next link after page {page - 1}"
                break
            ms, status, body = await _time(client, path)
            if status != 200:
                last.errors += 1
                last.error = f"{status} {body[:300].decode(errors='replace')}"
                break
            if page == 1:
                firsts.append(ms)
            elif page == PAGE:
                lasts.append(ms)
            path = _next(body)
    for t, values in ((first, firsts[1:]), (last, lasts[1:])):
        if values:
            t.p50, t.p95, t.entries = statistics.median(values), _pct(values, 0.95), 20
    return first, last


async def _measure_all(port: int, drawn: Drawn, opts: argparse.Namespace) -> dict[str, Timing]:
    client = Client(HOST, port)
    out: dict[str, Timing] = {}
    try:
        for name in QUERIES:  # a first pass over the mix (other values) warms the caches
            await _measure_query(client, name, drawn, 0, opts.warmup, salt="-warm")
        for name in QUERIES:
            out[name] = await _measure_query(client, name, drawn, opts.requests, opts.warmup)
            t = out[name]
            say(
                f"  {name:32} p50 {t.p50 or 0:8.2f} ms  p95 {t.p95 or 0:8.2f} ms"
                f"  entries {t.entries or 0:6.1f}  errors {t.errors}"
            )
        first, last = await _measure_paging(client, opts.walks)
        out[first.query], out[last.query] = first, last
        for t in (first, last):
            say(f"  {t.query:32} p50 {t.p50 or 0:8.2f} ms  p95 {t.p95 or 0:8.2f} ms")
    finally:
        await client.close()
    return out


def measure(result: SizeResult, drawn: Drawn, workdir: Path, opts: argparse.Namespace) -> None:
    db = workdir / str(result.patients) / "fhir.db"
    port = free_port()
    env = {"FHIR_STORE_URL": f"sqlite:///{db}", "FHIR_AUTH": "off"}  # the store's latency
    log = workdir / "server.log"
    say(f"{result.patients:,} patients: serving {db} on CPU {SERVER_CPU}")
    with running(fhir_command(port), port, env, log, SERVER_CPU):
        result.timings = asyncio.run(_measure_all(port, drawn, opts))
    say("  in-process (no HTTP) timings and plans")
    for name, (_, make) in QUERIES.items():
        rng = random.Random(f"{name}-{len(drawn.patient_ids)}")
        paths = [make(drawn, rng) for _ in range(opts.inproc)]
        try:
            ms, plan = explain(db, paths)
        except FhirError as err:  # refused (e.g. too costly): the HTTP errors say so too
            ms, plan = None, [f"refused: {err}"]
        result.timings[name].store_p50, result.timings[name].plan = ms, plan
    ms, plan = explain(db, [PAGING] * 3, pages=PAGE)
    result.timings[f"paging-page-{PAGE}"].store_p50 = ms
    result.timings[f"paging-page-{PAGE}"].plan = plan


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000", help="citizens per size (x ~11)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per query")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per query")
    parser.add_argument("--walks", type=int, default=10, help="paging walks to page 50")
    parser.add_argument("--inproc", type=int, default=20, help="in-process runs per query")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/fhir-search"))
    parser.add_argument("--reuse", action="store_true", help="reuse loaded databases")
    parser.add_argument("--no-doc", action="store_true", help="print only")
    opts = parser.parse_args()
    opts.argv = " ".join(sys.argv[1:])
    opts.machine = machine()  # before pinning this process to one CPU
    opts.load_average = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    if len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, {CLIENT_CPU})
    results = []
    for patients in (int(x) for x in opts.sizes.split(",")):
        result, drawn = prepare(opts.workdir, patients, opts.reuse, SERVER_CPU)
        measure(result, drawn, opts.workdir, opts)
        results.append(result)
        text = render(results, opts, QUERIES, PAGING, drawn)
        (opts.workdir / "performance-search.md").write_text(text)
    print(text)
    if not opts.no_doc:
        write_docs(text)
        say(f"wrote {DOC}")


if __name__ == "__main__":
    main()
