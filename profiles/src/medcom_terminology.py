"""MedCom's CodeSystems and ValueSets the MedCom profiles bind (terminology IG 2.0.1).

Codes are MedCom's; displays are MedCom's English names, Danish designations where MedCom gives
them. The CareCommunication categories live in terminology_ff (the project's mappings used them
first). Every ValueSet lists its codes, so the validator enforces its required bindings without a
terminology server.
"""

from __future__ import annotations

from profiles.src import medcom_canon as mc
from profiles.src.dsl import (
    Json,
    Owner,
    code_system,
    concept,
    include_concepts,
    include_system,
    value_set,
)

T = mc.TERMINOLOGY

EVENT_CODES: list[Json] = [
    concept("empty-message", "Message with no content"),
    concept("care-communication-message", "Care Communication Message", "Korrespondancemeddelelse"),
    concept("hospital-notification-message", "Hospital Notification Message", "Sygehusadvis"),
    concept("acknowledgement-message", "Acknowledgement Message", "Kvittering"),
    concept("homecareobservation-message", "HomeCare Observation Message"),
]

# code, English, Danish (Danish for the HospitalNotification activities, legacy code in brackets)
_HN = [
    (
        "admit-emergency",
        "Start hospital stay - acute ambulant",
        "Start sygehusophold - akut ambulant (STAA)",
    ),
    (
        "revise-admit-emergency",
        "Update Start hospital stay - acute ambulant",
        "Rettelse Start sygehusophold - akut ambulant (RE_STAA)",
    ),
    (
        "cancel-admit-emergency",
        "Cancellation Start hospital stay - acute ambulant",
        "Annullering Start sygehusophold - akut ambulant (AN_STAA)",
    ),
    ("admit-inpatient", "Start hospital stay - admitted", "Start sygehusophold - indlagt (STIN)"),
    (
        "revise-admit-inpatient",
        "Update Start hospital stay - admitted",
        "Rettelse Start sygehusophold - indlagt (RE_STIN)",
    ),
    (
        "cancel-admit-inpatient",
        "Cancellation Start hospital stay - admitted",
        "Annullering Start sygehusophold - indlagt (AN_STIN)",
    ),
    ("start-leave-inpatient", "Start leave", "Start orlov (STOR)"),
    ("revise-start-leave-inpatient", "Update Start leave", "Rettelse Start orlov (RE_STOR)"),
    (
        "cancel-start-leave-inpatient",
        "Cancellation Start leave",
        "Annullering Start orlov (AN_STOR)",
    ),
    ("end-leave-inpatient", "End leave", "Slut orlov (SLOR)"),
    ("revise-end-leave-inpatient", "Update End leave", "Rettelse Slut orlov (RE_SLOR)"),
    ("cancel-end-leave-inpatient", "Cancellation End leave", "Annullering Slut orlov (AN_SLOR)"),
    (
        "discharge-emergency-home",
        "End hospital stay - patient completed to home/primary sector",
        "Slut sygehusophold - afsluttet til hjemmet/primær sektor (SLHJ, akut ambulant)",
    ),
    (
        "discharge-inpatient-home",
        "End hospital stay - patient completed to home/primary sector",
        "Slut sygehusophold - afsluttet til hjemmet/primær sektor (SLHJ, indlagt)",
    ),
    (
        "revise-discharge-emergency-home",
        "Update End hospital stay - patient completed to home/primary sector",
        "Rettelse Slut sygehusophold (RE_SLHJ, akut ambulant)",
    ),
    (
        "revise-discharge-inpatient-home",
        "Update End hospital stay - patient completed to home/primary sector",
        "Rettelse Slut sygehusophold (RE_SLHJ, indlagt)",
    ),
    (
        "cancel-discharge-emergency-home",
        "Cancellation End hospital stay - patient completed to home/primary sector",
        "Annullering Slut sygehusophold (AN_SLHJ, akut ambulant)",
    ),
    (
        "cancel-discharge-inpatient-home",
        "Cancellation End hospital stay - patient completed to home/primary sector",
        "Annullering Slut sygehusophold (AN_SLHJ, indlagt)",
    ),
]
HN_ACTIVITY_CODES = [c for c, _, _ in _HN]
ACTIVITY_CODES: list[Json] = [
    concept("new-message", "A new message has been sent", "Ny meddelelse"),
    concept(
        "forward-message", "A message has been forwarded and potentially changed", "Videresendt"
    ),
    concept("reply-message", "A message has been replied to", "Svar"),
    concept("retract-message", "A message has been retracted/cancelled", "Tilbagekaldt"),
    concept("modified-message", "A message has been modified", "Ændret"),
    concept(
        "carboncopy-message",
        "An exact copy of a message to a primary receiver has been sent to a carbon copy receiver",
        "Kopi",
    ),
    *[concept(code, en, da) for code, en, da in _HN],
    concept("acknowledgement", "Acknowledgement message has been sent", "Kvittering"),
]
CC_ACTIVITY_CODES = ["new-message", "reply-message", "forward-message"]

