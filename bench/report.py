"""The results table, the machine description, and docs/performance.md."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
_HISTORY_START, _HISTORY_END = "<!-- history -->", "<!-- /history -->"
_KEEP_HISTORY = 12
_COLUMNS = 6


@dataclass
class Row:
    name: str
    rate: float
    unit: str
    p50_ms: float | None = None
    p99_ms: float | None = None
    server_cpu: float | None = None
    """The server process's CPU seconds per second (all its threads)."""
    server_core: float | None = None
    """How busy the server's core was (its process plus kernel network work, softirq)."""
    client_cpu: float | None = None
    note: str = ""
    cpu_us: float | None = None
    """Server CPU µs per unit of the rate (request or resource): what other tenants of the
    machine disturb least, since time they take from the server is not counted."""


def _num(value: float | None, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{suffix}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


def table(rows: list[Row]) -> str:
    head = (
        "| Measurement | Rate | p50 ms | p99 ms | Server CPU (core) | CPU µs per unit"
        " | Client CPU | Note |"
    )
    lines = [head, "|---|--:|--:|--:|--:|--:|--:|---|"]
    for r in rows:
        server = _pct(r.server_cpu) + (f" ({_pct(r.server_core)})" if r.server_core else "")
        lines.append(
            f"| {r.name} | {_num(r.rate)} {r.unit} | {_num(r.p50_ms, 2)} | {_num(r.p99_ms, 2)}"
            f" | {server} | {_num(r.cpu_us)} | {_pct(r.client_cpu)} | {r.note} |"
        )
    return "\n".join(lines)


def _cpuinfo() -> str:
    model, mhz = "unknown CPU", ""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown CPU":
            model = value.strip()
        elif key.strip() == "cpu MHz" and not mhz:
            mhz = f" @ {float(value):.0f} MHz"
    return model + mhz


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    except OSError:
        pass
    return "RAM unknown"


def machine() -> str:
    nproc = len(os.sched_getaffinity(0))
    libs = ", ".join(f"{m} {version(m)}" for m in ("uvicorn", "uvloop", "httptools", "orjson"))
    return (
        f"{_cpuinfo()}; nproc {nproc}; {_memory()}; Linux {platform.release()}; "
        f"Python {platform.python_version()}; SQLite {sqlite3.sqlite_version}; {libs}"
    )


def revision() -> str:
    """The measured code: commit, and whether the work tree had changes beyond it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=DOC.parent.parent, capture_output=True)
        return done.stdout.decode().strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"`{commit}`" + (" plus uncommitted changes" if dirty else "")


def command() -> str:
    args = " ".join(sys.argv[1:])
    return f".venv/bin/python -m bench.run {args}".strip()


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _history(previous: str, line: str) -> str:
    old: list[str] = []
    if _HISTORY_START in previous and _HISTORY_END in previous:
        block = previous.split(_HISTORY_START, 1)[1].split(_HISTORY_END, 1)[0]
        old = [_cells(x, _COLUMNS) for x in block.strip().splitlines() if x.startswith("| 20")]
    keep = [line, *old][:_KEEP_HISTORY]
    head = (
        "| Date | Read req/s (% of ceiling) | Create req/s"
        " | Transaction res/s (1 / 2 workers) | Load res/s"
        " | Validation cost (ingest 1 / 2 workers / load) |"
    )
    rule = "|---|" + "--:|" * (_COLUMNS - 1)
    return "\n".join([_HISTORY_START, head, rule, *keep, _HISTORY_END])


def _cells(line: str, count: int) -> str:
    """A row of an older run, padded with "-" for columns added since."""
    missing = count - (line.count("|") - 1)
    return line + " - |" * max(0, missing)


def _carried(previous: str, start: str = "<!-- smart -->", end: str = "<!-- /smart -->") -> str:
    """A section another benchmark writes (bench/smart.py), kept as it was."""
    if start in previous and end in previous:
        return start + previous.split(start, 1)[1].split(end, 1)[0] + end + "\n\n"
    return ""


def write_doc(rows: list[Row], summary: str, history_line: str, method: str) -> Path:
    previous = DOC.read_text() if DOC.exists() else ""
    text = f"""# Performance

Measured by `bench/` (never part of `make test`). Regenerate with `make bench`; the run takes
about eight minutes and rewrites this file (the history table below keeps earlier runs).

## Latest run

- **Date:** {now()}
- **Machine:** {machine()} (a shared VM)
- **Code:** {revision()}
- **Command:** `{command()}`

{table(rows)}

{summary}

## Method

{method.rstrip()}

## How to read the numbers

- **Rate** is completed requests (or stored resources) per second of the measurement window;
  **p50/p99** are per-request latencies seen by the client, from writing the request to the last
  byte of the response, so they include queueing behind the other connections (closed loop: each
  connection sends its next request when the previous answer is complete).
- **Server CPU (core)** is the server process's CPU time (all threads) per wall second, and in
  parentheses how busy its core was, including the kernel's network work (softirq) done there:
  ~100 % means the one worker was saturated, which is the point of a throughput test. **Client
  CPU** is the load generator's; well under 100 % means it was not the bottleneck. With two
  workers the server's CPU is the sum of its worker processes.
- **CPU µs per unit** is the server's CPU time per request (reads, creates) or per stored
  resource (ingest, load; for `fhir-server load` the command's CPU time minus its start-up's).
  Time other tenants take from the machine is not in it, so it varies less between runs than
  the rates do.
- **% of ceiling** compares read-by-id with a raw ASGI app answering the same URLs with the same
  bytes under the same uvicorn settings: the rest is the cost of the FHIR server itself.
- The machine is a shared 2-vCPU VM whose other tenants come and go: rounds of the same run
  differ by up to a third, whole runs by 10-20 %. Compare runs in the history table, and trust
  the ratio to the ceiling (measured alongside, round by round) over absolute numbers.
- With `synchronous=FULL` every acknowledged write survived an fsync, with `NORMAL` only a
  process crash (not power loss). The validation on/off pairs are the best of alternating
  rounds; the NORMAL writes are measured once each.

{_carried(previous)}{_carried(previous, "<!-- json -->", "<!-- /json -->")}\
{_carried(previous, "<!-- consent -->", "<!-- /consent -->")}\
{_carried(previous, "<!-- medcom -->", "<!-- /medcom -->")}## Search at scale

See [performance-search.md](performance-search.md) (`.venv/bin/python -m bench.search`).

## History

Since 2026-11-23 19:30 the writes send the Danish data set (scenarios S1-S7, `bench/danish.py`) to
servers that validate every write against the R4 definitions and the required Danish profiles
(the default since issue 4); earlier rows sent smaller generic resources, checked structurally
only, so their write figures are not comparable. Since 21:42 the structural check is the R4
definitions alone (fhir.resources' second pass is gone, docs/implementation/validation.md) and
reads by id are answered from the versions a process keeps until any write (the row "nothing
kept" in the latest run is the uncached read).

{_history(previous, history_line)}
"""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)
    return DOC


def replace_section(doc: Path, start: str, end: str, section: str, before: str) -> None:
    """Put ``section`` (which begins with ``start`` and ends with ``end``) into ``doc`` in place
    of the previous one between those markers, or, the first time, before the heading
    ``before``: each benchmark rewrites only its own part of performance.md."""
    text = doc.read_text() if doc.exists() else "# Performance\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.replace(f"\n{before}", f"\n{section}\n\n{before}", 1)
    doc.write_text(text)
