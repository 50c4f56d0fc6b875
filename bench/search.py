"""Search latency at scale: a fixed query mix against SQLite databases of ~10k, ~100k and ~1M
resources (``--sizes`` counts Patients; each brings ~10 resources, see bench/data.py).

``.venv/bin/python -m bench.search [--sizes 1000,10000,100000]`` generates each dataset as
ndjson, loads it with ``fhir-server load`` into a fresh database, starts ``fhir-server serve``
on it and times each query sequentially over one keep-alive connection (latency, not
throughput). It also runs every query in-process against the same file (no HTTP) and keeps
SQLite's plan. Results go to docs/performance-search.md. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import orjson

from bench.data import ATC, ATC_CODES, CPR, RARE_LOINC, Drawn, SearchDataset
from bench.http import Client
from bench.report import machine, now, revision
from bench.search_inproc import explain
from bench.server import BIN, HOST, fhir_command, free_port, running

DOCS = Path(__file__).resolve().parent.parent / "docs"
DOC = DOCS / "performance-search.md"
MAIN_DOC = DOCS / "performance.md"
LINK = (
    "## Search at scale\n\nSearch latency at 10k / 100k / 1M resources: see"
    " [performance-search.md](performance-search.md) (`.venv/bin/python -m bench.search`).\n"
)
SERVER_CPU, CLIENT_CPU = 0, 1
PATIENT_SCOPED = ("carePlan-patient-status", "serviceRequest-subject", "medStatement-patient")
PAGE = 50


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


Maker = Callable[[Drawn, random.Random], str]


def _patient(d: Drawn, rng: random.Random) -> int:
    return rng.randrange(len(d.patient_ids))


def _q(value: str) -> str:
    return quote(value, safe="")


def _month(rng: random.Random) -> str:
    y, m = divmod(rng.randrange(24), 12)
    lo = f"{2023 + y}-{m + 1:02d}-01"
    y2, m2 = divmod(y * 12 + m + 1, 12)
    return f"date=ge{lo}&date=lt{2023 + y2}-{m2 + 1:02d}-01"


QUERIES: dict[str, tuple[str, Maker]] = {
    "carePlan-patient-status": (
        "CarePlan?patient=Patient/X&status=active",
        lambda d, r: f"CarePlan?patient=Patient/{d.patient_ids[_patient(d, r)]}&status=active",
    ),
    "serviceRequest-subject": (
        "ServiceRequest?subject=Patient/X",
        lambda d, r: f"ServiceRequest?subject=Patient/{d.patient_ids[_patient(d, r)]}",
    ),
    "medStatement-patient": (
        "MedicationStatement?patient=Patient/X&_count=50",
        lambda d, r: (
            f"MedicationStatement?patient=Patient/{d.patient_ids[_patient(d, r)]}&_count=50"
        ),
    ),
    "patient-identifier": (
        "Patient?identifier=urn:oid:1.2.208.176.1.2|<cpr>",
        lambda d, r: f"Patient?identifier={_q(CPR + '|' + d.cprs[_patient(d, r)])}",
    ),
    "medStatement-code": (
        "MedicationStatement?code=http://www.whocc.no/atc|<code>&_count=20",
        lambda d, r: f"MedicationStatement?code={_q(ATC + '|' + r.choice(ATC_CODES))}&_count=20",
    ),
    "observation-date-month": (
        "Observation?date=ge<month>&date=lt<next month>&_count=20",
        lambda d, r: f"Observation?{_month(r)}&_count=20",
    ),
    "patient-birthdate": (
        "Patient?birthdate=<day>",
        lambda d, r: f"Patient?birthdate={d.births[_patient(d, r)]}",
    ),
    "carePlan-chain-identifier": (
        "CarePlan?patient.identifier=urn:oid:1.2.208.176.1.2|<cpr>",
        lambda d, r: f"CarePlan?patient.identifier={_q(CPR + '|' + d.cprs[_patient(d, r)])}",
    ),
    "serviceRequest-chain-org-name": (
        "ServiceRequest?performer:Organization.name=<name prefix>&_count=20",
        lambda d, r: (
            "ServiceRequest?performer:Organization.name="
            f"{_q(r.choice(d.organization_names))}&_count=20"
        ),
    ),
    "carePlan-include-subject": (
        "CarePlan?patient=Patient/X&_include=CarePlan:subject",
        lambda d, r: (
            f"CarePlan?patient=Patient/{d.patient_ids[_patient(d, r)]}&_include=CarePlan:subject"
        ),
    ),
    "patient-revinclude-careplan": (
        "Patient?_id=X&_revinclude=CarePlan:subject",
        lambda d, r: f"Patient?_id={d.patient_ids[_patient(d, r)]}&_revinclude=CarePlan:subject",
    ),
    "patient-has-observation": (
        f"Patient?_has:Observation:patient:code={RARE_LOINC}&_count=20",
        lambda d, r: f"Patient?_has:Observation:patient:code={RARE_LOINC}&_count=20",
    ),
}
PAGING = "MedicationStatement?status=active&_count=20"


@dataclass
class Timing:
    query: str
    p50: float | None = None
    p95: float | None = None
    entries: float | None = None
    """Mean Bundle entries per response."""
    errors: int = 0
    error: str = ""
    store_p50: float | None = None
    """In-process (no HTTP): query building, chain resolution, SQL and includes, median ms."""
    plan: list[str] = field(default_factory=list)


@dataclass
class SizeResult:
    patients: int
    resources: int
    load_seconds: float
    db_bytes: int
    timings: dict[str, Timing] = field(default_factory=dict)

    @property
    def load_rate(self) -> float:
        return self.resources / self.load_seconds


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- data -------------------------------------------------------------------------------------


def _db_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())


def prepare(workdir: Path, patients: int, reuse: bool) -> tuple[SizeResult, Drawn]:
    """Generate and load one size (or, with ``--reuse``, take what an earlier run left)."""
    d = workdir / str(patients)
    d.mkdir(parents=True, exist_ok=True)
    db, ndjson, drawn_path, timing = (
        d / "fhir.db",
        d / "data.ndjson",
        d / "drawn.json",
        d / "load.json",
    )
    if reuse and timing.exists() and db.exists() and drawn_path.exists():
        say(f"{patients:,} patients: reusing {db}")
        drawn = Drawn(**json.loads(drawn_path.read_text()))
        t = json.loads(timing.read_text())
        return SizeResult(patients, drawn.resources, t["seconds"], _db_bytes(db)), drawn
    say(f"{patients:,} patients: generating {ndjson}")
    drawn = SearchDataset().write(patients, ndjson)
    drawn_path.write_text(json.dumps(asdict(drawn)))
    for old in d.glob("fhir.db*"):
        old.unlink()
    say(f"  {drawn.resources:,} resources; fhir-server load (synchronous=NORMAL)")
    env = {**os.environ, "FHIR_STORE_URL": f"sqlite:///{db}", "FHIR_SQLITE_SYNCHRONOUS": "NORMAL"}
    start = time.perf_counter()
    subprocess.run(
        [str(BIN / "fhir-server"), "load", "--no-progress", str(ndjson)],
        env=env,
        check=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {SERVER_CPU}),
    )
    seconds = time.perf_counter() - start
    timing.write_text(json.dumps({"seconds": seconds}))
    result = SizeResult(patients, drawn.resources, seconds, _db_bytes(db))
    mb = result.db_bytes / 1e6
    say(f"  loaded in {seconds:,.0f} s ({result.load_rate:,.0f}/s), {mb:,.0f} MB")
    return result, drawn


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
    env = {"FHIR_STORE_URL": f"sqlite:///{db}"}
    log = workdir / "server.log"
    say(f"{result.patients:,} patients: serving {db} on CPU {SERVER_CPU}")
    with running(fhir_command(port), port, env, log, SERVER_CPU):
        result.timings = asyncio.run(_measure_all(port, drawn, opts))
    say("  in-process (no HTTP) timings and plans")
    for name, (_, make) in QUERIES.items():
        rng = random.Random(f"{name}-{len(drawn.patient_ids)}")
        paths = [make(drawn, rng) for _ in range(opts.inproc)]
        ms, plan = explain(db, paths)
        result.timings[name].store_p50, result.timings[name].plan = ms, plan
    ms, plan = explain(db, [PAGING] * 3, pages=PAGE)
    result.timings[f"paging-page-{PAGE}"].store_p50 = ms
    result.timings[f"paging-page-{PAGE}"].plan = plan


# --- report -----------------------------------------------------------------------------------


def _label(patients: int, resources: int) -> str:
    n = resources
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def _ms(value: float | None) -> str:
    return "error" if value is None else f"{value:.1f}"


def render(results: list[SizeResult], opts: argparse.Namespace) -> str:
    names = [*QUERIES, "paging-page-1", f"paging-page-{PAGE}"]
    labels = [_label(r.patients, r.resources) for r in results]
    head = "| Query | " + " | ".join(f"{x} p50 / p95 ms" for x in labels)
    head += f" | p50 growth {labels[0]}→{labels[-1]} | in-process p50 ms ({labels[-1]}) |"
    lines = [head, "|---|" + "--:|" * (len(results) + 2)]
    first, last = results[0], results[-1]
    for name in names:
        cells = []
        for r in results:
            t = r.timings[name]
            cell = f"{_ms(t.p50)} / {_ms(t.p95)}"
            if t.entries is not None:
                cell += f" ({t.entries:.0f})"
            cells.append(cell)
        a, b = first.timings[name].p50, last.timings[name].p50
        growth = f"{b / a:.1f}x" if a and b else "-"
        shown = QUERIES[name][0] if name in QUERIES else f"{PAGING} (page {name.rsplit('-', 1)[1]})"
        store = last.timings[name].store_p50
        store_cell = "-" if store is None else f"{store:.1f}"
        shown = shown.replace("|", "\\|")  # GitHub tables split cells even inside backticks
        lines.append(f"| `{shown}` | " + " | ".join(cells) + f" | {growth} | {store_cell} |")
    inproc = [
        "| Query | " + " | ".join(labels) + f" | growth {labels[0]}→{labels[-1]} |",
        "|---|" + "--:|" * (len(results) + 1),
    ]
    for name in names:
        values = [r.timings[name].store_p50 for r in results]
        a, b = values[0], values[-1]
        growth = f"{b / a:.1f}x" if a and b else "-"
        shown = QUERIES[name][0] if name in QUERIES else f"{PAGING} (page {name.rsplit('-', 1)[1]})"
        shown = shown.replace("|", "\\|")
        cells = " | ".join("-" if v is None else f"{v:.2f}" for v in values)
        inproc.append(f"| `{shown}` | {cells} | {growth} |")
    verdict = []
    for name in PATIENT_SCOPED:
        t, t0 = last.timings[name], first.timings[name]
        ok95 = t.p95 is not None and t.p95 < 10
        growth = (t.p50 or 0) / (t0.p50 or 1)
        verdict.append(
            f"`{QUERIES[name][0]}`: p95 {_ms(t.p95)} ms ({'meets' if ok95 else 'misses'} < 10 ms),"
            f" p50 growth {growth:.2f}x ({'meets' if growth <= 1.5 else 'misses'} ≤ 1.5x)"
        )
    sizes = "\n".join(
        f"| {_label(r.patients, r.resources)} | {r.patients:,} | {r.resources:,}"
        f" | {r.load_seconds:,.0f} s | {r.load_rate:,.0f} | {r.db_bytes / 1e6:,.0f} MB"
        f" ({r.db_bytes / r.resources / 1e3:.1f} KB/resource) |"
        for r in results
    )
    errors = "\n".join(
        f"- {_label(r.patients, r.resources)} `{name}`: {t.errors} errors, e.g. {t.error}"
        for r in results
        for name, t in r.timings.items()
        if t.errors
    )
    plans = "\n\n".join(
        f"`{QUERIES[n][0] if n in QUERIES else PAGING + ' page ' + str(PAGE)}`\n\n```\n"
        + "\n".join(last.timings[n].plan)
        + "\n```"
        for n in names
        if last.timings[n].plan
    )
    return f"""# Search at scale

