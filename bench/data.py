"""Realistic, deterministic Danish test data: Patients and the care resources that refer to them.

Everything is generated from a seeded ``random.Random`` so two runs send the same bodies.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

Resource = dict[str, Any]

CPR = "urn:oid:1.2.208.176.1.2"
SOR = "urn:oid:1.2.208.176.1.1"
ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FAMILY = _words(
    "Jensen Nielsen Hansen Pedersen Andersen Christensen Larsen Sørensen Rasmussen"
    " Jørgensen Petersen Madsen Kristensen Olsen Thomsen Christiansen Poulsen Johansen Møller"
)
_GIVEN_F = _words("Anne Kirsten Mette Hanne Helle Anna Susanne Lene Maria Marianne Ida")
_GIVEN_M = _words("Peter Jens Lars Michael Henrik Thomas Søren Jan Niels Christian Mads")
_STREETS = _words("Vestergade Østergade Nørregade Søndergade Skolevej Kirkevej Engvej")
_CITIES = (
    ("8000", "Aarhus C", "751"),
    ("5000", "Odense C", "461"),
    ("9000", "Aalborg", "851"),
    ("2100", "København Ø", "101"),
    ("7100", "Vejle", "630"),
    ("6700", "Esbjerg", "561"),
)
_DRUGS = (
    ("C09AA05", "Ramipril", "2,5 mg 1 gang dagligt"),
    ("A10BA02", "Metformin", "500 mg 2 gange dagligt"),
    ("N02BE01", "Paracetamol", "1 g op til 4 gange dagligt"),
    ("C10AA05", "Atorvastatin", "20 mg 1 gang dagligt til aften"),
    ("B01AC06", "Acetylsalicylsyre", "75 mg 1 gang dagligt"),
)
_SERVICES = (
    ("385763009", "Hjemmesygepleje"),
    ("710125008", "Genoptræning"),
    ("225358003", "Sårpleje"),
    ("386053000", "Evaluering af medicinering"),
)


class Generator:
    def __init__(self, seed: int = 2024) -> None:
        self.rng = random.Random(seed)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _birth(self) -> date:
        return date(1930, 1, 1) + timedelta(days=self.rng.randrange(0, 365 * 85))

    def patient(self) -> Resource:
        rng = self.rng
        female = rng.random() < 0.5
        given = rng.sample(_GIVEN_F if female else _GIVEN_M, 2)
        family = rng.choice(_FAMILY)
        born = self._birth()
        serial = rng.randrange(0, 1000) * 10 + (rng.randrange(0, 10, 2) + (0 if female else 1))
        cpr = born.strftime("%d%m%y") + f"{serial:04d}"
        postal, city, municipality = rng.choice(_CITIES)
        street = f"{rng.choice(_STREETS)} {rng.randrange(1, 120)}, {rng.randrange(5)}. th"
        phone = f"+45{rng.randrange(20_000_000, 99_999_999)}"
        name = f"{' '.join(given)} {family}"
        return {
            "resourceType": "Patient",
            "meta": {"profile": ["http://hl7.dk/fhir/core/StructureDefinition/dk-core-patient"]},
            "text": {
                "status": "generated",
                "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{name}, født {born}</div>',
            },
            "identifier": [{"use": "official", "system": CPR, "value": cpr}],
            "active": True,
            "name": [{"use": "official", "family": family, "given": given}],
            "telecom": [
                {"system": "phone", "value": phone, "use": "mobile"},
                {"system": "email", "value": f"{given[0].lower()}.{rng.randrange(100)}@mail.dk"},
            ],
            "gender": "female" if female else "male",
            "birthDate": born.isoformat(),
            "address": [
                {
                    "use": "home",
                    "line": [street],
                    "city": city,
                    "postalCode": postal,
                    "country": "DK",
                    "district": municipality,
                }
            ],
            "maritalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                        "code": rng.choice("MSWDU"),
                    }
                ]
            },
            "communication": [
                {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "da"}]}}
            ],
            "generalPractitioner": [
                {
                    "identifier": {"system": SOR, "value": str(rng.randrange(10**14, 10**15))},
                    "display": f"Lægerne {rng.choice(_STREETS)}",
                }
            ],
        }

    def _day(self) -> str:
        return (date(2024, 1, 1) + timedelta(days=self.rng.randrange(0, 300))).isoformat()

    def care_plan(self, subject: str) -> Resource:
        start = self._day()
        return {
            "resourceType": "CarePlan",
            "identifier": [{"system": "urn:dk:kommune:careplan", "value": self.uuid()}],
            "status": "active",
            "intent": "plan",
            "title": "Forløbsplan for hjemmepleje",
            "subject": {"reference": subject},
            "period": {"start": start},
            "created": start,
            "category": [{"coding": [{"system": SNOMED, "code": "736271009"}]}],
            "description": "Plan for pleje i eget hjem efter udskrivelse fra hospital.",
        }

    def service_request(self, subject: str) -> Resource:
        code, display = self.rng.choice(_SERVICES)
        return {
            "resourceType": "ServiceRequest",
            "identifier": [{"system": "urn:dk:region:henvisning", "value": self.uuid()}],
            "status": "active",
            "intent": "order",
            "priority": "routine",
            "code": {"coding": [{"system": SNOMED, "code": code, "display": display}]},
            "subject": {"reference": subject},
            "authoredOn": self._day(),
            "requester": {
                "identifier": {"system": SOR, "value": str(self.rng.randrange(10**14, 10**15))}
            },
            "note": [{"text": "Borgeren er udskrevet og har behov for opfølgning."}],
        }

    def medication_statement(self, subject: str) -> Resource:
        code, name, dose = self.rng.choice(_DRUGS)
        return {
            "resourceType": "MedicationStatement",
            "identifier": [{"system": "urn:dk:fmk:ordination", "value": self.uuid()}],
            "status": "active",
            "medicationCodeableConcept": {
                "coding": [{"system": ATC, "code": code, "display": name}],
                "text": name,
            },
            "subject": {"reference": subject},
            "effectiveDateTime": self._day(),
            "dosage": [{"text": dose}],
        }

    def family(self, subject: str) -> list[Resource]:
        """The three care resources about one patient."""
        return [
            self.care_plan(subject),
            self.service_request(subject),
            self.medication_statement(subject),
        ]

    def transaction(self, patients: int) -> bytes:
        """A transaction Bundle: ``patients`` x (Patient + CarePlan + ServiceRequest +
        MedicationStatement), the care resources referring to their Patient by ``urn:uuid``."""
        entries: list[Resource] = []
        for _ in range(patients):
            full = f"urn:uuid:{self.uuid()}"
            entries.append(_entry(full, self.patient()))
            entries.extend(_entry(f"urn:uuid:{self.uuid()}", r) for r in self.family(full))
        return orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries})

    def ndjson(self, patients: int) -> bytes:
        """The same mix as ndjson with ids assigned and ``Patient/<id>`` references."""
        lines = []
        for _ in range(patients):
            pid = self.uuid()
            lines.append({**self.patient(), "id": pid})
            lines.extend({**r, "id": self.uuid()} for r in self.family(f"Patient/{pid}"))
        return b"".join(orjson.dumps(r) + b"\n" for r in lines)


def _entry(full_url: str, resource: Resource) -> Resource:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }


# --- Search-at-scale dataset (bench/search.py) -------------------------------------------------

LOINC = "http://loinc.org"
_ATC_MORE = (
    ("C07AB02", "Metoprolol"),
    ("C03CA01", "Furosemid"),
    ("N06AB06", "Sertralin"),
    ("A02BC01", "Omeprazol"),
    ("R03AC02", "Salbutamol"),
    ("H03AA01", "Levothyroxin"),
    ("N05CF01", "Zopiclon"),
    ("B01AF01", "Rivaroxaban"),
    ("C08CA01", "Amlodipin"),
    ("M01AE01", "Ibuprofen"),
    ("N02AA01", "Morfin"),
    ("A12AX", "Calcium og D-vitamin"),
    ("N06DA02", "Donepezil"),
    ("J01CE02", "Phenoxymethylpenicillin"),
    ("L04AX03", "Methotrexat"),
)
ATC_CODES = tuple(c for c, _, _ in _DRUGS) + tuple(c for c, _ in _ATC_MORE)
_ATC_NAMES = {c: n for c, n, _ in _DRUGS} | dict(_ATC_MORE)
_ATC_WEIGHTS = tuple(30 // (i + 1) + 1 for i in range(len(ATC_CODES)))
"""Skewed like prescribing: the first codes are common, the last ones rare."""

OBSERVATION_CODES = (
    ("8867-4", "Puls", "/min", 50, 110, 300),
    ("8480-6", "Systolisk blodtryk", "mm[Hg]", 100, 180, 300),
    ("29463-7", "Legemsvægt", "kg", 45, 120, 250),
    ("2339-0", "Glukose", "mmol/L", 4, 15, 100),
    ("4548-4", "HbA1c", "mmol/mol", 30, 90, 40),
    ("2160-0", "Kreatinin", "umol/L", 50, 200, 9),
    ("1988-5", "CRP", "mg/L", 1, 150, 1),
)
"""(LOINC, display, UCUM unit, low, high, weight); the last one is rare (~0.1 %)."""
RARE_LOINC = OBSERVATION_CODES[-1][0]

_ORG_KINDS = _words("Hjemmeplejen Sygeplejen Genoptræningen Lægehuset Sygehus Rehabilitering")
_ORG_PLACES = _words(
    "Aarhus Odense Aalborg Vejle Esbjerg Randers Kolding Horsens Viborg Silkeborg Herning"
    " Roskilde Næstved Slagelse Holbæk Svendborg Hjørring Frederikshavn Skive Thisted"
    " Haderslev Sønderborg Aabenraa Ringkøbing Holstebro Fredericia Nyborg Middelfart Grenaa"
    " Hillerød Helsingør Køge Kalundborg Nakskov"
)


@dataclass
class Drawn:
    """What the query mix needs to know about the generated data (kept for every Patient)."""

    patient_ids: list[str] = field(default_factory=list)
    cprs: list[str] = field(default_factory=list)
    births: list[str] = field(default_factory=list)
    organization_names: list[str] = field(default_factory=list)
    resources: int = 0


class SearchDataset:
    """Patients with ~10 resources each (2 CarePlans, 2 ServiceRequests, 3 MedicationStatements,
    1 Observation, 1 Encounter) plus shared Organizations, Practitioners and CareTeams; ids and
    values drawn from a seeded ``random.Random``, so a size gives the same file every time."""

    ORGANIZATIONS = 200
    PRACTITIONERS = 2000

    def __init__(self, seed: int = 2025) -> None:
        self.gen = Generator(seed)
        self.rng = self.gen.rng

    def _id(self) -> str:
        return self.gen.uuid()

    def _date(self, start: date, days: int) -> str:
        return (start + timedelta(days=self.rng.randrange(days))).isoformat()

    def write(self, patients: int, path: Path) -> Drawn:
        drawn = Drawn()
        with path.open("wb") as out:

            def put(resource: Resource) -> None:
                out.write(orjson.dumps(resource) + b"\n")
                drawn.resources += 1

            orgs = [self._id() for _ in range(self.ORGANIZATIONS)]
            for i, oid in enumerate(orgs):
                name = f"{_ORG_KINDS[i % len(_ORG_KINDS)]} {_ORG_PLACES[i // len(_ORG_KINDS)]}"
                drawn.organization_names.append(name)
                put(self._organization(oid, name))
            teams = [self._id() for _ in orgs]
            for tid, oid in zip(teams, orgs, strict=True):
                put(self._care_team(tid, oid))
            pracs = [self._id() for _ in range(self.PRACTITIONERS)]
            for pid in pracs:
                put(self._practitioner(pid))
            for _ in range(patients):
                for resource in self._patient_family(drawn, orgs, teams, pracs):
                    put(resource)
        return drawn

    def _organization(self, oid: str, name: str) -> Resource:
        return {
            "resourceType": "Organization",
            "id": oid,
            "identifier": [{"system": SOR, "value": str(self.rng.randrange(10**14, 10**15))}],
            "active": True,
            "name": name,
        }

    def _care_team(self, tid: str, oid: str) -> Resource:
        return {
            "resourceType": "CareTeam",
            "id": tid,
            "status": "active",
            "managingOrganization": [{"reference": f"Organization/{oid}"}],
        }

    def _practitioner(self, pid: str) -> Resource:
        rng = self.rng
        female = rng.random() < 0.5
        return {
            "resourceType": "Practitioner",
            "id": pid,
            "identifier": [{"system": SOR, "value": str(rng.randrange(10**14, 10**15))}],
            "name": [
                {
                    "family": rng.choice(_FAMILY),
                    "given": [rng.choice(_GIVEN_F if female else _GIVEN_M)],
                }
            ],
        }

    def _patient_family(
        self, drawn: Drawn, orgs: list[str], teams: list[str], pracs: list[str]
    ) -> list[Resource]:
        rng = self.rng
        pid = self._id()
        patient = {**self.gen.patient(), "id": pid}
        drawn.patient_ids.append(pid)
        drawn.cprs.append(patient["identifier"][0]["value"])
        drawn.births.append(patient["birthDate"])
        subject = {"reference": f"Patient/{pid}"}
        out: list[Resource] = [patient]
        y2024 = date(2024, 1, 1)
        for _ in range(2):
            start = self._date(y2024, 366)
            out.append(
                {
                    "resourceType": "CarePlan",
                    "id": self._id(),
                    "status": rng.choices(("active", "completed", "draft"), (5, 4, 1))[0],
                    "intent": "plan",
                    "category": [{"coding": [{"system": SNOMED, "code": "736271009"}]}],
                    "subject": subject,
                    "period": {"start": start},
                    "careTeam": [{"reference": f"CareTeam/{rng.choice(teams)}"}],
                }
            )
        for _ in range(2):
            code, display = rng.choice(_SERVICES)
            out.append(
                {
                    "resourceType": "ServiceRequest",
                    "id": self._id(),
                    "status": rng.choices(("active", "completed", "draft"), (5, 4, 1))[0],
                    "intent": "order",
                    "priority": rng.choices(("routine", "asap"), (4, 1))[0],
                    "code": {"coding": [{"system": SNOMED, "code": code, "display": display}]},
                    "subject": subject,
                    "authoredOn": self._date(y2024, 366),
                    "requester": {"reference": f"Practitioner/{rng.choice(pracs)}"},
                    "performer": [{"reference": f"Organization/{rng.choice(orgs)}"}],
                }
            )
        for _ in range(3):
            (atc,) = rng.choices(ATC_CODES, _ATC_WEIGHTS)
            out.append(
                {
                    "resourceType": "MedicationStatement",
                    "id": self._id(),
                    "status": rng.choices(("active", "completed", "stopped"), (7, 2, 1))[0],
                    "medicationCodeableConcept": {
                        "coding": [{"system": ATC, "code": atc, "display": _ATC_NAMES[atc]}]
                    },
                    "subject": subject,
                    "effectiveDateTime": self._date(date(2023, 1, 1), 730),
                }
            )
        loinc, display, unit, low, high, _ = rng.choices(
            OBSERVATION_CODES, [c[-1] for c in OBSERVATION_CODES]
        )[0]
        out.append(
            {
                "resourceType": "Observation",
                "id": self._id(),
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}]},
                "subject": subject,
                "effectiveDateTime": self._date(date(2023, 1, 1), 730) + "T10:00:00+01:00",
                "valueQuantity": {
                    "value": round(rng.uniform(low, high), 1),
                    "unit": unit,
                    "system": "http://unitsofmeasure.org",
                    "code": unit,
                },
            }
        )
        day = self._date(y2024, 366)
        out.append(
            {
                "resourceType": "Encounter",
                "id": self._id(),
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "HH",
                },
                "subject": subject,
                "period": {"start": day + "T08:00:00+01:00", "end": day + "T09:00:00+01:00"},
                "serviceProvider": {"reference": f"Organization/{rng.choice(orgs)}"},
            }
        )
        return out
