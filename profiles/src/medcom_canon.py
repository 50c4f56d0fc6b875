"""MedCom's canonical bases, the IG versions authored here, and the canonicals of every MedCom
profile, extension, CodeSystem and ValueSet the profiles name (medcom-consent-audit.md part A).

Each IG is authored at the version its current release uses (A.0); the MedCom profiles are
flattened onto R4 (docs/profiles.md, "MedCom"), so a profile carries its parents' constraints.
"""

from __future__ import annotations

from profiles.src.dsl import Owner

MEDCOM = "http://medcomfhir.dk/ig"
CORE = Owner(f"{MEDCOM}/core", "4.0.0", "active")
MESSAGING = Owner(f"{MEDCOM}/messaging", "4.0.1", "active")
CARECOMMUNICATION = Owner(f"{MEDCOM}/carecommunication", "5.0.4", "active")
HOSPITALNOTIFICATION = Owner(f"{MEDCOM}/hospitalnotification", "3.0.2", "active")
ACKNOWLEDGEMENT = Owner(f"{MEDCOM}/acknowledgement", "2.0.3", "active")
# terminology 2.0.1; its CodeSystems carry their own versions (set per CodeSystem)
TERMINOLOGY = Owner(f"{MEDCOM}/terminology", "2.0.1", "active")
TERMINOLOGY_181 = Owner(f"{MEDCOM}/terminology", "1.8.1", "active")
TERMINOLOGY_190 = Owner(f"{MEDCOM}/terminology", "1.9.0", "active")


def sd(owner: Owner, id_: str) -> str:
    return f"{owner.base}/StructureDefinition/{id_}"


def cs(id_: str) -> str:
    return f"{TERMINOLOGY.base}/CodeSystem/{id_}"


def vs(id_: str) -> str:
    return f"{TERMINOLOGY.base}/ValueSet/{id_}"


# --- MedCom Core --------------------------------------------------------------------------------
CORE_PATIENT = sd(CORE, "medcom-core-patient")
CORE_ORGANIZATION = sd(CORE, "medcom-core-organization")
CORE_PRACTITIONER = sd(CORE, "medcom-core-practitioner")
CORE_PRACTITIONER_ROLE = sd(CORE, "medcom-core-practitionerrole")
CORE_CARETEAM = sd(CORE, "medcom-core-careteam")
CORE_ENCOUNTER = sd(CORE, "medcom-core-encounter")
CORE_SENDER_EXT = sd(CORE, "medcom-core-sender-extension")
CORE_DATETIME_EXT = sd(CORE, "medcom-core-datetime-extension")
CORE_PRACTITIONER_EXT = sd(CORE, "medcom-core-practitioner-extension")
CORE_CONTACT_EXT = sd(CORE, "medcom-core-contact-extension")
CORE_IDENTIFIER_EXT = sd(CORE, "medcom-core-identifier-extension")

# --- Messaging ----------------------------------------------------------------------------------
MESSAGE = sd(MESSAGING, "medcom-messaging-message")
MESSAGE_HEADER = sd(MESSAGING, "medcom-messaging-messageHeader")
ORGANIZATION = sd(MESSAGING, "medcom-messaging-organization")
PROVENANCE = sd(MESSAGING, "medcom-messaging-provenance")
DESTINATION_USE_EXT = sd(MESSAGING, "medcom-messaging-destinationUseExtension")

# --- CareCommunication --------------------------------------------------------------------------
CC_MESSAGE = sd(CARECOMMUNICATION, "medcom-careCommunication-message")
CC_MESSAGE_HEADER = sd(CARECOMMUNICATION, "medcom-careCommunication-messageHeader")
CC_COMMUNICATION = sd(CARECOMMUNICATION, "medcom-careCommunication-communication")
CC_PROVENANCE = sd(CARECOMMUNICATION, "medcom-careCommunication-provenance")
CC_DEFINITION = (
    f"{MEDCOM}/messagedefinitions/MessageDefinition/MedComCareCommunicationMessageDefinition"
)

