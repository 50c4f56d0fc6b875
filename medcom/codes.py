"""The identifiers, code systems and canonicals MedCom messages use, stated once for inbound and
outbound alike (../shared/sources/medcom-consent-audit.md part A). The Danish identifier systems
themselves (CPR, eCPR, SOR, GLN) live in `profiles.danish.identifiers`."""

from __future__ import annotations

from typing import Any

from profiles.danish.identifiers import (
    CPR_SYSTEM,
    D_ECPR_REGIONAL_SYSTEMS,
    D_ECPR_SYSTEM,
    GLN_HTTPS_SYSTEM,
    GLN_SYSTEM,
    SOR_SYSTEM,
    X_ECPR_SYSTEM,
)

OWN = "http://faellesforloeb.dk/fhir/NamingSystem"
"""This project's own identifier systems (profiles/src/canon.py's base)."""
TERMINOLOGY = "http://medcomfhir.dk/ig/terminology/CodeSystem"
EVENT_CODES = f"{TERMINOLOGY}/medcom-messaging-eventCodes"
ACTIVITY_CODES = f"{TERMINOLOGY}/medcom-messaging-activityCodes"
DESTINATION_USE = f"{TERMINOLOGY}/medcom-messaging-destinationUse"
CATEGORY_CODES = f"{TERMINOLOGY}/medcom-careCommunication-categoryCodes"
ERROR_CODES = f"{TERMINOLOGY}/medcom-acknowledgement-error-codes"
"""MedCom's acknowledgement error codes (``MSG_Receiver_Identifier_UNKNOWN``, …)."""
OPERATION_OUTCOME_CODES = "http://terminology.hl7.org/CodeSystem/operation-outcome"
"""HL7's message issue details (``MSG_BAD_FORMAT``, ``MSG_DUPLICATE_ID``, …)."""

DESTINATION_USE_EXTENSION = (
    "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-destinationUseExtension"
)

CARE_COMMUNICATION = "care-communication-message"
HOSPITAL_NOTIFICATION = "hospital-notification-message"
ACKNOWLEDGEMENT = "acknowledgement-message"
"""The MessageHeader.eventCoding codes (CodeSystem `EVENT_CODES`)."""

MESSAGE_PROFILES = {
    CARE_COMMUNICATION: "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/"
    "medcom-careCommunication-message",
    HOSPITAL_NOTIFICATION: "http://medcomfhir.dk/ig/hospitalnotification/StructureDefinition/"
    "medcom-hospitalNotification-message",
    ACKNOWLEDGEMENT: "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/"
    "medcom-messaging-acknowledgement",
}
"""The message Bundle profile of each event code (what an inbound message is validated against)."""

ACKNOWLEDGEMENT_HEADER = (
    "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/"
    "medcom-messaging-acknowledgementHeader"
)
ACKNOWLEDGEMENT_OUTCOME = (
    "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/"
    "medcom-acknowledgement-operationoutcome"
)
MESSAGING_PROVENANCE = (
    "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-provenance"
)
MESSAGING_ORGANIZATION = (
    "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-organization"
)

PATIENT_SYSTEMS = (CPR_SYSTEM, X_ECPR_SYSTEM, D_ECPR_SYSTEM, *D_ECPR_REGIONAL_SYSTEMS)
"""How a MedCom message names its citizen: CPR, or a replacement CPR (X-eCPR, D-eCPR)."""
GLN_SYSTEMS = (GLN_HTTPS_SYSTEM, GLN_SYSTEM, "urn:oid:1.3.88")
"""An EAN/GLN location number as dk-core's versions wrote its system: each accepted on receive."""
GLN_SENT = GLN_HTTPS_SYSTEM
"""The GLN system sent: what CareCommunication 5.0, HospitalNotification 3.0 and
Acknowledgement 2.0 (dk-core ≤ 3.4.0) require."""
ORGANIZATION_SYSTEMS = (SOR_SYSTEM, *GLN_SYSTEMS)

MESSAGE_HEADER_ID = f"{OWN}/medcom-messageheader-id"
"""This server's record of a message's ``MessageHeader.id`` on what it stores for it (the
Communication a CareCommunication becomes; the received and sent message Bundles): how a
reply's or a cancellation's Provenance (``entity.what`` ``MessageHeader/<id>``) finds what the
earlier message made. Outbound sets it on the Communication it sends."""
ENVELOPE_ID = f"{OWN}/medcom-bundle-id"
"""``meta.tag`` system on a stored message: each ``Bundle.id`` (envelope) it arrived in."""