Measured by `bench/search.py` (not part of `make test`); regenerate with
`.venv/bin/python -m bench.search --sizes {",".join(str(r.patients) for r in results)}`
(this page is rewritten by each run; `make bench` does not touch it).

- **Date:** {now()}
- **Machine:** {opts.machine} (a shared, noisy VM)
- **Code:** {revision()}
- **Command:** `.venv/bin/python -m bench.search {opts.argv}`

## Latency per query

Sequential requests over one keep-alive HTTP/1.1 connection (latency, not throughput):
a warm-up pass over the whole mix ({opts.warmup} requests per query with other values), then
per query {opts.warmup} warm-up requests and {opts.requests} timed ones, parameter values
(Patient, CPR, ATC code, month, birth date, organization) drawn deterministically per size. In
parentheses: mean Bundle entries per response. Paging: {opts.walks} walks following `next` to
page {PAGE}, after one warm-up walk. **In-process** runs the same searches in the benchmark's
own process on the same file (query building, chain resolution, SQL, includes; no HTTP, no
Bundle rendering), median of {opts.inproc} values, for the largest size.

{chr(10).join(lines)}

In-process p50 ms (the store's part alone, same searches, no HTTP; paging: per page while
walking to page {PAGE}):

{chr(10).join(inproc)}

