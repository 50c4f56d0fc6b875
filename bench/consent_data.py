"""The consent benchmark's data set, generated in process and written through the store's bulk
path (`UnitOfWork.write` in chunks, as `fhir-server load` does, without HTTP or validation: the
benchmark measures reads, and this is ~10x faster than posting).

Per citizen ~10 resources: the Patient (its GP clinic), an active and a completed CarePlan, an
active ServiceRequest whose performer is the citizen's home-nursing unit (the care relationship
the consent decision finds in the index) and a completed one, a finished Encounter, three
Observations and a MedicationStatement. Citizens are spread over home-nursing units of
`PER_UNIT` citizens each; the measured unit (`UNIT`) is the first. About `CONSENT_SHARE` of the
citizens have a block Consent (ff-consent), of four kinds in turn, so the unit's nurse has
partial views: the whole unit blocked, the unit blocked from CarePlans, an old data period
blocked, and a named GP blocked (not the nurse: read and judged, changes nothing for her).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fhir_server.config import Settings
from fhir_server.services import create_services
from fhir_server.store.base import UnitOfWork, in_transaction
from fhir_server.store.factory import make_store

Json = dict[str, Any]

UNIT = "kom-home"
"""The measured home-nursing unit (municipality health: municipality code and SOR id)."""
NURSE_ROLE = "PractitionerRole/nurse-role"
PER_UNIT = 2000
"""Citizens related to each home-nursing unit (the issue's ~2,000)."""
CONSENT_SHARE = 33
"""Every 33rd citizen (3 %) has a block Consent."""
GPS = 50
CHUNK = 2000
"""Resources per unit of work."""

SOR = "urn:oid:1.2.208.176.1.1"
MUNICIPALITY = "http://hl7.dk/fhir/core/CodeSystem/dk-core-municipality-codes"
YDERNUMMER = "urn:oid:1.2.208.176.1.4"
AUTHORISATION = "https://autregweb.sst.dk"
CPR = "urn:oid:1.2.208.176.1.2"
POLICY = "http://faellesforloeb.dk/fhir/CodeSystem/ff-consent-policy"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
IRCP = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}
    ]
}


@dataclass
class Built:
    citizens: int
    resources: int = 0
    seconds: float = 0.0
    related: list[str] = field(default_factory=list)
    """The measured unit's citizens (patient ids)."""
    careplans: list[str] = field(default_factory=list)
    """The active CarePlan of each of ``related`` (read-by-id targets)."""
    consents: int = 0
    unit_consents: dict[str, int] = field(default_factory=dict)
    """Block kinds among the measured unit's citizens."""
    types: dict[str, int] = field(default_factory=dict)


def _ref(target: str) -> Json:
    return {"reference": target}


def _unit(n: int) -> str:
    return UNIT if n == 0 else f"home-{n:04d}"


def directory(units: int) -> Iterator[Json]:
    """Home-nursing units, GP clinics, the measured unit's nurse (Practitioner + role)."""
    for n in range(units):
        yield {
            "resourceType": "Organization",
            "id": _unit(n),
            "active": True,
            "name": f"Hjemmesygeplejen {n}",
            "identifier": [
                {"system": MUNICIPALITY, "value": f"{101 + n % 98:04d}"},
                {"system": SOR, "value": f"{20000000000 + n}"},
            ],
        }
    for n in range(GPS):
        yield {
            "resourceType": "Organization",
            "id": f"gp-{n}",
            "active": True,
            "name": f"Lægehuset {n}",
            "identifier": [
                {"system": YDERNUMMER, "value": f"{100000 + n}"},
                {"system": SOR, "value": f"{30000000000 + n}"},
            ],
        }
        yield {
            "resourceType": "Practitioner",
            "id": f"gp-doc-{n}",
            "active": True,
            "name": [{"family": f"Læge {n}"}],
            "identifier": [{"system": AUTHORISATION, "value": f"GP{n:04d}"}],
        }
    yield {
        "resourceType": "Practitioner",
        "id": "nurse",
        "active": True,
        "name": [{"family": "Sygeplejerske"}],
        "identifier": [{"system": AUTHORISATION, "value": "NRS01"}],
    }
    yield {
        "resourceType": "PractitionerRole",
        "id": "nurse-role",
        "active": True,
        "practitioner": _ref("Practitioner/nurse"),
        "organization": _ref(f"Organization/{UNIT}"),
    }