# --- outbound (medcom/outbound) ---------------------------------------------------------
IG = "http://medcomfhir.dk/ig"
SOR_ENDPOINT = "https://sor2.sum.dsdn.dk/#id="
"""A SOR code as an endpoint (MessageHeader endpoints, local episode-of-care ids)."""

# --- MedCom core --------------------------------------------------------------------------
CORE = f"{IG}/core/StructureDefinition"
CORE_PATIENT = f"{CORE}/medcom-core-patient"
CORE_PRACTITIONER = f"{CORE}/medcom-core-practitioner"
CORE_PRACTITIONER_ROLE = f"{CORE}/medcom-core-practitionerrole"
CORE_ORGANIZATION = f"{CORE}/medcom-core-organization"
SENDER_EXTENSION = f"{CORE}/medcom-core-sender-extension"
DATETIME_EXTENSION = f"{CORE}/medcom-core-datetime-extension"
IDENTIFIER_EXTENSION = f"{CORE}/medcom-core-identifier-extension"
PRACTITIONER_EXTENSION = f"{CORE}/medcom-core-practitioner-extension"
CONTACT_EXTENSION = f"{CORE}/medcom-core-contact-extension"

# --- CareCommunication 5.0 ----------------------------------------------------------------
CC = f"{IG}/carecommunication/StructureDefinition"
CC_MESSAGE = f"{CC}/medcom-careCommunication-message"
CC_HEADER = f"{CC}/medcom-careCommunication-messageHeader"
CC_COMMUNICATION = f"{CC}/medcom-careCommunication-communication"
CC_PROVENANCE = f"{CC}/medcom-careCommunication-provenance"
CC_DEFINITION = (
    "http://medcomfhir.dk/ig/messagedefinitions/MessageDefinition/"
    "MedComCareCommunicationMessageDefinition|5.0"
)
"""``MessageHeader.definition`` of a CareCommunication 5.0 (required; matched by regex, never
resolved)."""
CC_CATEGORY_DANISH = {
    "alcohol-and-drug-treatment": "Rusmiddelbehandling",
    "assistive-devices": "Hjælpemidler",
    "carecoordination": "Forløbskoordinering",
    "decease": "Dødsfald",
    "discharge": "Udskrivelse",
    "examination-results": "Undersøgelsessvar",
    "healthcare": "Sundhedspleje",
    "home-care-assessment": "Visitation",
    "medicine": "Medicin",
    "nursing": "Sygepleje",
    "outpatient": "Ambulant",
    "psychiatry-social-disability": "Psykiatri, social, handicap",
    "regarding-referral": "Vedr. henvisning",
    "telemedicine": "Telemedicin",
    "training": "Træning",
    "acute-ambulant": "Akut ambulant",
    "extended-care-responsibility": "Udvidet behandlingsansvar",
    "other": "Andet",
}
"""The CareCommunication categories (CodeSystem 1.9.0) with their Danish designations."""
REQUEST_PRIORITY = "http://hl7.org/fhir/request-priority"

# --- HospitalNotification 3.0 -------------------------------------------------------------
HN = f"{IG}/hospitalnotification/StructureDefinition"
HN_MESSAGE = f"{HN}/medcom-hospitalNotification-message"
HN_HEADER = f"{HN}/medcom-hospitalNotification-messageHeader"
HN_ENCOUNTER = f"{HN}/medcom-hospitalNotification-encounter"
HN_LEAVE_PERIOD = f"{HN}/medcom-hospitalnotifiation-leave-period-extension"
HN_REPORT_OF_ADMISSION = f"{HN}/medcom-messaging-reportOfAdmissionExtension"
MESSAGING_PROVENANCE = f"{IG}/messaging/StructureDefinition/medcom-messaging-provenance"

# --- Acknowledgement 2.0 ------------------------------------------------------------------
ACK = f"{IG}/acknowledgement/StructureDefinition"
ACK_MESSAGE = f"{ACK}/medcom-messaging-acknowledgement"
ACK_HEADER = f"{ACK}/medcom-messaging-acknowledgementHeader"


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out