# --- HospitalNotification -----------------------------------------------------------------------
HN_MESSAGE = sd(HOSPITALNOTIFICATION, "medcom-hospitalNotification-message")
HN_MESSAGE_HEADER = sd(HOSPITALNOTIFICATION, "medcom-hospitalNotification-messageHeader")
HN_ENCOUNTER = sd(HOSPITALNOTIFICATION, "medcom-hospitalNotification-encounter")
# (sic: MedCom spells the id "hospitalnotifiation")
HN_LEAVE_PERIOD_EXT = sd(HOSPITALNOTIFICATION, "medcom-hospitalnotifiation-leave-period-extension")
HN_REPORT_OF_ADMISSION_EXT = sd(HOSPITALNOTIFICATION, "medcom-messaging-reportOfAdmissionExtension")
HN_REPORT_OF_ADMISSION_RECIPIENT_EXT = sd(
    HOSPITALNOTIFICATION, "medcom-messaging-reportOfAdmissionRecipientExtension"
)

# --- Acknowledgement ----------------------------------------------------------------------------
ACK_MESSAGE = sd(ACKNOWLEDGEMENT, "medcom-messaging-acknowledgement")
ACK_MESSAGE_HEADER = sd(ACKNOWLEDGEMENT, "medcom-messaging-acknowledgementHeader")
ACK_OPERATION_OUTCOME = sd(ACKNOWLEDGEMENT, "medcom-acknowledgement-operationoutcome")

# --- terminology --------------------------------------------------------------------------------
EVENT_CODES_CS = cs("medcom-messaging-eventCodes")
MESSAGE_TYPES_VS = vs("medcom-messaging-messageTypes")
ACTIVITY_CODES_CS = cs("medcom-messaging-activityCodes")
ACTIVITY_CODES_VS = vs("medcom-messaging-activityCodes")
CC_ACTIVITIES_VS = vs("medcom-careCommunication-messagingActivities")
HN_ACTIVITIES_VS = vs("medcom-hospitalNotification-messageActivities")
DESTINATION_USE_CS = cs("medcom-messaging-destinationUse")
DESTINATION_USE_VS = vs("medcom-messaging-destinationUse")
CC_CATEGORY_CS = cs("medcom-careCommunication-categoryCodes")
CC_CATEGORY_VS = vs("medcom-careCommunication-categories")
CC_PRIORITY_VS = vs("medcom-careCommunication-requestPriority")
ATTACHMENT_MIME_VS = vs("medcom-core-attachmentMimeTypes")
HN_ENCOUNTER_STATUS_VS = vs("medcom-hospitalNotification-encounterStatus")
HN_ENCOUNTER_CLASS_VS = vs("medcom-hospitalNotification-encounterClass")
CORE_ENCOUNTER_CLASS_VS = vs("medcom-core-encounter-class")
CORE_ENCOUNTER_ACT_CS = cs("medcom-core-encounter-act-codes")
ACK_ISSUE_DETAILS_VS = vs("medcom-acknowledgement-issue-details")
ACK_ERROR_CODES_CS = cs("medcom-acknowledgement-error-codes")
SOR_EDI_CS = cs("medcom-messaging-sorEdiSystem")
SOR_EDI_VS = vs("medcom-messaging-sorEdiValues")
FHIR_TO_SOR_EDI_MAP = f"{TERMINOLOGY.base}/ConceptMap/medcom-messaging-mapFhirToSorEdi"
PRACTITIONER_ROLES_VS = vs("medcom-core-PractitionerRoles")

# --- identifier systems -------------------------------------------------------------------------
SOR = "urn:oid:1.2.208.176.1.1"
# GLN (EAN location number): dk-core < 2.1 used the OID, 2.1-3.4 https, 3.5+ http; all three are
# accepted on receive (part A.0)
GLN_SYSTEMS = ("https://www.gs1.org/gln", "http://www.gs1.org/gln", "urn:oid:1.3.88")
CPR = "urn:oid:1.2.208.176.1.2"
X_ECPR = "urn:oid:1.2.208.176.1.6.1.1"

# R4 code systems the MedCom value sets draw on
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ENCOUNTER_STATUS = "http://hl7.org/fhir/encounter-status"
REQUEST_PRIORITY = "http://hl7.org/fhir/request-priority"
OPERATION_OUTCOME = "http://terminology.hl7.org/CodeSystem/operation-outcome"
MIME = "urn:ietf:bcp:13"
