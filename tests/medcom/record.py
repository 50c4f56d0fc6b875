"""A small shared record for the MedCom tests: a hospital ward (the sender), a municipality's
home care (the receiver), a GP clinic without an EAN, a citizen with a CPR number and one with
a replacement CPR number, a nurse writing, and one resource of each kind rendered."""

from __future__ import annotations

from typing import Any

import httpx

SOR = "urn:oid:1.2.208.176.1.1"
GLN = "https://www.gs1.org/gln"
CPR = "urn:oid:1.2.208.176.1.2"
X_ECPR = "urn:oid:1.2.208.176.1.6.1.1"
SENDER_SOR = "441211000016000"
RECEIVER_SOR = "330461000016004"

RECORD: list[dict[str, Any]] = [
    {
        "resourceType": "Organization",
        "id": "ward",
        "name": "Klinik for Ældresygdomme",
        "identifier": [
            {"system": SOR, "value": SENDER_SOR},
            {"system": "http://www.gs1.org/gln", "value": "5790001987244"},
        ],
    },
    {
        "resourceType": "Organization",
        "id": "homecare",
        "name": "Hjemmeplejen, Aabenraa Kommune",
        "identifier": [
            {"system": SOR, "value": RECEIVER_SOR},
            {"system": "urn:oid:1.3.88", "value": "5790001353308"},
        ],
    },
    {
        "resourceType": "Organization",
        "id": "clinic",
        "name": "Lægehuset",
        "identifier": [{"system": SOR, "value": "123456789012"}],
    },
    {
        "resourceType": "Patient",
        "id": "bruno",
        "identifier": [{"system": CPR, "value": "2509479989"}],
        "name": [{"use": "official", "family": "Elmer", "given": ["Bruno"]}],
    },
    {
        "resourceType": "Patient",
        "id": "xecpr",
        "identifier": [{"use": "temp", "system": X_ECPR, "value": "0101011AB1"}],
        "name": [{"family": "Ukendt"}],
    },
    {
        "resourceType": "Practitioner",
        "id": "nurse",
        "name": [{"family": "Hansen", "given": ["Mette"]}],
    },
    {
        "resourceType": "PractitionerRole",
        "id": "nurse-role",
        "practitioner": {"reference": "Practitioner/nurse"},
        "organization": {"reference": "Organization/ward"},
        "code": [{"text": "Sygeplejerske"}],
        "telecom": [{"system": "phone", "value": "+45 12345678"}],
    },
    {
        "resourceType": "PractitionerRole",
        "id": "silent-role",
        "practitioner": {"reference": "Practitioner/nurse"},
        "code": [{"text": "Sygeplejerske"}],
    },
    {
        "resourceType": "CarePlan",
        "id": "plan",
        "status": "active",
        "intent": "plan",
        "title": "Forebyggende sygebesøg",
        "subject": {"reference": "Patient/bruno"},
        "activity": [{"detail": {"status": "scheduled", "description": "Besøg i hjemmet"}}],
    },
    {
        "resourceType": "ServiceRequest",
        "id": "referral",
        "status": "active",
        "intent": "order",
        "priority": "urgent",
        "code": {"text": "Genoptræning efter udskrivelse"},
        "subject": {"reference": "Patient/bruno"},
    },
    {
        "resourceType": "MedicationStatement",
        "id": "ms-current",
        "status": "active",
        "medicationCodeableConcept": {"text": "Furosemid 40 mg"},
        "dosage": [{"text": "1 tablet morgen"}],
        "subject": {"reference": "Patient/bruno"},
    },
    {
        "resourceType": "MedicationStatement",
        "id": "ms-stopped",
        "status": "stopped",
        "medicationCodeableConcept": {"text": "Ibuprofen 400 mg"},
        "statusReason": [{"text": "nyrefunktion nedsat"}],
        "subject": {"reference": "Patient/bruno"},
    },
    {
        "resourceType": "CareTeam",
        "id": "team",
        "status": "active",
        "name": "Team Bruno",
        "subject": {"reference": "Patient/bruno"},
        "participant": [{"member": {"reference": "Practitioner/nurse", "display": "Mette Hansen"}}],
    },
    {
        "resourceType": "Communication",
        "id": "note",
        "status": "completed",
        "subject": {"reference": "Patient/bruno"},
        "category": [
            {
                "coding": [
                    {
                        "system": "http://medcomfhir.dk/ig/terminology/CodeSystem/"
                        "medcom-careCommunication-categoryCodes",
                        "code": "nursing",
                    }
                ]
            }
        ],
        "payload": [{"contentString": "Bruno er faldet i hjemmet.\nVi ser til ham i morgen."}],
    },
    {
        "resourceType": "Encounter",
        "id": "stay",
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": "Patient/bruno"},
        "period": {"start": "2026-12-01T10:00:00+01:00"},
        "serviceProvider": {"reference": "Organization/ward"},
    },
]

SETTINGS: dict[str, Any] = {
    "medcom_sender": "ward",
    "medcom_endpoints": {RECEIVER_SOR: "http://receiver.test/fhir/$process-message"},
    "medcom_poll_seconds": 3600,  # the tests drive the worker themselves (run_once)
}

ASK = {"receiver": "Organization/homecare", "author": "PractitionerRole/nurse-role"}


def parameters(**values: Any) -> dict[str, Any]:
    out = []
    for name, value in values.items():
        if isinstance(value, bool):
            out.append({"name": name, "valueBoolean": value})
        elif name in ("receiver", "author", "patient"):
            out.append({"name": name, "valueReference": {"reference": value}})
        else:
            out.append({"name": name, "valueString": value})
    return {"resourceType": "Parameters", "parameter": out}


async def load(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> None:
    for r in RECORD:
        response = await client.put(f"{r['resourceType']}/{r['id']}", json=r, headers=headers)
        assert response.status_code in (200, 201), response.text


def resources(bundle: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == type_]
