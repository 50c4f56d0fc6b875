"""What gzip costs on a ~100 KB search page, measured in process.

``.venv/bin/python -m bench.gzip_cost`` (about half a minute) writes its table to
docs/performance.md ("gzip on a search page"): the FHIR ASGI app called directly (no sockets)
on a fresh SQLite file holding 130 Patients of ~0.6 KB, answering ``GET Patient?_count=130``
(about 100 KB of JSON) without and with ``Accept-Encoding: gzip`` / ``deflate``, alternating
request by request; server CPU µs per response (the best round's median) and bytes sent. The
coding alone (`compression.encode` on the same page, levels 1 and 6) is timed too.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench.report import DOC, machine, now, replace_section, revision
from fhir_server.app import ServerApp
from fhir_server.config import Settings
from fhir_server.http import compression

START, END = "<!-- gzip -->", "<!-- /gzip -->"
PAGE = 130
CODINGS = ("identity", "gzip", "deflate")


def _patient(i: int) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": f"bench-{i}",
        "identifier": [{"system": "urn:oid:1.2.208.176.1.2", "value": f"{i:010d}"}],
        "name": [{"use": "official", "family": f"Jensen{i}", "given": ["Karen", "Marie"]}],
        "telecom": [
            {"system": "phone", "value": f"+45 {i:08d}", "use": "home"},
            {"system": "email", "value": f"karen.{i}@example.dk", "use": "home"},
        ],
        "gender": "female",
        "birthDate": f"19{i % 90 + 10}-0{i % 9 + 1}-1{i % 9}",
        "address": [
            {
                "use": "home",
                "line": [f"Nørregade {i}", "2. tv"],
                "city": "København K",
                "postalCode": f"1{i % 900 + 100}",
                "country": "DK",
            }
        ],
        "maritalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                    "code": "M",
                    "display": "Married",
                }
            ]
        },
    }


async def _call(
    app: ServerApp, method: str, path: str, query: bytes, body: bytes, coding: str
) -> tuple[int, int]:
    """Status and bytes sent for one request."""
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"host", b"bench.local"), (b"content-type", b"application/fhir+json")]
    headers.append((b"accept-encoding", coding.encode()))
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": headers,
        "scheme": "http",
        "server": ("bench.local", 80),
    }
    await app(scope, receive, send)
    return int(sent[0]["status"]), len(sent[1]["body"])


async def _measure(rounds: int, per_round: int) -> tuple[dict[str, float], dict[str, int]]:
    with tempfile.TemporaryDirectory(prefix="fhir-bench-gzip-") as work:
        settings = Settings(
            store_url=f"sqlite:///{Path(work) / 'fhir.db'}",
            auth="off",
            required_profiles={},
            install_conformance=False,
        )
        app = ServerApp(settings)
        await app.startup()
        try:
            bundle = {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [
                    {
                        "resource": _patient(i),
                        "request": {"method": "PUT", "url": f"Patient/bench-{i}"},
                    }
                    for i in range(PAGE)
                ],
            }
            status, _ = await _call(app, "POST", "/fhir", b"", orjson.dumps(bundle), "identity")
            if status != 200:
                raise RuntimeError(f"loading failed: {status}")
            query = f"_count={PAGE}".encode()
            sizes: dict[str, int] = {}
            best = {c: float("inf") for c in CODINGS}
            for _ in range(rounds):
                used: dict[str, list[float]] = {c: [] for c in CODINGS}
                for i in range(per_round):
                    order = CODINGS if i % 2 == 0 else CODINGS[::-1]
                    for coding in order:
                        start = time.process_time()
                        status, size = await _call(app, "GET", "/fhir/Patient", query, b"", coding)
                        used[coding].append(time.process_time() - start)
                        if status != 200:
                            raise RuntimeError(f"search failed: {status}")
                        sizes[coding] = size
                for coding in CODINGS:
                    best[coding] = min(best[coding], statistics.median(used[coding]) * 1e6)
            return best, sizes
        finally:
            await app.shutdown()


def _coding_alone(body: bytes, level: int, repeat: int = 200) -> tuple[float, int]:
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(repeat):
            out = compression.encode("gzip", body, level)
        best = min(best, (time.process_time() - start) / repeat * 1e6)
    return best, len(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=40, help="per coding per round")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the docs")
    args = parser.parse_args()
    best, sizes = asyncio.run(_measure(args.rounds, args.requests))
    page = orjson.dumps({"entry": [{"resource": _patient(i)} for i in range(PAGE)]})
    rows = [
        "| Response | Bytes sent | Server CPU µs per response | Extra CPU µs |",
        "|---|--:|--:|--:|",
    ]
    for coding in CODINGS:
        extra = best[coding] - best["identity"]
        rows.append(
            f"| `Accept-Encoding: {coding}` | {sizes[coding]:,} | {best[coding]:,.0f}"
            f" | {'—' if coding == 'identity' else f'{extra:+,.0f}'} |"
        )
    alone = [(level, *_coding_alone(page, level)) for level in (1, 6)]
    coding_lines = "; ".join(
        f"level {level}: {us:,.0f} µs → {size:,} bytes" for level, us, size in alone
    )
    section = "\n".join(
        [
            START,
            "## gzip on a search page (issue 15)",
            "",
            f"- **Date:** {now()}; command: `.venv/bin/python -m bench.gzip_cost`"
            f" (`--rounds {args.rounds} --requests {args.requests}`); code {revision()};",
            f"  machine: {machine()}.",
            f"- `GET Patient?_count={PAGE}` over {PAGE} Patients, in process (the ASGI"
            " app called directly), codings alternating request by request; best round's median.",
            "",
            *rows,
            "",
            f"The coding alone (gzip, the page's {PAGE} Patients as one {len(page):,}-byte JSON):"
            f" {coding_lines}. Level {compression.LEVEL} is used; responses under"
            f" {compression.MIN_SIZE:,} bytes are never coded. The generated Patients repeat more"
            " than real ones, so real pages shrink less than these; the"
            " extra CPU per response includes the machine's noise (other tenants): compare it"
            " with the coding-alone figure.",
            END,
        ]
    )
    print(section)
    if not args.no_write:
        replace_section(DOC, START, END, section, "## Search at scale")


if __name__ == "__main__":
    main()
