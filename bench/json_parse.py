"""What keeping decimals as written (`fhir_server.fhir_json`) costs a write, measured in process.

``.venv/bin/python -m bench.json_parse`` (about two minutes) prints two tables and writes them to
docs/performance.md ("Decimals as written"):

1. **Parse and serialize**: µs per resource to parse a request body and serialize each of its
   resources as `stamp` does, *before* (``orjson.loads`` + ``orjson.dumps``: what the server did
   until decimals kept their text) and *after* (`fhir_json.parse_body` + `fhir_json.dumps`), for
   the bodies the write benchmarks send (compact JSON, as orjson and ``JSON.stringify`` write it)
   and for the same bodies indented, written by Python's ``json.dumps`` or with every decimal
   given a trailing zero (the last two take the exact parse).
2. **Transaction ingest in process**: the FHIR ASGI app called directly (no sockets) with the
   benchmark's transaction Bundles on a fresh SQLite file, default settings (Danish profiles
   checked); batches alternate between the code as it is and the same code with ``orjson`` put
   back in place of `fhir_json` (the before), alternating Bundle by Bundle; server CPU µs per
   stored resource, the best round of each (other tenants only ever slow a round down).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from bench.report import DOC, machine, now, replace_section, revision
from bench.scenarios import write_data
from fhir_server import fhir_json
from fhir_server.app import ServerApp
from fhir_server.bundles import entries
from fhir_server.config import Settings
from fhir_server.errors import Invalid
from fhir_server.interactions import common

_DECIMAL = re.compile(rb'("value":-?[0-9]+\.[0-9]+)([,}\]])')


def _resources(doc: Any) -> list[Any]:
    if doc.get("resourceType") == "Bundle":
        return [e["resource"] for e in doc["entry"]]
    return [doc]


def _before(body: bytes) -> None:
    for r in _resources(orjson.loads(body)):
        orjson.dumps(r)


def _after(body: bytes) -> None:
    for r in _resources(fhir_json.parse_body(body)):
        fhir_json.dumps(r)


def _per_resource(bodies: list[bytes], count: int, reps: int) -> tuple[float, float]:
    """µs per resource before and after: the fastest of ``reps`` alternating passes each."""
    best = {_before: float("inf"), _after: float("inf")}
    for n in range(reps):
        for fn in (_before, _after) if n % 2 == 0 else (_after, _before):
            start = time.process_time()
            for body in bodies:
                fn(body)
            best[fn] = min(best[fn], time.process_time() - start)
    return best[_before] / count * 1e6, best[_after] / count * 1e6


def parse_table(citizens: int, reps: int) -> tuple[list[str], float]:
    """The table's rows, and the most a body that takes the exact parse added per resource."""
    data = write_data(citizens)
    compact = data.bundles
    variants = {
        "Transaction Bundles, compact (as the benchmark sends)": compact,
        "Patients for create, compact": data.patients,
        "Transaction Bundles, indented by two spaces (JSON.stringify(x, null, 2))": [
            orjson.dumps(orjson.loads(b), option=orjson.OPT_INDENT_2) for b in compact
        ],
        "Transaction Bundles, Python's json.dumps (spaces after separators, ASCII escapes)": [
            json.dumps(orjson.loads(b)).encode() for b in compact
        ],
        "Transaction Bundles, compact, every decimal with a trailing zero": [
            _DECIMAL.sub(rb"\g<1>0\2", b) for b in compact
        ],
    }
    worst = 0.0
    rows = [
        "| Bodies | resources | before µs/resource | after µs/resource | added µs/resource |",
        "|---|--:|--:|--:|--:|",
    ]
    for name, bodies in variants.items():
        count = sum(len(_resources(orjson.loads(b))) for b in bodies)
        before, after = _per_resource(bodies, count, reps)
        rows.append(f"| {name} | {count:,} | {before:.1f} | {after:.1f} | {after - before:+.1f} |")
        worst = max(worst, after - before)
    return rows, worst


@contextlib.contextmanager
def _orjson_only() -> Iterator[None]:
    """The server as it was: bodies parsed by orjson alone, resources written by it."""
    saved = entries.parse_body, common.parse_body, fhir_json.dumps

    def parse(body: bytes) -> Any:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as err:
            raise Invalid(f"Request body is not valid JSON: {err}") from err

    entries.parse_body = common.parse_body = parse  # type: ignore[assignment]
    fhir_json.dumps = lambda doc, option=0: orjson.dumps(doc, option=option)
    try:
        yield
    finally:
        entries.parse_body, common.parse_body, fhir_json.dumps = saved  # type: ignore[assignment]


async def _post(app: ServerApp, body: bytes) -> int:
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/fhir",
        "raw_path": b"/fhir",
        "query_string": b"",
        "headers": [(b"host", b"bench.local"), (b"content-type", b"application/fhir+json")],
        "scheme": "http",
        "server": ("bench.local", 80),  # the Host names the address it arrived on: trusted
    }
    await app(scope, receive, send)
    return int(sent[0]["status"])


