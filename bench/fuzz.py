"""The long fuzzing run (``make fuzz``): the suite's two fuzzers (tests/fuzz) with random seeds for
a fixed time, against the real app on a real SQLite file (the API fuzzer also on the MongoDB
store's stand-in). Prints the figures and writes them to the "Fuzzing" section of
docs/reliability.md.

``.venv/bin/python -m bench.fuzz --seconds 300`` (``make fuzz FUZZ_SECONDS=600``). The invariant
is the suite's: no 5xx, every error an OperationOutcome, nothing stored by a refused write.
Defects that ISSUE-10 gives to other items are counted apart (tests/fuzz/known.py); the run
exits non-zero when it finds anything else.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fuzz.fuzzers import api_fuzz, fuzz_settings, schema_fuzz
from tests.fuzz.harness import Finding, Harness, LiveServer, TimeUp
from tests.fuzz.known import owner

DOC = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
SECTION = "## Fuzzing"


@dataclass
class Part:
    name: str
    backend: str
    share: float
    fuzzer: Callable[[Harness, Any], None]
    seconds: float = 0.0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)


PARTS = [
    Part("API fuzzer (hypothesis)", "sqlite", 0.45, api_fuzz),
    Part("API fuzzer (hypothesis)", "mongo-standin", 0.2, api_fuzz),
    Part("schemathesis (OpenAPI from the CapabilityStatement)", "sqlite", 0.35, schema_fuzz),
]


def run_part(part: Part, seconds: float) -> None:
    with (
        tempfile.TemporaryDirectory() as directory,
        LiveServer(Path(directory), part.backend) as server,
    ):
        harness = Harness(server, known=owner, fail_fast=False)
        start = time.monotonic()
        harness.stop_at = start + seconds
        with contextlib.suppress(TimeUp):
            part.fuzzer(harness, fuzz_settings(10**9, seeded=False))
        part.seconds = time.monotonic() - start
        part.requests = harness.figures.requests
        part.statuses = harness.figures.statuses
        part.findings = harness.figures.findings


def _distinct(findings: list[Finding]) -> list[Finding]:
    """One finding per (problem, method, path shape)."""
    seen, out = set(), []
    for f in findings:
        path = f.url.split("?")[0].split("/fhir", 1)[-1].split("/")
        key = (f.problem, f.known, f.method, "/".join(path[:2]), len(path))
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def report(parts: list[Part], seconds: float, command: str) -> str:
    lines = [
        SECTION,
        "",
        "Written by `make fuzz` (bench/fuzz.py); the suite runs the same fuzzers seeded and "
        "bounded (tests/fuzz/test_fuzz.py). Invariant: no 5xx, every 4xx/5xx body an "
        "OperationOutcome with an issue that has a severity and a code, nothing stored by a "
        "refused write (the newest system-history entry is unchanged after it).",
        "",
        f"- Machine: {os.cpu_count()} CPUs (nproc), Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}",
        f"- Command: `{command}`, {seconds:.0f} s requested",
        "",
        "| fuzzer | store | time | requests | status histogram | 5xx | 5xx of known items "
        "| other broken invariants |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for p in parts:
        histogram = ", ".join(f"{s}: {n}" for s, n in sorted(p.statuses.items()))
        server_errors = sum(n for s, n in p.statuses.items() if s >= 500)
        known = sum(1 for f in p.findings if f.known)
        other = sum(1 for f in p.findings if not f.known)
        lines.append(
            f"| {p.name} | {p.backend} | {p.seconds:.0f} s | {p.requests:,} | {histogram} "
            f"| {server_errors} | {known} | {other} |"
        )
    findings = [f for p in parts for f in p.findings]
    total = sum(p.requests for p in parts)
    unknown = [f for f in findings if not f.known]
    lines += [
        "",
        f"Total: {total:,} requests, {sum(1 for f in findings if f.status >= 500)} answered 5xx, "
        f"{len(unknown)} broke the invariant outside the known items.",
        "",
    ]
    by_item = Counter(f.known for f in findings if f.known)
    if by_item:
        lines.append("Known defects (ISSUE-10 items owned elsewhere; tolerated until they land):")
        lines.append("")
        lines += [f"- {item}: {n} requests" for item, n in sorted(by_item.items())]
        lines.append("")
    if unknown:
        lines.append("Other findings (one per shape):")
        lines.append("")
        lines += [f"- `{f.reproducer(300)}`" for f in _distinct(unknown)]
        lines.append("")
    return "\n".join(lines)


def write_doc(section: str, doc: Path = DOC) -> None:
    """Replace (or add) the Fuzzing section; the rest of the file is other runs' figures."""
    text = doc.read_text() if doc.exists() else "# Reliability\n"
    start = text.find(SECTION + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    doc.write_text(text.rstrip("\n") + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS", "300"))
    )
    parser.add_argument("--no-doc", action="store_true", help="print only")
    args = parser.parse_args(argv)
    logging.getLogger("fhir_server").setLevel(logging.CRITICAL)  # the 500s are counted here
    for part in PARTS:
        print(f"{part.name} on {part.backend}: {args.seconds * part.share:.0f} s", flush=True)
        run_part(part, args.seconds * part.share)
        print(f"  {part.requests:,} requests, {dict(sorted(part.statuses.items()))}", flush=True)
    command = f"make fuzz FUZZ_SECONDS={args.seconds:.0f}"
    section = report(PARTS, args.seconds, command)
    print(section)
    if not args.no_doc:
        write_doc(section)
    return 1 if any(not f.known for p in PARTS for f in p.findings) else 0


if __name__ == "__main__":
    sys.exit(main())
