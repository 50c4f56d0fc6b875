"""One benchmark run: read-by-id against its raw-ASGI ceiling, create, transaction ingest and
``fhir-server load``, with SQLite synchronous=FULL (the default) and NORMAL.

``.venv/bin/python -m bench.run`` (``make bench``) takes about two minutes; ``--duration``,
``--rounds`` and ``--warmup`` shorten it. Prints the table and rewrites docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import shutil
import tempfile
import time
from pathlib import Path

from bench.data import Generator
from bench.loadgen import Result
from bench.report import Row, table, write_doc
from bench.scenarios import (
    Options,
    db_env,
    ingest,
    load,
    load_cli,
    reads,
    row,
    say,
    seed_patients,
    writes,
)
from bench.server import ceiling_command, fhir_command, free_port, running

READ_TARGET, INGEST_TARGET = 0.60, 3000


def _options() -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each one")
    parser.add_argument("--rounds", type=int, default=4, help="read/ceiling alternations")
    parser.add_argument("--patients", type=int, default=1000, help="Patients to read by id")
    parser.add_argument("--connections", type=int, default=64, help="for reads")
    parser.add_argument("--load-patients", type=int, default=2500, help="x 4 resources, as ndjson")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (databases, log)")
    args = parser.parse_args()
    two = len(os.sched_getaffinity(0)) >= 2
    return Options(
        duration=args.duration,
        warmup=args.warmup,
        rounds=args.rounds,
        patients=args.patients,
        connections=args.connections,
        load_patients=args.load_patients,
        workdir=Path(tempfile.mkdtemp(prefix="fhir-bench-")),
        server_cpu=0 if two else None,
        client_cpu=1 if two else None,
        keep=args.keep,
    )


def _read_rounds(opts: Options, gen: Generator, log: Path) -> tuple[list[Row], float]:
    """Read-by-id and the ceiling, alternated ``rounds`` times with both servers up; the best
    round of each is kept (interference from other tenants only ever slows a round down)."""
    fhir_port, ceiling_port = free_port(), free_port()
    answers_path = opts.workdir / "ceiling.pickle"
    env = db_env(opts, "full", "FULL")
    with contextlib.ExitStack() as stack:
        fhir = stack.enter_context(
            running(fhir_command(fhir_port), fhir_port, env, log, opts.server_cpu)
        )
        answers = seed_patients(opts, fhir_port, gen)
        answers_path.write_bytes(pickle.dumps(answers))
        ceiling = stack.enter_context(
            running(
                ceiling_command(ceiling_port),
                ceiling_port,
                {"BENCH_CEILING_DATA": str(answers_path)},
                log,
                opts.server_cpu,
            )
        )
        paths = list(answers)
        ours: list[Result] = []
        theirs: list[Result] = []
        for n in range(opts.rounds):
            say(f"round {n + 1}/{opts.rounds}")
            ours.append(load(opts, fhir_port, fhir.pid, reads(fhir_port, paths)))
            say(f"  read by id: {ours[-1].rps:,.0f} req/s")
            theirs.append(load(opts, ceiling_port, ceiling.pid, reads(ceiling_port, paths)))
            say(f"  ceiling:    {theirs[-1].rps:,.0f} req/s")
    best, top = max(ours, key=lambda r: r.rps), max(theirs, key=lambda r: r.rps)
    ratio = best.rps / top.rps
    pairs = sorted(o.rps / t.rps for o, t in zip(ours, theirs, strict=True))
    size = sum(len(a[2]) for a in answers.values()) / len(answers)
    spread = f"rounds {min(r.rps for r in ours):,.0f}-{best.rps:,.0f}"
    rows = [
        row(
            opts,
            "Read Patient by id",
            best,
            note=f"**{ratio:.0%} of ceiling** (per round {pairs[0]:.0%}-{pairs[-1]:.0%});"
            f" {size:,.0f}-byte bodies; {spread}",
        ),
        row(
            opts,
            "Ceiling: raw ASGI, same bytes",
            top,
            note=f"same uvicorn flags; rounds {min(r.rps for r in theirs):,.0f}-{top.rps:,.0f}",
        ),
    ]
    return rows, ratio


def main() -> None:
    opts = _options()
    try:
        _measure(opts)
    except BaseException:
        say(f"failed; the work dir {opts.workdir} is kept (server log: server.log)")
        raise
    if not opts.keep:
        shutil.rmtree(opts.workdir, ignore_errors=True)


def _measure(opts: Options) -> None:
    gen = Generator()
    log = opts.workdir / "server.log"
    say(f"work dir {opts.workdir} (server log: {log})")

    say("Read by id vs the ceiling (FHIR server synchronous=FULL)")
    rows, ratio = _read_rounds(opts, gen, log)

    for sync in ("FULL", "NORMAL"):
        say(f"Writes, synchronous={sync}")
        port = free_port()
        env = db_env(opts, f"writes-{sync}", sync)
        with running(fhir_command(port), port, env, log, opts.server_cpu) as server:
            rows += writes(opts, port, server.pid, gen, sync)

    say("Transaction ingest, synchronous=FULL, 2 worker processes (both cores)")
    port = free_port()
    env = db_env(opts, "writes-2-workers", "FULL")
    with running(fhir_command(port, workers=2), port, env, log, None) as server:
        two = ingest(opts, port, server.pid, gen, "FULL, 2 workers")
        two.note += "; server unpinned, CPU column counts the parent process only"
        rows.append(two)

    say("fhir-server load")
    rows += [load_cli(opts, gen, "FULL"), load_cli(opts, gen, "NORMAL")]

    by_name = {r.name: r for r in rows}
    ingested = by_name["Transaction ingest (FULL)"]
    ingested2 = by_name["Transaction ingest (FULL, 2 workers)"]
    cli = by_name["`fhir-server load` ndjson (FULL)"]
    summary = (
        f"Read-by-id reaches **{ratio:.0%}** of the raw-ASGI ceiling"
        f" ({'meets' if ratio >= READ_TARGET else 'misses'} the {READ_TARGET:.0%} target);"
        f" transaction ingest stores **{ingested.rate:,.0f} resources/s** with synchronous=FULL"
        f" on one worker and **{ingested2.rate:,.0f} resources/s** on two (both cores;"
        f" {'meets' if ingested2.rate >= INGEST_TARGET else 'misses'} the"
        f" {INGEST_TARGET:,}/s target); `fhir-server load` {cli.rate:,.0f} resources/s."
    )
    history = (
        f"| {time.strftime('%Y-%m-%d %H:%M')} | {rows[0].rate:,.0f} ({ratio:.0%})"
        f" | {by_name['Create Patient (FULL)'].rate:,.0f} | {ingested.rate:,.0f}"
        f" / {ingested2.rate:,.0f}"
        f" | {cli.rate:,.0f} |"
    )
    print()
    print(table(rows))
    print()
    print(summary)
    doc = write_doc(rows, summary, history, _method(opts))
    print(f"\nwrote {doc}")


def _method(o: Options) -> str:
    return f"""\