DESTINATION_USE: list[Json] = [
    concept("primary", "Primary destination", "Primær modtager"),
    concept("cc", "Carbon-copy destination", "Kopimodtager"),
]

ENCOUNTER_ACT_CODES: list[Json] = [concept("other", "Other", "Andet")]
# v3 ActEncounterCode descendants except OBSENC (MedCom Core encounter class)
V3_ENCOUNTER_CLASSES = [
    ("AMB", "ambulatory"),
    ("EMER", "emergency"),
    ("FLD", "field"),
    ("HH", "home health"),
    ("IMP", "inpatient encounter"),
    ("ACUTE", "inpatient acute"),
    ("NONAC", "inpatient non-acute"),
    ("PRENC", "pre-admission"),
    ("SS", "short stay"),
    ("VR", "virtual"),
]

ACK_ERROR_CODES: list[Json] = [
    concept("MSG_Receiver_Identifier_UNKNOWN", "The receiver identifier is unknown"),
    concept("MSG_Receiver_Identifier_MISSING", "The receiver identifier is missing"),
    concept(
        "MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE", "The receiver cannot receive this message type"
    ),
    concept("MSG_VALUESET_VALUE_UNKNOWN", "A value is not in the ValueSet"),
    concept("MSG_CodeSystem_VALUE_UNKNOWN", "A code is not in the CodeSystem"),
    concept("MSG_Element_To_Long", "An element is too long"),
    concept("MSG_Datatype_Wrong", "An element has the wrong data type"),
    concept("MSG_Mailbox_Out_Of_Operation", "The receiver's mailbox is out of operation"),
    concept("MSG_Damaged_durin_transport", "The message was damaged during transport"),
]
# FHIR R4 operation-outcome message codes MedCom allows in an Acknowledgement
HL7_ACK_CODES = [
    ("MSG_AUTH_REQUIRED", "You must authenticate before you can use this service"),
    ("MSG_BAD_FORMAT", 'Bad Syntax: "%s" must be a %s\''),
    ("MSG_BAD_SYNTAX", "Bad Syntax in %s"),
    ("MSG_CANT_PARSE_CONTENT", 'Unable to parse feed (entry content type = "%s")'),
    ("MSG_CANT_PARSE_ROOT", 'Unable to parse feed (root element name = "%s")'),
    ("MSG_DUPLICATE_ID", "Duplicate Id %s for resource type %s"),
    ("MSG_ERROR_PARSING", "Error parsing resource Xml (%s)"),
    ("MSG_ID_INVALID", 'Id "%s" has an invalid character "%s"'),
    ("MSG_ID_TOO_LONG", 'Id "%s" too long (length limit 36)'),
    ("MSG_INVALID_ID", "Id not accepted"),
    ("MSG_JSON_OBJECT", "Json Source for a resource should start with an object"),
    ("MSG_NO_MATCH", 'No Resource found matching the query "%s"'),
    ("MSG_NO_MODULE", 'No module could be found to handle the request "%s"'),
    ("MSG_NO_SUMMARY", "No Summary for this resource"),
    ("MSG_OP_NOT_ALLOWED", "Operation %s not allowed for resource %s (due to local configuration)"),
    ("MSG_PARAM_CHAINED", 'Unknown chained parameter name "%s"'),
    ("MSG_PARAM_NO_REPEAT", 'Parameter "%s" is not allowed to repeat'),
    ("MSG_PARAM_UNKNOWN", 'Parameter "%s" not understood'),
    ("MSG_PARAM_INVALID", 'Parameter "%s" content is invalid'),
    ("MSG_PARAM_MODIFIER_INVALID", 'Parameter "%s" modifier is invalid'),
    ("MSG_RESOURCE_EXAMPLE_PROTECTED", 'Resources with identity "example" cannot be deleted'),
    ("MSG_RESOURCE_ID_FAIL", "unable to allocate resource id"),
    ("MSG_RESOURCE_NOT_ALLOWED", "Not allowed to submit a resource for this operation"),
    ("MSG_RESOURCE_REQUIRED", "A resource is required"),
    ("MSG_RESOURCE_ID_MISMATCH", "Resource Id Mismatch"),
    ("MSG_RESOURCE_ID_MISSING", "Resource Id Missing"),
    ("MSG_UNHANDLED_NODE_TYPE", 'Unhandled xml node type "%s"'),
    ("MSG_UNKNOWN_CONTENT", "Unknown Content (%s) at %s"),
    ("MSG_UNKNOWN_OPERATION", "unknown FHIR http operation"),
    ("MSG_UNKNOWN_TYPE", 'Resource Type "%s" not recognised'),
    ("MSG_UPDATED", "existing resource updated"),
    ("MSG_VERSION_AWARE", "Version aware updates are required for this resource"),
    ("MSG_VERSION_AWARE_CONFLICT", "Update Conflict"),
    ("MSG_VERSION_AWARE_URL", "Version specific URL not recognised"),
    ("MSG_WRONG_NS", "This does not appear to be a FHIR element or resource (wrong namespace)"),
]

