"""Write data the default server accepts: the project's own Danish data set (scenarios S1-S7,
``dataset.synthetic``), every resource conformant to the profile required for its
type, cut into the shapes the write benchmarks send.

- `Citizens.directory` — the shared organizations, practitioners and roles, loaded first (their
  ids kept) because every citizen's resources refer to them.
- `Citizens.transactions` — transaction Bundles of ~100 entries: consecutive citizens' resources
  (Patient, RelatedPerson, Condition, CarePlan, MedicationStatement, Consent, …) with their ids
  replaced by ``urn:uuid:`` fullUrls and the references between them rewritten to match, so the
  server assigns ids as for any client's transaction; references to the directory stay literal.
- `Citizens.patients` — the citizens' Patients without ids, for ``POST /Patient``.

Deterministic: the same size and seed give the same bodies (the urn:uuids are UUID5s of the
data set's ids and the Bundle's number).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import orjson

from dataset.build import Json
from dataset.scenarios import SCENARIOS
from dataset.scenarios.scene import CprRegistry, Scene
from dataset.synthetic import World, build_world

_NAMESPACE = uuid.UUID("0b6c55f8-6a57-4f5e-9d0c-5b8e1f3a2c71")


class Citizens:
    """The first ``patients`` citizens of ``fhir-server generate --patients N --seed S`` (the
    same builders, so the same resources apart from the ids a transaction leaves to the server)."""

    def __init__(self, patients: int, seed: int = 1) -> None:
        self.patients, self.seed = patients, seed
        self._world: World
        self._world, self.directory = build_world(patients, seed)

    def groups(self) -> Iterator[list[Json]]:
        """Each citizen's resources (as `synthetic.resources` builds them after the directory)."""
        cprs = CprRegistry()
        for n in range(self.patients):
            scenario = SCENARIOS[n % len(SCENARIOS)]
            scene = Scene(
                f"syn-{n + 1:06d}", random.Random(f"{self.seed}:{n}"), self._world.home(n), cprs
            )
            scenario.build(scene, scene.person(scenario.ages))
            yield scene.out

    def transactions(self, count: int, entries: int = 100) -> list[bytes]:
        """``count`` transaction Bundles of whole citizens, each closed once it holds at least
        ``entries`` entries (so ~100-110 each)."""
        out: list[bytes] = []
        batch: list[Json] = []
        for group in self.groups():
            batch += group
            if len(batch) >= entries:
                out.append(transaction(batch, salt=str(len(out))))
                batch = []
                if len(out) == count:
                    return out
        raise ValueError(f"{self.patients} citizens make fewer than {count} Bundles")

    def patients_to_create(self) -> list[Json]:
        """Every citizen's Patient, without its id."""
        out = []
        for group in self.groups():
            for resource in group:
                if resource["resourceType"] == "Patient":
                    out.append({k: v for k, v in resource.items() if k != "id"})
        return out

    def directory_bundle(self) -> bytes:
        """The directory as one transaction of PUTs (ids kept: the citizens refer to them)."""
        entries = [
            {
                "fullUrl": f"{r['resourceType']}/{r['id']}",
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in self.directory
        ]
        return orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries})


def transaction(resources: list[Json], salt: str) -> bytes:
    """A transaction Bundle POSTing ``resources``: each id becomes a ``urn:uuid:`` fullUrl and
    every ``Type/id`` reference to one of them that fullUrl."""
    urns = {
        f"{r['resourceType']}/{r['id']}": f"urn:uuid:{uuid.uuid5(_NAMESPACE, salt + r['id'])}"
        for r in resources
    }
    entries = []
    for r in resources:
        body = _rewrite({k: v for k, v in r.items() if k != "id"}, urns)
        entries.append(
            {
                "fullUrl": urns[f"{r['resourceType']}/{r['id']}"],
                "resource": body,
                "request": {"method": "POST", "url": r["resourceType"]},
            }
        )
    return orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries})


def _rewrite(value: Any, urns: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {k: _rewrite(v, urns) for k, v in value.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref in urns:
            out["reference"] = urns[ref]
        return out
    if isinstance(value, list):
        return [_rewrite(v, urns) for v in value]
    return value
