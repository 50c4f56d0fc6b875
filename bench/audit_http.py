"""Read-by-id with consent and audit on, against the raw-ASGI ceiling in the same run (issue 12:
target ≥ 50 %): one ``uvicorn`` worker (bench.smart_app, ``FHIR_AUTH=smart``, real RS256
tokens) pinned to CPU 0, the load generator (bench/loadgen.py, 64 connections) on CPU 1, the
data set of bench/consent_data.py (written through the store's bulk path), in alternating
rounds:

- the home-nursing unit's nurse reading her citizens' active CarePlans by id (care
  relationship looked up, the citizen's Consents judged, a PatientRead AuditEvent committed
  before each answer) — with ``FHIR_AUDIT`` on, and on a second server with it off;
- citizens reading their own CarePlan (``patient/*.rs``, one token per citizen), audit on;
- a ``system/*.rs`` token (scopes only, audited), audit on;
- the ceiling (bench/ceiling.py): the nurse's answers, the same bytes, from a raw ASGI app.

``.venv/bin/python -m bench.audit --http [--citizens 10000]``. Rewrites the "Read by id with
consent and audit" section of docs/performance.md. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pickle
import shutil
import sys
from pathlib import Path

import orjson
from joserfc.jwk import RSAKey

from bench.consent import _capture, _prepare, _reads
from bench.consent_data import NURSE_ROLE, Built
from bench.loadgen import Result
from bench.report import DOC, machine, now, replace_section, revision
from bench.scenarios import Options, load, pinning, say
from bench.server import HOST, UVICORN_FLAGS, ceiling_command, free_port, running
from bench.smart import BASE, _token

START, END = "<!-- audit-read -->", "<!-- /audit-read -->"
TARGET = 0.50
CITIZEN_TOKENS = 200
LABELS = {
    "nurse": "Nurse reads a related citizen's CarePlan: consent + audit on",
    "nurse-no-audit": "The same, `FHIR_AUDIT=false` (consent only)",
    "citizen": "Citizen reads own CarePlan (`patient/*.rs`), audit on",
    "system": "`system/*.rs` (no consent), audit on",
    "ceiling": "Ceiling: raw ASGI, the nurse's answers",
}


def run(args: argparse.Namespace) -> None:
    host = machine()  # before pinning
    load_before = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    server_cpu, client_cpu = pinning()
    workdir: Path = args.workdir / str(args.citizens)
    db, built = _prepare(workdir, args.citizens, reuse=True)
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})
    out = workdir / "run"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    key = RSAKey.generate_key(2048, parameters={"kid": "bench-1"}, private=True)
    jwks = out / "jwks.json"
    jwks.write_bytes(orjson.dumps({"keys": [key.as_dict(private=False)]}))
    nurse = _token(key, "user/*.rs", fhirUser=NURSE_ROLE, sub="nurse")
    system = _token(key, "system/*.rs")
    pairs = list(zip(built.related, built.careplans, strict=True))[:CITIZEN_TOKENS]
    citizens = [
        (_token(key, "patient/*.rs", fhirUser=f"Patient/{p}", patient=p, sub=p), c)
        for p, c in pairs
    ]
    opts = Options(
        duration=args.duration,
        warmup=1.0,
        rounds=args.rounds,
        patients=0,
        connections=64,
        workdir=out,
        server_cpu=server_cpu,
        client_cpu=client_cpu,
    )
    env = {
        "FHIR_STORE_URL": f"sqlite:///{db}",
        "FHIR_BASE_URL": BASE,
        "BENCH_JWKS": str(jwks),
        "FHIR_AUTH": "smart",
    }
    log = out / "server.log"
    app = ["-m", "uvicorn", "bench.smart_app:create_app", "--factory"]
    ports = {"on": free_port(), "off": free_port(), "ceiling": free_port()}

    def command(port: int) -> list[str]:
        return [sys.executable, *app, "--host", HOST, "--port", str(port), *UVICORN_FLAGS]

    reads: dict[str, list[Result]] = {k: [] for k in LABELS}
    with contextlib.ExitStack() as stack:
        on = stack.enter_context(
            running(command(ports["on"]), ports["on"], {**env, "FHIR_AUDIT": "true"}, log, None)
        )
        off = stack.enter_context(
            running(command(ports["off"]), ports["off"], {**env, "FHIR_AUDIT": "false"}, log, None)
        )
        for pid in (on.pid, off.pid):
            if server_cpu is not None:
                os.sched_setaffinity(pid, {server_cpu})
        paths = [f"/fhir/CarePlan/{c}" for c in built.careplans]
        answers = asyncio.run(_capture(ports["on"], paths, nurse))
        (out / "ceiling.pickle").write_bytes(pickle.dumps(answers))
        ceiling = stack.enter_context(
            running(
                ceiling_command(ports["ceiling"]),
                ports["ceiling"],
                {"BENCH_CEILING_DATA": str(out / "ceiling.pickle")},
                log,
                server_cpu,
            )
        )
        visible = list(answers)

        def requests(who: str, port: int) -> list[bytes]:
            if who == "citizen":
                return [
                    r
                    for token, careplan in citizens
                    for r in _reads(port, [f"/fhir/CarePlan/{careplan}"], token)
                ]
            return _reads(port, visible, system if who == "system" else nurse)

        for n in range(args.rounds):
            say(f"read-by-id round {n + 1}/{args.rounds}")
            for who, port, pid in (
                ("nurse", ports["on"], on.pid),
                ("ceiling", ports["ceiling"], ceiling.pid),
                ("nurse-no-audit", ports["off"], off.pid),
                ("citizen", ports["on"], on.pid),
                ("system", ports["on"], on.pid),
            ):
                reads[who].append(load(opts, port, pid, requests(who, port), connections=64))
                say(f"  {who}: {reads[who][-1].rps:,.0f} req/s")
    load_after = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    section = _section(args, host, f"{load_before} before, {load_after} after", built, reads)
    (out / "section.md").write_text(section)
    print(section)
    if not args.no_doc:
        replace_section(DOC, START, END, section, "## Search at scale")
        say(f"wrote {DOC}")


def _section(
    args: argparse.Namespace,
    host: str,
    load_avg: str,
    built: Built,
    reads: dict[str, list[Result]],
) -> str:
    best = {k: max(v, key=lambda r: r.rps) for k, v in reads.items()}
    ceiling = best["ceiling"].rps
    rows = []
    for who, r in best.items():
        rounds = ", ".join(f"{x.rps:,.0f}" for x in reads[who])
        share = "" if who == "ceiling" else f"**{r.rps / ceiling:.0%}**"
        cpu_us = f"{r.server_cpu / r.rps * 1e6:.0f}" if r.server_cpu and r.rps else "-"
        rows.append(
            f"| {LABELS[who]} | {r.rps:,.0f} | {share} | {r.p50_ms:.2f} | {r.p99_ms:.2f}"
            f" | {cpu_us} | {rounds} |"
        )
    per_round = [
        n.rps / c.rps for n, c in zip(reads["nurse"], reads["ceiling"], strict=True) if c.rps
    ]
    ratio = best["nurse"].rps / ceiling if ceiling else 0.0
    verdict = "meets" if ratio >= TARGET else "misses"
    return f"""{START}
## Read by id with consent and audit (issue 12)

- **Date:** {now()}
- **Machine:** {host} — a shared 2-core VM (load average {load_avg})
- **Code:** {revision()}
- **Command:** `.venv/bin/python -m bench.audit --http --citizens {args.citizens}`
  ({args.rounds} rounds of {args.duration:g} s per row, alternating; 64 connections)
- **Scale:** {args.citizens:,} citizens, {built.resources:,} resources (bench/consent_data.py), the
  nurse's unit related to {len(built.related):,}; `FHIR_SQLITE_SYNCHRONOUS`
  FULL (the default): every audit batch is fsynced before its reads are answered.

| Read by id | req/s | of ceiling | p50 ms | p99 ms | server CPU µs/read | rounds req/s |
|---|--:|--:|--:|--:|--:|---|
{chr(10).join(rows)}

Read-by-id with consent and audit on reaches **{ratio:.0%}** of the raw-ASGI ceiling measured
in the same run ({verdict} the {TARGET:.0%} target; per round
{min(per_round, default=0):.0%}-{max(per_round, default=0):.0%}).
{END}"""