# SOR EDI codes: the message type names the VANS envelope and SOR use (A.1)
SOR_EDI: list[Json] = [
    concept("FDIS91", "CareCommunication (FHIR)", "Korrespondancemeddelelse (FHIR)"),
    concept("FDIS20", "HospitalNotification (FHIR)", "Sygehusadvis (FHIR)"),
    concept("FCTL", "Acknowledgement (FHIR)", "Kvittering (FHIR)"),
]

MIME_TYPES = [
    ("application/pdf", "PDF"),
    ("image/gif", "GIF"),
    ("image/jpeg", "JPEG"),
    ("image/png", "PNG"),
    ("image/tiff", "TIFF"),
    ("image/bmp", "BMP"),
]


def _cs(
    owner: Owner, id_: str, name: str, title: str, desc: str, concepts: list[Json], vs: str
) -> Json:
    return code_system(owner, id_, name, title, desc, concepts, value_set=vs, case_sensitive=False)


def _vs(
    id_: str, name: str, title: str, desc: str, system: str, codes: list[tuple[str, str]]
) -> Json:
    expansion = [{"system": system, "code": c, "display": d} for c, d in codes]
    return value_set(
        T, id_, name, title, desc, [include_concepts(system, codes)], expansion=expansion
    )


def _pick(concepts: list[Json], codes: list[str]) -> list[tuple[str, str]]:
    by_code = {c["code"]: c["display"] for c in concepts}
    return [(code, by_code[code]) for code in codes]