- Each server is a real `uvicorn` process started as in production (`fhir-server serve
  --workers 1 --log-level warning --no-access-log`: uvloop + httptools) on a fresh SQLite file
  in a temporary directory (`FHIR_STORE_URL=sqlite:////tmp/fhir-bench-…/fhir.db`), pinned to
  CPU 0. The load generator (`bench/loadgen.py`) is a separate process pinned to CPU 1:
  keep-alive HTTP/1.1 connections on asyncio Protocols + uvloop with pre-built request bytes,
  each sending its next request when the previous response is complete (`wrk` is not
  installed here).
- **Read by id:** {o.patients:,} Danish Patients (CPR identifier, name, address, telecom,
  GP by SOR identifier, narrative; ~1.1 KB) are first created with `POST /fhir/Patient`; the
  load then requests `GET /fhir/Patient/<id>` for a random one of them on {o.connections}
  connections.
- **Ceiling:** `bench/ceiling.py`, a few-line ASGI app, replays for the same URLs the status,
  ETag, Last-Modified, Content-Type, Content-Length and body the FHIR server sent (captured
  just before), under `uvicorn` with identical flags: the cost of HTTP in Python here. Read and
  ceiling run alternately, {o.rounds} rounds each with both servers up; the table shows the
  best round of each (other tenants of the machine only ever slow a round down), the note the
  range of the per-round ratios.
- **Create:** `POST /fhir/Patient` of 2,000 distinct Patients (cycled), 16 connections.
- **Transaction ingest:** `POST /fhir` of transaction Bundles of 100 entries (25 x Patient +
  CarePlan + ServiceRequest + MedicationStatement, the latter three referring to their
  Patient by `urn:uuid`), 4 connections; every entry is structurally validated. Rate = entries
  stored per second; latencies are per Bundle.
- **`fhir-server load`:** the same mix as ndjson ({o.load_patients * 4:,} resources with ids
  and `Patient/<id>` references) into a fresh database; the command's start-up (imports,
  opening the store), timed with a one-line file, is subtracted.
- Every load has a {o.warmup:g} s warm-up, then a {o.duration:g} s window. Writes run with
  `FHIR_SQLITE_SYNCHRONOUS=FULL` (the default: fsync on every commit) and again with
  `NORMAL`, each on a fresh database.
"""


if __name__ == "__main__":
    main()
