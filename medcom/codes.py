"""The MedCom canonicals, code systems and identifier systems, stated once
(/work/shared/sources/medcom-consent-audit.md part A)."""

from __future__ import annotations

from profiles.danish.identifiers import (
    CPR_SYSTEM,
    D_ECPR_REGIONAL_SYSTEMS,
    D_ECPR_SYSTEM,
    GLN_HTTPS_SYSTEM,
    GLN_SYSTEM,
    X_ECPR_SYSTEM,
)

IG = "http://medcomfhir.dk/ig"
TERMINOLOGY = f"{IG}/terminology/CodeSystem"

# --- identifier systems -------------------------------------------------------------------
GLN_SYSTEMS = (GLN_HTTPS_SYSTEM, GLN_SYSTEM, "urn:oid:1.3.88")
"""Every system an EAN/GLN (lokationsnummer) has been sent with: accepted on receive."""
GLN_SEND_SYSTEM = GLN_HTTPS_SYSTEM
"""What is sent: CareCommunication 5.0, HospitalNotification 3.0 and Acknowledgement 2.0 pin
dk-core ≤ 3.4.0, which names the GLN ``https://www.gs1.org/gln``."""
PATIENT_SYSTEMS = (CPR_SYSTEM, X_ECPR_SYSTEM, D_ECPR_SYSTEM, *D_ECPR_REGIONAL_SYSTEMS)
"""A patient's CPR number or replacement CPR numbers (X-eCPR, D-eCPR)."""
SOR_ENDPOINT = "https://sor2.sum.dsdn.dk/#id="
"""A SOR code as an endpoint (MessageHeader endpoints, local episode-of-care ids)."""

MESSAGE_HEADER_ID = "http://faellesforloeb.dk/fhir/NamingSystem/medcom-messageheader-id"
"""Identifier system of a message's ``MessageHeader.id`` on what this server stores for it (the
Communication a CareCommunication carried, sent or received): how a reply finds the message it
answers."""

# --- messaging ----------------------------------------------------------------------------
EVENT_CODES = f"{TERMINOLOGY}/medcom-messaging-eventCodes"
ACTIVITY_CODES = f"{TERMINOLOGY}/medcom-messaging-activityCodes"
DESTINATION_USE = f"{TERMINOLOGY}/medcom-messaging-destinationUse"
DESTINATION_USE_EXTENSION = (
    f"{IG}/messaging/StructureDefinition/medcom-messaging-destinationUseExtension"
)
MESSAGING_ORGANIZATION = f"{IG}/messaging/StructureDefinition/medcom-messaging-organization"
CARE_COMMUNICATION_EVENT = "care-communication-message"
HOSPITAL_NOTIFICATION_EVENT = "hospital-notification-message"
ACKNOWLEDGEMENT_EVENT = "acknowledgement-message"

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
CC_CATEGORIES = f"{TERMINOLOGY}/medcom-careCommunication-categoryCodes"
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
