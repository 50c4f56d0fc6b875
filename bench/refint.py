"""What referential integrity (``FHIR_REFERENTIAL_INTEGRITY``) costs on transaction ingest.

``.venv/bin/python -m bench.refint`` (about a minute) writes its table to docs/performance.md
("Referential integrity on transaction ingest"): two servers in one process (the ASGI apps called
directly, no sockets), each on its own fresh SQLite file, one with the check and one without,
take the same stream of transaction Bundles — a citizen's record: a Patient by ``urn:uuid:``
and resources referencing it, a shared Organization and Practitioner, and each other —
alternating Bundle by Bundle. Process CPU µs per Bundle (the best round's median) and the
overhead of the check; the target is at most 10 %.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from bench.report import DOC, machine, now, replace_section, revision
from fhir_server.app import ServerApp
from fhir_server.config import Settings

START, END = "<!-- refint -->", "<!-- /refint -->"
OBSERVATIONS = 12
"""Observations per Bundle (with a Patient, an Encounter, a Condition, a CarePlan and a
CareTeam: 17 entries, 40 local references)."""
MODES = ("off", "on")


def _bundle(n: int) -> dict[str, Any]:
    patient, encounter = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
    org, gp = {"reference": "Organization/bench-org"}, {"reference": "Practitioner/bench-gp"}
    subject = {"reference": patient}

    def entry(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "resource": resource,
            "request": {"method": "POST", "url": resource["resourceType"]},
        }
        if full_url:
            out["fullUrl"] = full_url
        return out

    entries = [
        entry(
            {
                "resourceType": "Patient",
                "identifier": [{"system": "urn:oid:1.2.208.176.1.2", "value": f"{n:010d}"}],
                "name": [{"family": f"Jensen{n}", "given": ["Karen"]}],
                "gender": "female",
                "birthDate": "1950-01-01",
                "managingOrganization": org,
                "generalPractitioner": [gp],
            },
            patient,
        ),
        entry(
            {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {"code": "AMB"},
                "subject": subject,
                "serviceProvider": org,
                "participant": [{"individual": gp}],
            },
            encounter,
        ),
        entry(
            {
                "resourceType": "Condition",
                "subject": subject,
                "encounter": {"reference": encounter},
                "recorder": gp,
                "code": {"text": "diabetes"},
            }
        ),
        entry(
            {
                "resourceType": "CarePlan",
                "status": "active",
                "intent": "plan",
                "subject": subject,
                "encounter": {"reference": encounter},
                "author": gp,
                "contributor": [org],
            }
        ),
        entry(
            {
                "resourceType": "CareTeam",
                "subject": subject,
                "participant": [{"member": gp}, {"member": org}],
                "managingOrganization": [org],
            }
        ),
    ]
    for i in range(OBSERVATIONS):
        entries.append(
            entry(
                {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "glucose"},
                    "subject": subject,
                    "encounter": {"reference": encounter},
                    "performer": [gp],
                    "valueQuantity": {"value": 5 + i / 10, "unit": "mmol/L"},
                }
            )
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


async def _call(app: ServerApp, method: str, path: str, body: bytes) -> int:
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"bench.local"), (b"content-type", b"application/fhir+json")],
        "scheme": "http",
        "server": ("bench.local", 80),
    }
    await app(scope, receive, send)
    return int(sent[0]["status"])


async def _app(work: Path, mode: str) -> ServerApp:
    settings = Settings(
        store_url=f"sqlite:///{work / f'fhir-{mode}.db'}",
        auth="off",
        required_profiles={},
        install_conformance=False,
        referential_integrity=mode == "on",
    )
    app = ServerApp(settings)
    await app.startup()
    for path, doc in (
        ("/fhir/Organization/bench-org", {"resourceType": "Organization", "name": "Bench"}),
        ("/fhir/Practitioner/bench-gp", {"resourceType": "Practitioner"}),
    ):
        doc["id"] = path.rsplit("/", 1)[1]
        if await _call(app, "PUT", path, orjson.dumps(doc)) not in (200, 201):
            raise RuntimeError(f"PUT {path} failed")
    return app


async def _measure(rounds: int, per_round: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="fhir-bench-refint-") as tmp:
        apps = {mode: await _app(Path(tmp), mode) for mode in MODES}
        try:
            best = {mode: float("inf") for mode in MODES}
            n = 0
            for _ in range(rounds):
                used: dict[str, list[float]] = {mode: [] for mode in MODES}
                for i in range(per_round):
                    body = orjson.dumps(_bundle(n))
                    n += 1
                    for mode in MODES if i % 2 == 0 else MODES[::-1]:
                        start = time.process_time()
                        status = await _call(apps[mode], "POST", "/fhir", body)
                        used[mode].append(time.process_time() - start)
                        if status != 200:
                            raise RuntimeError(f"transaction failed ({mode}): {status}")
                for mode in MODES:
                    best[mode] = min(best[mode], statistics.median(used[mode]) * 1e6)
            return best
        finally:
            for app in apps.values():
                await app.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bundles", type=int, default=40, help="per mode per round")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the docs")
    args = parser.parse_args()
    best = asyncio.run(_measure(args.rounds, args.bundles))
    entries = len(_bundle(0)["entry"])
    overhead = best["on"] / best["off"] - 1
    rows = [
        "| `FHIR_REFERENTIAL_INTEGRITY` | CPU µs per Bundle | CPU µs per entry | Overhead |",
        "|---|--:|--:|--:|",
        f"| `false` | {best['off']:,.0f} | {best['off'] / entries:,.0f} | — |",
        f"| `true` | {best['on']:,.0f} | {best['on'] / entries:,.0f} | {overhead:+.1%} |",
    ]
    section = "\n".join(
        [
            START,
            "## Referential integrity on transaction ingest (issue 14)",
            "",
            f"- **Date:** {now()}; command: `.venv/bin/python -m bench.refint`"
            f" (`--rounds {args.rounds} --bundles {args.bundles}`); code {revision()};",
            f"  machine: {machine()}.",
            f"- Transaction Bundles of {entries} entries (a Patient by `urn:uuid:`, an Encounter,"
            f" a Condition, a CarePlan, a CareTeam and {OBSERVATIONS} Observations referencing"
            " it, the Encounter, a stored Organization and Practitioner), posted to two servers in"
            " one process (the ASGI apps called directly), each on its own SQLite file, with and"
            " without the check, alternating Bundle by Bundle; process CPU per Bundle, the best"
            " round's median. Target: at most +10 %.",
            "",
            *rows,
            "",
            "The check walks each written resource's references once and asks the store which"
            " of the distinct targets are live in one query (`UnitOfWork.live`), after the last"
            " entry and before the commit; a delete asks the reference index for referrers. The"
            " machine is shared: compare the two rows of one run, not runs.",
            END,
        ]
    )
    print(section)
    if not args.no_write:
        replace_section(DOC, START, END, section, "## Search at scale")


if __name__ == "__main__":
    main()