async def _ingest(citizens: int, rounds: int) -> tuple[list[str], float]:
    """The table's rows, and the µs per resource before."""
    data = write_data(citizens)
    with tempfile.TemporaryDirectory(prefix="fhir-bench-json-") as work:
        settings = Settings(store_url=f"sqlite:///{Path(work) / 'fhir.db'}", auth="off")
        app = ServerApp(settings)
        await app.startup()
        try:
            if await _post(app, data.directory) != 200:
                raise RuntimeError("loading the directory failed")
            for body in data.bundles[:2]:  # warm up (the validator compiles its rules)
                await _post(app, body)
            best = {"before": float("inf"), "after": float("inf")}
            ratios = []
            for _ in range(rounds):
                used = {"before": 0.0, "after": 0.0}
                for i, body in enumerate(data.bundles):  # alternating Bundle by Bundle: the
                    # database grows, so later Bundles cost more
                    pair = {}
                    for name in ("before", "after") if i % 2 == 0 else ("after", "before"):
                        with _orjson_only() if name == "before" else contextlib.nullcontext():
                            start = time.process_time()
                            if await _post(app, body) != 200:
                                raise RuntimeError("a transaction failed")
                            pair[name] = time.process_time() - start
                            used[name] += pair[name]
                    ratios.append(pair["after"] / pair["before"] - 1)
                for name, total in used.items():
                    best[name] = min(best[name], total / (data.entries * len(data.bundles)) * 1e6)
        finally:
            await app.shutdown()
    added = best["after"] - best["before"]
    quartiles = statistics.quantiles(ratios, n=4)
    rows = [
        "| Transaction ingest in process | before µs/resource | after µs/resource | added |"
        " median of per-Bundle pairs (quartiles) |",
        "|---|--:|--:|--:|--:|",
        f"| {len(data.bundles)} Bundles of {data.entries:.0f} entries, best of"
        f" {rounds} rounds | {best['before']:.0f} | {best['after']:.0f} |"
        f" {added:+.0f} µs ({added / best['before']:+.1%}) | {quartiles[1]:+.1%}"
        f" ({quartiles[0]:+.1%} to {quartiles[2]:+.1%}) |",
    ]
    return rows, best["before"]


START, END = "<!-- json -->", "<!-- /json -->"


def _write(parse: list[str], ingest: list[str], exact: float, write: float) -> None:
    """The section "Decimals as written" of docs/performance.md (bench.run carries it over)."""
    args = " ".join(sys.argv[1:])
    section = f"""{START}
## Decimals as written

- **Date:** {now()}
- **Machine:** {machine()} (a shared VM)
- **Code:** {revision()}
- **Command:** `{f".venv/bin/python -m bench.json_parse {args}".strip()}`

Every request body is parsed by `fhir_server/fhir_json.py`, which keeps each number's text (R4:
a decimal's precision is significant) and refuses a key given twice or a control character in
a string. Before: `orjson.loads`, then `orjson.dumps` of each resource; after: orjson, and the
standard library's parser with hooks only for a body orjson would not write back byte for byte.

{chr(10).join(parse)}

{chr(10).join(ingest)}

In process, CPU time (`time.process_time`), best of alternating passes; the ingest runs the
whole write path (routing, validation with the Danish profiles, SQLite) through the ASGI app
without sockets, before and after alternating Bundle by Bundle on one database (each Bundle
posted once by each; the last column compares the two posts of each Bundle, which ran moments
apart, so other tenants disturb it least; on this shared VM the same work varies by a third
from one second to the next). A body as the write benchmarks send it pays the extra
`orjson.dumps` and comparison only; one that needs the exact parse (a decimal such as `1.50`,
`\\u` escapes, other formatting) pays up to {exact:.0f} µs per resource more, {exact / write:.0%}
of the {write:.0f} µs a resource costs in the ingest above.
{END}"""
    replace_section(DOC, START, END, section, "## Search at scale")
    print(f"wrote {DOC}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--citizens", type=int, default=400)
    parser.add_argument("--reps", type=int, default=11, help="parse repetitions (best kept)")
    parser.add_argument("--rounds", type=int, default=5, help="ingest alternations (best kept)")
    parser.add_argument("--no-write", action="store_true", help="print, leave the doc alone")
    args = parser.parse_args()
    parse, exact = parse_table(args.citizens, args.reps)
    print("\n".join(parse), end="\n\n")
    ingest, write = asyncio.run(_ingest(args.citizens, args.rounds))
    print("\n".join(ingest))
    if not args.no_write:
        _write(parse, ingest, exact, write)


if __name__ == "__main__":
    main()
