"""The demo data set: seven citizens of Aarhus, one per scenario S1-S7, and who cares for them.

Stable, readable ids (`Patient/demo-s2-child`, `CarePlan/demo-s2-careplan`,
`Organization/demo-midt-bua`, …) so documentation and tests can name them; everything else
(names of staff and relatives, phone numbers, dates) comes from fixed random sources and never
changes between runs. `fhir-server demo` loads it: resources whose stored content already equals
the demo's are left alone, so loading twice writes nothing the second time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson

from dataset import access_cases
from dataset.build import TYPE_ORDER, Json
from dataset.directory import DirectoryBuilder
from dataset.names import Name
from dataset.scenarios import SCENARIOS
from dataset.scenarios.scene import CprRegistry, Home, Person, Scene

if TYPE_CHECKING:
    from fhir_server.config import Settings
    from fhir_server.services import Services
    from fhir_server.store.base import Store

CITIZENS: dict[str, tuple[Person, int]] = {
    # scenario → (the citizen, which of the two GP clinics is theirs)
    "s1": (Person(Name("Inge", "Sørensen", True), date(1941, 3, 12), "1203410248"), 1),
    "s2": (Person(Name("Emil", "Kjær", False), date(2013, 5, 4), "0405134213"), 1),
    "s3": (Person(Name("Mikkel", "Holm", False), date(1992, 9, 27), "2709921457"), 2),
    "s4": (Person(Name("Knud", "Mortensen", False), date(1939, 1, 30), "3001392135"), 1),
    "s5": (Person(Name("Birthe", "Lund", True), date(1958, 6, 8), "0806583604"), 2),
    "s6": (Person(Name("Poul", "Eriksen", False), date(1944, 12, 2), "0212440871"), 1),
    "s7": (Person(Name("Else", "Vestergaard", True), date(1938, 8, 19), "1908381922"), 2),
}

EXAMPLES = (
    ("The S2 child's shared plan with its care team",
     "CarePlan?_id=demo-s2-careplan&_include=CarePlan:care-team"),
    ("Everything in Emil's plans, teams and goals",
     "CarePlan?subject=Patient/demo-s2-child&_include=CarePlan:goal&_include=CarePlan:care-team"),
    ("Knud's discharge medication list (S4)",
     "MedicationStatement?subject=Patient/demo-s4-citizen"),
    ("Open requests to Aarhus home nursing",
     "ServiceRequest?performer=Organization/demo-aarhus-home-nursing&status=active"),
    ("Tasks waiting for a receiver to accept them", "Task?status=requested"),
    ("Else's own view (S7): her care team", "CareTeam?subject=Patient/demo-s7-citizen"),
)  # fmt: skip


def demo_resources() -> list[Json]:
    """The whole demo set, ordered so every reference points to a resource before it."""
    directory = DirectoryBuilder("demo", random.Random("demo-directory"), numbering=90000)
    region = directory.region("DK-82")
    aarhus = directory.municipality("0751")
    clinics = {1: directory.gp_clinic("0751", 1, 2), 2: directory.gp_clinic("0751", 2, 1)}
    access_cases.ward_section(directory, region)
    out = list(directory.out)
    cprs = CprRegistry()
    for scenario in SCENARIOS:
        person, clinic = CITIZENS[scenario.key]
        cprs.claim(person.cpr)
        home = Home(region, aarhus, clinics[clinic])
        rng = random.Random(f"demo-{scenario.key}")
        scene = Scene(f"demo-{scenario.key}", rng, home, cprs, complete=True)
        scenario.build(scene, person)
        out += scene.out
    out += access_cases.build(Home(region, aarhus, clinics[1]), clinics[2], cprs)
    rank = {t: i for i, t in enumerate(TYPE_ORDER)}
    return sorted(out, key=lambda r: rank[r["resourceType"]])


@dataclass
class DemoReport:
    total: int = 0
    unchanged: int = 0
    written: int = 0
    failures: list[str] = field(default_factory=list)
    types: dict[str, int] = field(default_factory=dict)
    """How many resources of each type the demo set has."""
    citizens: dict[str, str] = field(default_factory=dict)
    """Each citizen's Patient id and given name, in the demo's order."""


def _same(stored: bytes, resource: Json) -> bool:
    current: dict[str, Any] = orjson.loads(stored)
    meta = {
        k: v for k, v in current.get("meta", {}).items() if k not in ("versionId", "lastUpdated")
    }
    if meta:
        current["meta"] = meta
    else:
        current.pop("meta", None)
    return current == resource


async def load_demo(
    store: Store, settings: Settings, services: Services, progress: bool = True
) -> DemoReport:
    """Load the demo set through the bulk loader (`fhir-server load`) of a server with these
    ``services``, skipping what is stored unchanged already."""
    from fhir_server.loader import Loader

    resources = demo_resources()
    report = DemoReport(total=len(resources))
    pending = []
    for resource in resources:
        type_ = resource["resourceType"]
        report.types[type_] = report.types.get(type_, 0) + 1
        if type_ == "Patient":
            report.citizens[resource["id"]] = resource["name"][0]["given"][0]
        current = await store.read(resource["resourceType"], resource["id"])
        if current and not current.deleted and current.content and _same(current.content, resource):
            report.unchanged += 1
        else:
            pending.append((f"{resource['resourceType']}/{resource['id']}", resource))
    loaded = await Loader(store, settings, services).load_resources(pending, progress)
    report.written, report.failures = loaded.loaded, loaded.failures
    return report
