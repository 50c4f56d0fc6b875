"""The synthetic data set: N citizens, the scenarios S1-S7 in turn with random variation, over as
many municipalities, regions and GP clinics as that many citizens need.

Deterministic: the directory's random source is seeded from (seed, "directory") and each
citizen's from (seed, citizen number), string seeds that Python hashes the same way on every
platform and run, and no date comes from the clock — the same seed writes the same bytes.
Streaming: resources go to their files as each citizen is built; only the directory's handles
and the set of CPR numbers handed out stay in memory.

Output: one ndjson file per type, named `NN-Type.ndjson` so that `fhir-server load DIR` (which
reads a directory's files in name order) loads every referenced resource before its referrers.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from dataset.build import TYPE_ORDER, Json
from dataset.directory import DirectoryBuilder, MunicipalUnits, RegionUnits, Unit
from dataset.geography import MUNICIPALITIES
from dataset.scenarios import SCENARIOS
from dataset.scenarios.scene import CprRegistry, Home, Scene

CITIZENS_PER_MUNICIPALITY = 1000
CITIZENS_PER_CLINIC = 1500


@dataclass(frozen=True, slots=True)
class World:
    """The organizations and staff the citizens are spread over."""

    regions: dict[str, RegionUnits]
    municipalities: list[MunicipalUnits]
    clinics: dict[str, list[Unit]]

    def home(self, n: int) -> Home:
        """Citizen ``n``'s home: consecutive runs of len(SCENARIOS) citizens share a municipality,
        so every municipality sees every scenario; clinics take turns within a municipality."""
        per = len(SCENARIOS)
        m = self.municipalities[(n // per) % len(self.municipalities)]
        clinics = self.clinics[m.municipality.code]
        clinic = clinics[(n // (per * len(self.municipalities))) % len(clinics)]
        return Home(self.regions[m.municipality.region], m, clinic)


def build_world(patients: int, seed: int) -> tuple[World, list[Json]]:
    rng = random.Random(f"{seed}:directory")
    codes = sorted(MUNICIPALITIES)
    rng.shuffle(codes)
    chosen = sorted(
        codes[: min(len(codes), max(1, math.ceil(patients / CITIZENS_PER_MUNICIPALITY)))]
    )
    per_municipality = max(1, math.ceil(patients / len(chosen) / CITIZENS_PER_CLINIC))
    directory = DirectoryBuilder("syn", rng, numbering=100000)
    regions = {
        code: directory.region(code) for code in sorted({MUNICIPALITIES[c].region for c in chosen})
    }
    municipalities = [directory.municipality(code) for code in chosen]
    clinics = {
        code: [
            directory.gp_clinic(code, k, rng.randint(1, 3)) for k in range(1, per_municipality + 1)
        ]
        for code in chosen
    }
    return World(regions, municipalities, clinics), directory.out


def resources(patients: int, seed: int) -> Iterator[Json]:
    """Every resource of the data set: the directory first, then citizen by citizen."""
    world, directory = build_world(patients, seed)
    yield from directory
    cprs = CprRegistry()
    for n in range(patients):
        scenario = SCENARIOS[n % len(SCENARIOS)]
        rng = random.Random(f"{seed}:{n}")
        scene = Scene(f"syn-{n + 1:06d}", rng, world.home(n), cprs)
        scenario.build(scene, scene.person(scenario.ages))
        yield from scene.out


def file_name(type_: str) -> str:
    return f"{TYPE_ORDER.index(type_) + 1:02d}-{type_}.ndjson"


def write(out: Path, patients: int, seed: int) -> dict[str, int]:
    """Write the data set under ``out`` (replacing files of an earlier run); counts per type."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("[0-9][0-9]-*.ndjson"):
        old.unlink()
    counts: dict[str, int] = {}
    with ExitStack() as stack:
        files: dict[str, BinaryIO] = {}
        for resource in resources(patients, seed):
            type_ = resource["resourceType"]
            fh = files.get(type_)
            if fh is None:
                path = out / file_name(type_)
                fh = files[type_] = stack.enter_context(path.open("wb", buffering=1 << 20))
            fh.write(orjson.dumps(resource, option=orjson.OPT_APPEND_NEWLINE))
            counts[type_] = counts.get(type_, 0) + 1
    return {t: counts[t] for t in TYPE_ORDER if t in counts}