def _block(cid: str, n: int, unit: str) -> tuple[str, Json]:
    kind = ("unit", "unit-careplans", "data-period", "named-gp")[(n // CONSENT_SHARE) % 4]
    provision: Json = {"type": "deny", "period": {"start": "2020-01-01"}}
    if kind == "unit":
        provision["actor"] = [{"role": IRCP, "reference": _ref(f"Organization/{unit}")}]
    elif kind == "unit-careplans":
        provision["actor"] = [{"role": IRCP, "reference": _ref(f"Organization/{unit}")}]
        provision["class"] = [{"system": RESOURCE_TYPES, "code": "CarePlan"}]
    elif kind == "data-period":
        provision["dataPeriod"] = {"start": "2000-01-01", "end": "2015-12-31"}
    else:
        provision["actor"] = [
            {"role": IRCP, "reference": _ref(f"Practitioner/gp-doc-{(n + 1) % GPS}")}
        ]
    consent = {
        "resourceType": "Consent",
        "id": f"{cid}-block",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": _ref(f"Patient/{cid}"),
        "dateTime": "2024-01-01T12:00:00Z",
        "performer": [_ref(f"Patient/{cid}")],
        "policyRule": {"coding": [{"system": POLICY, "code": "block"}]},
        "provision": provision,
    }
    return kind, consent


def citizen(n: int) -> tuple[list[Json], str | None]:
    """Citizen ``n``'s resources, and the kind of block Consent among them (None: none)."""
    cid = f"c{n:07d}"
    subject = _ref(f"Patient/{cid}")
    unit = _unit(n // PER_UNIT)
    year = 1930 + n % 80
    out: list[Json] = [
        {
            "resourceType": "Patient",
            "id": cid,
            "identifier": [{"system": CPR, "value": f"{n % 310000:06d}{n % 10000:04d}"}],
            "name": [{"family": f"Borger{n}", "given": ["Test"]}],
            "gender": "female" if n % 2 else "male",
            "birthDate": f"{year}-{1 + n % 12:02d}-{1 + n % 28:02d}",
            "generalPractitioner": [_ref(f"Organization/gp-{n % GPS}")],
        },
        {
            "resourceType": "CarePlan",
            "id": f"{cid}-cp",
            "status": "active",
            "intent": "plan",
            "subject": subject,
            "period": {"start": "2025-01-01"},
            "title": "Hjemmesygepleje",
        },
        {
            "resourceType": "CarePlan",
            "id": f"{cid}-cp-old",
            "status": "completed",
            "intent": "plan",
            "subject": subject,
            "period": {"start": "2014-01-01", "end": "2014-06-30"},
        },
        {
            "resourceType": "ServiceRequest",
            "id": f"{cid}-sr",
            "status": "active",
            "intent": "order",
            "subject": subject,
            "requester": _ref(f"Organization/gp-{n % GPS}"),
            "performer": [_ref(f"Organization/{unit}")],
            "authoredOn": "2025-01-01",
        },
        {
            "resourceType": "ServiceRequest",
            "id": f"{cid}-sr-old",
            "status": "completed",
            "intent": "order",
            "subject": subject,
            "performer": [_ref(f"Organization/{unit}")],
            "authoredOn": "2014-01-01",
        },
        {
            "resourceType": "Encounter",
            "id": f"{cid}-enc",
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "HH",
            },
            "subject": subject,
            "serviceProvider": _ref(f"Organization/{unit}"),
            "period": {"start": "2025-02-01T10:00:00Z", "end": "2025-02-01T10:30:00Z"},
        },
        {
            "resourceType": "MedicationStatement",
            "id": f"{cid}-ms",
            "status": "active",
            "subject": subject,
            "medicationCodeableConcept": {
                "coding": [{"system": "http://www.whocc.no/atc", "code": "N02BE01"}]
            },
        },
    ]
    for k, when in enumerate(("2012-05-01", "2024-03-01", "2025-03-01")):
        out.append(
            {
                "resourceType": "Observation",
                "id": f"{cid}-obs-{k}",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "subject": subject,
                "effectiveDateTime": f"{when}T09:00:00Z",
                "valueQuantity": {
                    "value": 60 + n % 40,
                    "unit": "/min",
                    "system": "http://unitsofmeasure.org",
                    "code": "/min",
                },
            }
        )
    kind = None
    if n % CONSENT_SHARE == CONSENT_SHARE - 1:
        kind, consent = _block(cid, n, unit)
        out.append(consent)
    return out, kind


async def build(db: Path, citizens: int, say: Any) -> Built:
    """Write the data set into a fresh SQLite file ``db``."""
    settings = Settings(
        store_url=f"sqlite:///{db}", sqlite_synchronous="NORMAL", install_conformance=False
    )
    services = create_services(settings)
    store = make_store(settings, services.indexer)
    await store.open()
    built = Built(citizens)
    units = max(1, -(-citizens // PER_UNIT))
    start = time.perf_counter()
    pending: list[Json] = list(directory(units))

    async def flush() -> None:
        batch = list(pending)
        pending.clear()

        async def work(uow: UnitOfWork) -> None:
            for r in batch:
                await uow.write(r["resourceType"], r["id"], r, method="PUT", minted=True)

        await in_transaction(store, work)
        built.resources += len(batch)
        for r in batch:
            built.types[r["resourceType"]] = built.types.get(r["resourceType"], 0) + 1

    try:
        for n in range(citizens):
            resources, kind = citizen(n)
            pending += resources
            if kind is not None:
                built.consents += 1
            if n < PER_UNIT:
                built.related.append(resources[0]["id"])
                built.careplans.append(resources[1]["id"])
                if kind is not None:
                    built.unit_consents[kind] = built.unit_consents.get(kind, 0) + 1
            if len(pending) >= CHUNK:
                await flush()
            if n and n % 10_000 == 0:
                rate = built.resources / (time.perf_counter() - start)
                say(f"  {n:,} citizens, {built.resources:,} resources ({rate:,.0f}/s)")
        await flush()
    finally:
        await store.close()
    built.seconds = time.perf_counter() - start
    return built
