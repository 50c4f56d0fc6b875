"""Small Danish resources for the read benchmark (Patients read by id) and for
``bench.validation``: a dk-core Patient (CPR identifier, name, address, telecom, GP by SOR
identifier, narrative; ~1.1 KB) and three care resources about it.

Everything is generated from a seeded ``random.Random`` so two runs send the same bodies. The
care resources are not the profiled ones the server requires for writes (no care team,
information source, …): the write benchmarks send the project's data set (`bench.danish`).
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

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