**Targets** (at the largest size measured, {labels[-1]}; indexed patient-scoped searches
p95 < 10 ms, p50 growth ≤ 1.5x from {labels[0]}):

{chr(10).join("- " + v for v in verdict)}

## Data and load

Per Patient (CPR identifier, name, birth date, gender, address): 2 CarePlans (status
active/completed/draft, category, period, careTeam), 2 ServiceRequests (status, priority,
authoredOn, requester → Practitioner, performer → Organization), 3 MedicationStatements
(status, ATC code, skewed over {len(ATC_CODES)} codes, effectiveDateTime), 1 Observation (LOINC
code, valueQuantity, 2023-2024), 1 Encounter; plus 200 Organizations, 200 CareTeams and 2,000
Practitioners shared. Generated by `bench.data.SearchDataset` (seeded, so deterministic),
loaded with `fhir-server load` (`FHIR_SQLITE_SYNCHRONOUS=NORMAL`) into a fresh database each,
the loader pinned to CPU {SERVER_CPU}. Load time includes the command's start-up.

| Size | Patients | Resources | Load time | Resources/s | DB size |
|---|--:|--:|--:|--:|--:|
{sizes}

## Errors

{errors or "None."}

## SQLite plans ({labels[-1]})

`EXPLAIN QUERY PLAN` of every statement one search runs (chains: the inner searches first).

{plans}
"""


def write_docs(text: str) -> None:
    DOC.write_text(text)
    main = MAIN_DOC.read_text() if MAIN_DOC.exists() else "# Performance\n"
    if "## Search at scale" not in main:
        head, sep, tail = main.partition("\n## History")
        main = f"{head.rstrip()}\n\n{LINK}{sep}{tail}" if sep else f"{main.rstrip()}\n\n{LINK}"
        MAIN_DOC.write_text(main)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000", help="Patients per size (x ~10)")
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
    if len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, {CLIENT_CPU})
    results = []
    for patients in (int(x) for x in opts.sizes.split(",")):
        result, drawn = prepare(opts.workdir, patients, opts.reuse)
        measure(result, drawn, opts.workdir, opts)
        results.append(result)
        text = render(results, opts)
        (opts.workdir / "performance-search.md").write_text(text)
    print(text)
    if not opts.no_doc:
        write_docs(text)
        say(f"wrote {DOC}")


if __name__ == "__main__":
    main()