def all_resources() -> list[Json]:
    all_activities = [c["code"] for c in ACTIVITY_CODES]
    ack_details = [
        include_concepts(mc.OPERATION_OUTCOME, HL7_ACK_CODES),
        include_system(mc.ACK_ERROR_CODES_CS),
    ]
    ack_expansion = [
        *({"system": mc.OPERATION_OUTCOME, "code": c, "display": d} for c, d in HL7_ACK_CODES),
        *(
            {"system": mc.ACK_ERROR_CODES_CS, "code": c["code"], "display": c["display"]}
            for c in ACK_ERROR_CODES
        ),
    ]
    core_classes = [
        include_concepts(mc.V3_ACT_CODE, V3_ENCOUNTER_CLASSES),
        include_system(mc.CORE_ENCOUNTER_ACT_CS),
    ]
    core_class_expansion = [
        *({"system": mc.V3_ACT_CODE, "code": c, "display": d} for c, d in V3_ENCOUNTER_CLASSES),
        {"system": mc.CORE_ENCOUNTER_ACT_CS, "code": "other", "display": "Other"},
    ]
    return [
        _cs(
            mc.TERMINOLOGY_181,
            "medcom-messaging-eventCodes",
            "MedComMessagingEventCodes",
            "MedCom message event codes",
            "The types of MedCom FHIR messages (MessageHeader.eventCoding).",
            EVENT_CODES,
            mc.MESSAGE_TYPES_VS,
        ),
        _vs(
            "medcom-messaging-messageTypes",
            "MedComMessagingMessageTypes",
            "MedCom message types",
            "Every MedCom message type.",
            mc.EVENT_CODES_CS,
            [(c["code"], c["display"]) for c in EVENT_CODES],
        ),
        _cs(
            mc.TERMINOLOGY_181,
            "medcom-messaging-activityCodes",
            "MedComMessagingActivityCodes",
            "MedCom messaging activity codes",
            "What a message does (Provenance.activity): "
            "new, reply, forward, the HospitalNotification events and acknowledgement.",
            ACTIVITY_CODES,
            mc.ACTIVITY_CODES_VS,
        ),
        _vs(
            "medcom-messaging-activityCodes",
            "MedComMessagingActivityCodes",
            "MedCom messaging activities",
            "Every MedCom messaging activity.",
            mc.ACTIVITY_CODES_CS,
            _pick(ACTIVITY_CODES, all_activities),
        ),
        _vs(
            "medcom-careCommunication-messagingActivities",
            "MedComCareCommunicationMessagingActivities",
            "CareCommunication activities",
            "The activities a CareCommunication 5 may carry (retract, modify and carbon copy are "
            "not allowed).",
            mc.ACTIVITY_CODES_CS,
            _pick(ACTIVITY_CODES, CC_ACTIVITY_CODES),
        ),
        _vs(
            "medcom-hospitalNotification-messageActivities",
            "MedComHospitalNotificationMessageActivities",
            "HospitalNotification activities",
            "The activity codes of a HospitalNotification (admit, leave, discharge and their "
            "revise/cancel variants).",
            mc.ACTIVITY_CODES_CS,
            _pick(ACTIVITY_CODES, HN_ACTIVITY_CODES),
        ),
        _cs(
            T,
            "medcom-messaging-destinationUse",
            "MedComMessagingDestinationUse",
            "MedCom destination use",
            "Whether a MessageHeader.destination is the primary receiver or a carbon copy.",
            DESTINATION_USE,
            mc.DESTINATION_USE_VS,
        ),
        _vs(
            "medcom-messaging-destinationUse",
            "MedComMessagingDestinationUse",
            "MedCom destination use",
            "Primary or carbon-copy destination.",
            mc.DESTINATION_USE_CS,
            [(c["code"], c["display"]) for c in DESTINATION_USE],
        ),
        _vs(
            "medcom-careCommunication-requestPriority",
            "MedComCareCommunicationRequestPriority",
            "CareCommunication priority",
            "The priorities a CareCommunication about a referral may have.",
            mc.REQUEST_PRIORITY,
            [("routine", "Routine"), ("asap", "ASAP")],
        ),
        _vs(
            "medcom-core-attachmentMimeTypes",
            "MedComCoreAttachmentMimeTypes",
            "MedCom attachment types",
            "The formats an attachment to a MedCom message may have.",
            mc.MIME,
            MIME_TYPES,
        ),
        _vs(
            "medcom-hospitalNotification-encounterStatus",
            "MedComHospitalNotificationEncounterStatus",
            "HospitalNotification encounter status",
            "The Encounter statuses a HospitalNotification uses.",
            mc.ENCOUNTER_STATUS,
            [
                ("in-progress", "In Progress"),
                ("onleave", "On Leave"),
                ("finished", "Finished"),
                ("entered-in-error", "Entered in Error"),
            ],
        ),
        _vs(
            "medcom-hospitalNotification-encounterClass",
            "MedComHospitalNotificationEncounterClass",
            "HospitalNotification encounter class",
            "Inpatient (admitted) or emergency (acute ambulant).",
            mc.V3_ACT_CODE,
            [("IMP", "inpatient encounter"), ("EMER", "emergency")],
        ),
        _cs(
            T,
            "medcom-core-encounter-act-codes",
            "MedComCoreEncounterActCodes",
            "MedCom encounter act codes",
            "An encounter class v3 does not have.",
            ENCOUNTER_ACT_CODES,
            mc.CORE_ENCOUNTER_CLASS_VS,
        ),
        value_set(
            T,
            "medcom-core-encounter-class",
            "MedComCoreEncounterClass",
            "MedCom encounter class",
            "v3 ActEncounterCode descendants except OBSENC, and MedCom's 'other'.",
            core_classes,
            expansion=core_class_expansion,
        ),
        _cs(
            T,
            "medcom-acknowledgement-error-codes",
            "MedComAcknowledgementErrorCodes",
            "MedCom acknowledgement error codes",
            "Why a message was not accepted, where R4's "
            "operation-outcome codes have no code for it.",
            ACK_ERROR_CODES,
            mc.ACK_ISSUE_DETAILS_VS,
        ),
        value_set(
            T,
            "medcom-acknowledgement-issue-details",
            "MedComAcknowledgementIssueDetails",
            "MedCom acknowledgement issue details",
            "The codes an Acknowledgement's OperationOutcome.issue.details may carry.",
            ack_details,
            expansion=ack_expansion,
        ),
        _cs(
            mc.TERMINOLOGY_181,
            "medcom-messaging-sorEdiSystem",
            "MedComMessagingSorEdiSystem",
            "MedCom SOR EDI system codes",
            "The message type names in SOR and the VANS envelope for the FHIR messages.",
            SOR_EDI,
            mc.SOR_EDI_VS,
        ),
        _vs(
            "medcom-messaging-sorEdiValues",
            "MedComMessagingSorEdiValues",
            "MedCom SOR EDI message types",
            "The FHIR message types in SOR.",
            mc.SOR_EDI_CS,
            [(c["code"], c["display"]) for c in SOR_EDI],
        ),
    ]
