"""The search benchmark's data: the project's Danish data set (``fhir-server generate``, scenarios
S1-S7, ~11 resources per citizen, every resource conformant to the profile required for its type,
so the default server accepts all of it), loaded with ``fhir-server load``, and what the query
mix needs to know about it (`Drawn`), read back from the generated files.

The load runs with ``FHIR_VALIDATE_PROFILES=false``: the files are the generator's, which the
dataset tests validate against the required profiles, and a search benchmark measures searches,
not the write path (docs/performance.md measures that, validation on and off).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.server import BIN

CPR = "urn:oid:1.2.208.176.1.2"
ATC = "http://www.whocc.no/atc"
SEED = 1


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


@dataclass
class Drawn:
    """What the query mix draws its values from (every Patient's, every code in use)."""

    patient_ids: list[str] = field(default_factory=list)
    cprs: list[str] = field(default_factory=list)
    births: list[str] = field(default_factory=list)
    organization_names: list[str] = field(default_factory=list)
    atc_codes: list[str] = field(default_factory=list)
    """Every ATC code of a MedicationStatement, most used first."""
    condition_codes: list[tuple[str, int]] = field(default_factory=list)
    """(system|code, Conditions) for every Condition code, most used first."""
    observation_months: list[str] = field(default_factory=list)
    """Every month (YYYY-MM) an Observation's effective[x] starts in."""
    types: dict[str, int] = field(default_factory=dict)
    """Resources per type."""
    resources: int = 0

    @property
    def rare_condition_code(self) -> str:
        return self.condition_codes[-1][0]


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


def _lines(directory: Path, type_: str) -> Iterator[dict[str, Any]]:
    for path in directory.glob(f"[0-9][0-9]-{type_}.ndjson"):
        with path.open("rb") as fh:
            for line in fh:
                yield orjson.loads(line)


def scan(directory: Path) -> Drawn:
    """Read the values the queries need back from ``fhir-server generate``'s files."""
    d = Drawn()
    for p in _lines(directory, "Patient"):
        d.patient_ids.append(p["id"])
        d.cprs.append(next(i["value"] for i in p["identifier"] if i["system"] == CPR))
        d.births.append(p["birthDate"])
    d.organization_names = [o["name"] for o in _lines(directory, "Organization")]
    atc: Counter[str] = Counter()
    for m in _lines(directory, "MedicationStatement"):
        for c in m.get("medicationCodeableConcept", {}).get("coding", []):
            if c.get("system") == ATC:
                atc[c["code"]] += 1
    d.atc_codes = [code for code, _ in atc.most_common()]
    months: set[str] = set()
    for o in _lines(directory, "Observation"):
        start = o.get("effectiveDateTime") or o.get("effectivePeriod", {}).get("start")
        if start:
            months.add(start[:7])
    d.observation_months = sorted(months)
    codes: Counter[str] = Counter()
    for c in _lines(directory, "Condition"):
        for coding in c.get("code", {}).get("coding", []):
            codes[f"{coding['system']}|{coding['code']}"] += 1
    d.condition_codes = codes.most_common()
    for path in sorted(directory.glob("[0-9][0-9]-*.ndjson")):
        with path.open("rb") as fh:
            d.types[path.stem.split("-", 1)[1]] = sum(1 for line in fh if line.strip())
    d.resources = sum(d.types.values())
    return d


def db_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())


def prepare(workdir: Path, patients: int, reuse: bool, cpu: int) -> tuple[SizeResult, Drawn]:
    """Generate and load one size (or, with ``reuse``, take what an earlier run left)."""
    d = workdir / str(patients)
    d.mkdir(parents=True, exist_ok=True)
    db, data, timing = d / "fhir.db", d / "data", d / "load.json"
    if reuse and timing.exists() and db.exists() and data.exists():
        say(f"{patients:,} patients: reusing {db} (values read again from {data})")
        drawn = scan(data)
        seconds = json.loads(timing.read_text())["seconds"]
        return SizeResult(patients, drawn.resources, seconds, db_bytes(db)), drawn
    say(f"{patients:,} patients: fhir-server generate --patients {patients} --seed {SEED}")
    generate = [str(BIN / "fhir-server"), "generate", "--patients", str(patients)]
    subprocess.run([*generate, "--seed", str(SEED), "--out", str(data)], check=True)
    drawn = scan(data)
    for old in d.glob("fhir.db*"):
        old.unlink()
    say(f"  {drawn.resources:,} resources; fhir-server load (synchronous=NORMAL, validation off)")
    env = {
        **os.environ,
        "FHIR_STORE_URL": f"sqlite:///{db}",
        "FHIR_SQLITE_SYNCHRONOUS": "NORMAL",
        "FHIR_VALIDATE_PROFILES": "false",
    }
    start = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "fhir-server"), "load", "--no-progress", str(data)],
        env=env,
        capture_output=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0 or b"failed 0" not in done.stdout:
        raise RuntimeError(f"fhir-server load: {(done.stdout + done.stderr).decode()[-3000:]}")
    timing.write_text(json.dumps({"seconds": seconds}))
    result = SizeResult(patients, drawn.resources, seconds, db_bytes(db))
    mb = result.db_bytes / 1e6
    say(f"  loaded in {seconds:,.0f} s ({result.load_rate:,.0f}/s), {mb:,.0f} MB")
    return result, drawn
