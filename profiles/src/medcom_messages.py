"""The three MedCom message types the server exchanges (medcom-consent-audit.md A.2-A.4):
CareCommunication 5.0.4, HospitalNotification 3.0.2 and Acknowledgement 2.0.3, each a Bundle,
a MessageHeader and the resources only it has, flattened onto R4 with the messaging rules.

HospitalNotification's invariants -1 and -3 name MedCom's old canonical base
(``http://medcomfhir.dk/fhir/…``); they are written here against today's ``…/ig/…`` URLs.
"""

from __future__ import annotations

from profiles.src import medcom_canon as mc
from profiles.src import medcom_messaging as msg
from profiles.src.dsl import (
    Json,
    binding,
    el,
    ext_type,
    extension,
    inv,
    profile,
    ref,
    simple_extension,
    slice_entry,
    slicing,
    types,
)
from profiles.src.medcom_core import UUID, encounter_elements

CC = mc.CARECOMMUNICATION
HN = mc.HOSPITALNOTIFICATION
ACK = mc.ACKNOWLEDGEMENT
COMM = "entry.resource.ofType(Communication)"
HEADER = "%resource.entry.first().resource"


def _ext(url: str) -> str:
    return f"extension.where(url = '{url}')"


# --- CareCommunication --------------------------------------------------------------------------


def cc_message() -> Json:
    author = f"{COMM}.payload.{_ext(mc.CORE_PRACTITIONER_EXT)}.value.resolve()"
    sender = f"{COMM}.{_ext(mc.CORE_SENDER_EXT)}.value.resolve()"
    return msg.message_bundle(
        CC,
        "medcom-careCommunication-message",
        "MedComCareCommunicationMessage",
        "MedCom CareCommunication message",
        "A CareCommunication (korrespondancemeddelelse): a message between professionals "
        "about one citizen, with its text segments, attachments and the thread's provenance.",
        [
            inv(
                "medcom-careCommunication-1",
                "The MessageHeader must claim the CareCommunication MessageHeader profile",
                msg.header_is(mc.CC_MESSAGE_HEADER),
            ),
            inv(
                "medcom-careCommunication-2",
                "There must be exactly one Patient",
                "entry.resource.ofType(Patient).count() = 1",
            ),
            inv(
                "medcom-careCommunication-3",
                "Every Provenance must claim the CareCommunication Provenance profile",
                "entry.resource.ofType(Provenance)"
                f".all(meta.profile.where(startsWith('{mc.CC_PROVENANCE}')).exists())",
            ),
            inv(
                "medcom-careCommunication-4",
                "Every Practitioner must have a name",
                "entry.resource.ofType(Practitioner).all(name.exists())",
            ),
            inv(
                "medcom-careCommunication-7",
                "A segment author's role is given by a code or by text, not both",
                f"{author}.all(code.coding.code.exists() xor code.text.exists())",
            ),
            inv(
                "medcom-careCommunication-8",
                "A segment author's practitioner must have a name",
                f"{author}.practitioner.resolve().all(name.exists())",
            ),
            inv(
                "medcom-careCommunication-9",
                "A referenced Encounter must have an episode of care identifier",
                f"{COMM}.encounter.resolve().all(episodeOfCare.identifier.exists())",
            ),
            inv(
                "medcom-careCommunication-11",
                "The specific sender must belong to the MessageHeader's sender organization",
                f"{sender}.all((organization | "
                f"managingOrganization).reference contains {HEADER}.sender.reference)",
            ),
            inv(
                "medcom-careCommunication-12",
                "The specific recipient must belong to the primary receiver organization",
                f"{COMM}.recipient.resolve().all((organization "
                f"| managingOrganization).reference contains {HEADER}.destination.first()"
                ".receiver.reference)",
            ),
            inv(
                "medcom-careCommunication-13",
                "Every PractitionerRole must reference its practitioner",
                "entry.resource.ofType(PractitionerRole).all(practitioner.reference.exists())",
            ),
            inv(
                "medcom-careCommunication-15",
                "Communication.encounter must reference the "
                "Encounter in the message, and be absent when there is none",
                f"iif(entry.resource.ofType(Encounter).exists(), {COMM}.encounter.resolve()"
                f".ofType(Encounter).exists(), {COMM}.encounter.empty())",
            ),
        ],
    )


def cc_header() -> Json:
    h = "MessageHeader"
    definition = mc.CC_DEFINITION.replace(".", "[.]")
    return profile(
        CC,
        "medcom-careCommunication-messageHeader",
        h,
        "MedComCareCommunicationMessageHeader",
        "MedCom CareCommunication MessageHeader",
        "The header of a CareCommunication: its event code, one primary receiver, the "
        "Communication as focus and the versioned MessageDefinition.",
        [
            *msg.header_elements(
                "care-communication-message",
                [
                    inv(
                        "medcom-carecommunication-definition-url",
                        "definition must be the "
                        "CareCommunication 5.x MessageDefinition (…MedComCareCommunication"
                        "MessageDefinition|5.n)",
                        "definition.empty() or "
                        f"definition.matches('^{definition}[|]5[.][0-9]{{1,2}}$')",
                    ),
                ],
            ),
            el(f"{h}.focus", min=1, max="1", type=ref(mc.CC_COMMUNICATION)),
            el(f"{h}.definition", min=1),
        ],
    )


def cc_communication() -> Json:
    c = "Communication"
    string = "content.ofType(string).exists()"
    attachment = "content.ofType(Attachment)"
    needs = " and ".join(
        f"{_ext(u)}.exists()" for u in (mc.CORE_DATETIME_EXT, mc.CORE_IDENTIFIER_EXT)
    )
    author = " and ".join(
        f"{_ext(u)}.exists()" for u in (mc.CORE_PRACTITIONER_EXT, mc.CORE_CONTACT_EXT)
    )
    return profile(
        CC,
        "medcom-careCommunication-communication",
        c,
        "MedComCareCommunication",
        "MedCom CareCommunication",
        "The content of a CareCommunication: the thread identifier, category, optional topic "
        "and priority, and the text segments and attachments, each with its time, identifier "
        "and author.",
        [
            el(
                c,
                constraint=[
                    inv(
                        "medcom-careCommunication-5",
                        "A priority may only be given when the category is regarding-referral",
                        "priority.exists() implies "
                        "category.coding.where(code = 'regarding-referral').exists()",
                    ),
                    inv(
                        "medcom-careCommunication-6",
                        "A topic is required when the category is other",
                        "category.coding.where(code = 'other').exists() implies topic.exists()",
                    ),
                    inv(
                        "medcom-careCommunication-payload-string",
                        "A CareCommunication must have "
                        "at least one text segment (payload.contentString)",
                        f"payload.where({string}).exists()",
                    ),
                ],
            ),
            el(f"{c}.id", min=1),
            el(f"{c}.text", min=1),
            el(f"{c}.extension", slicing=slicing("url")),
            slice_entry(
                f"{c}.extension:sender",
                0,
                "1",
                "The specific sender",
                type=ext_type(mc.CORE_SENDER_EXT),
            ),
            el(
                f"{c}.identifier",
                min=1,
                max="1",
                constraint=[
                    inv(
                        "medcom-uuidv4",
                        "The thread identifier must be a UUID URN (urn:uuid:…, lower case)",
                        f"value.matches('^{UUID}$')",
                    ),
                ],
            ),
            el(f"{c}.identifier.value", min=1),
            el(f"{c}.status", fixedCode="unknown"),
            el(
                f"{c}.category",
                min=1,
                max="1",
                binding=binding("required", mc.CC_CATEGORY_VS, "CareCommunication categories"),
            ),
            el(f"{c}.category.coding", min=1, max="1"),
            el(f"{c}.category.coding.system", min=1),
            el(f"{c}.category.coding.code", min=1),
            el(f"{c}.priority", binding=binding("required", mc.CC_PRIORITY_VS, "routine or asap")),
            el(f"{c}.subject", min=1, type=ref(mc.CORE_PATIENT)),
            el(f"{c}.topic.text", min=1),
            el(f"{c}.encounter", type=ref(mc.CORE_ENCOUNTER)),
            el(f"{c}.recipient", max="1", type=ref(mc.CORE_PRACTITIONER_ROLE, mc.CORE_CARETEAM)),
            el(
                f"{c}.payload",
                min=1,
                constraint=[
                    inv(
                        "medcom-careCommunication-segment",
                        "Every segment has a time and an identifier (extensions)",
                        needs,
                    ),
                    inv(
                        "medcom-careCommunication-text-author",
                        "A text segment has an author and the author's phone (extensions)",
                        f"{string} implies ({author})",
                    ),
                    inv(
                        "medcom-careCommunication-attachment",
                        "An attachment has a title, content "
                        "(data or url) and one of MedCom's attachment types",
                        f"{attachment}.all(title.exists() and (data.exists() or url.exists()) and "
                        f"contentType.memberOf('{mc.ATTACHMENT_MIME_VS}'))",
                    ),
                ],
            ),
            el(f"{c}.payload.content[x]", type=types("string", "Attachment")),
        ],
    )


def cc_provenance() -> Json:
    return profile(
        CC,
        "medcom-careCommunication-provenance",
        "Provenance",
        "MedComCareCommunicationProvenance",
        "MedCom CareCommunication Provenance",
        "What a CareCommunication does (new, reply, forward), the message it answers and the "
        "segments it adds.",
        [
            *msg.provenance_elements(
                mc.CC_ACTIVITIES_VS,
                [
                    inv(
                        "medcom-careCommunication-entity-roles",
                        "An entity is the preceding "
                        "message (role revision, at most one) or a segment added (role source)",
                        "entity.all(role = 'revision' or role = 'source') and "
                        "entity.where(role = 'revision').count() <= 1",
                    ),
                    inv(
                        "medcom-careCommunication-entity-payload",
                        "The segments this message adds "
                        "are named by their identifier (entity with role source)",
                        "entity.where(role = 'source').exists() and "
                        "entity.where(role = 'source').all(what.identifier.exists())",
                    ),
                ],
            ),
        ],
    )


# --- HospitalNotification -----------------------------------------------------------------------

FORBIDDEN_ENCOUNTER = (
    "type",
    "serviceType",
    "priority",
    "basedOn",
    "participant",
    "appointment",
    "length",
    "reasonCode",
    "reasonReference",
    "diagnosis",
    "hospitalization",
    "location",
    "partOf",
)


def hn_message() -> Json:
    return msg.message_bundle(
        HN,
        "medcom-hospitalNotification-message",
        "MedComHospitalNotificationMessage",
        "MedCom HospitalNotification message",
        "A HospitalNotification (advis om sygehusophold): the hospital tells the citizen's "
        "municipality of an admission, leave, discharge or death.",
        [
            inv(
                "medcom-hospitalNotification-1",
                "The MessageHeader must claim the HospitalNotification MessageHeader profile",
                msg.header_is(mc.HN_MESSAGE_HEADER),
            ),
            inv(
                "medcom-hospitalNotification-2",
                "There must be exactly one Patient",
                "entry.resource.ofType(Patient).count() = 1",
            ),
            inv(
                "medcom-hospitalNotification-3",
                "Every Provenance activity must be a HospitalNotification activity",
                "entry.resource.ofType(Provenance)"
                f".all(activity.memberOf('{mc.HN_ACTIVITIES_VS}'))",
            ),
            inv(
                "medcom-hospitalNotification-4",
                "The Patient must be identified by a CPR number (no replacement CPR)",
                f"entry.resource.ofType(Patient).identifier.all(system = '{mc.CPR}')",
            ),
            inv(
                "medcom-hospitalNotification-5",
                "The receiver must be the primary destination",
                f"entry.first().resource.destination.all({msg.USE}.code = 'primary')",
            ),
        ],
    )


def hn_header() -> Json:
    h = "MessageHeader"
    return profile(
        HN,
        "medcom-hospitalNotification-messageHeader",
        h,
        "MedComHospitalNotificationMessageHeader",
        "MedCom HospitalNotification MessageHeader",
        "The header of a HospitalNotification: its event code, the primary receiver, the "
        "Encounter as focus and whether a report of admission is requested.",
        [
            *msg.header_elements("hospital-notification-message", []),
            el(f"{h}.extension", slicing=slicing("url")),
            slice_entry(
                f"{h}.extension:reportOfAdmissionFlag",
                0,
                "1",
                "A report of admission is requested",
                type=ext_type(mc.HN_REPORT_OF_ADMISSION_EXT),
            ),
            slice_entry(
                f"{h}.extension:reportOfAdmissionRecipient",
                0,
                "1",
                "Who receives the report of admission",
                type=ext_type(mc.HN_REPORT_OF_ADMISSION_RECIPIENT_EXT),
            ),
            el(f"{h}.focus", min=1, max="1", type=ref(mc.HN_ENCOUNTER)),
        ],
    )


def hn_encounter() -> Json:
    e = "Encounter"
    core = encounter_elements(e)
    leave = f"{_ext(mc.HN_LEAVE_PERIOD_EXT)}.value"
    return profile(
        HN,
        "medcom-hospitalNotification-encounter",
        e,
        "MedComHospitalNotificationEncounter",
        "MedCom HospitalNotification Encounter",
        "The hospital stay a HospitalNotification reports: status and class from the activity, "
        "the episode of care id, the period, the leave period; nothing else (by law).",
        [
            el(
                e,
                constraint=[
                    inv(
                        "medcom-hospitalNotification-6",
                        "An Encounter on leave must have a leave period with a start",
                        f"status = 'onleave' implies {leave}.start.exists()",
                    ),
                ],
            ),
            *core[:2],
            el(f"{e}.extension", slicing=slicing("url")),
            slice_entry(
                f"{e}.extension:leavePeriod",
                0,
                "1",
                "The leave period",
                type=ext_type(mc.HN_LEAVE_PERIOD_EXT),
            ),
            el(
                f"{e}.status",
                binding=binding(
                    "required", mc.HN_ENCOUNTER_STATUS_VS, "HospitalNotification statuses"
                ),
            ),
            el(
                f"{e}.class",
                binding=binding("required", mc.HN_ENCOUNTER_CLASS_VS, "inpatient or emergency"),
            ),
            *[el(f"{e}.{name}", max="0") for name in FORBIDDEN_ENCOUNTER],
            el(f"{e}.subject", min=1, type=ref(mc.CORE_PATIENT)),
            el(f"{e}.episodeOfCare", min=1),
            el(f"{e}.episodeOfCare.reference", max="0"),
            el(f"{e}.episodeOfCare.identifier", min=1),
            *core[2:4],
            el(f"{e}.period", min=1),
            el(f"{e}.period.start", min=1),
            core[5],
            core[6] | {"min": 1},
        ],
    )


def hn_extensions() -> list[Json]:
    return [
        extension(
            HN,
            "medcom-hospitalnotifiation-leave-period-extension",
            "MedComHospitalNotificationLeavePeriodExtension",
            "Leave period",
            "When the patient's leave from the hospital started and, once back, ended.",
            ["Encounter"],
            [
                el("Extension.extension", max="0"),
                el("Extension.value[x]", min=1, type=types("Period")),
                el("Extension.value[x].start", min=1),
            ],
        ),
        simple_extension(
            HN,
            "medcom-messaging-reportOfAdmissionExtension",
            "MedComMessagingReportOfAdmissionExtension",
            "Report of admission requested",
            "True when the receiver is asked to send a report of admission (indlæggelsesrapport).",
            ["MessageHeader"],
            {"type": types("boolean")},
        ),
        simple_extension(
            HN,
            "medcom-messaging-reportOfAdmissionRecipientExtension",
            "MedComMessagingReportOfAdmissionRecipientExtension",
            "Report of admission recipient",
            "Who receives the report of admission, when not the sender.",
            ["MessageHeader"],
            {"type": ref(mc.ORGANIZATION)},
        ),
    ]


# --- Acknowledgement ----------------------------------------------------------------------------


def ack_message() -> Json:
    return msg.message_bundle(
        ACK,
        "medcom-messaging-acknowledgement",
        "MedComMessagingAcknowledgement",
        "MedCom Acknowledgement message",
        "The answer to every MedCom message (kvittering): ok, or the reason it was refused.",
        [
            inv(
                "medcom-acknowledgement-1",
                "An Acknowledgement that is not ok must contain an OperationOutcome",
                "entry.first().resource.response.code = 'ok' or "
                "entry.resource.ofType(OperationOutcome).exists()",
            ),
            inv(
                "medcom-acknowledgement-2",
                "The MessageHeader must claim the Acknowledgement MessageHeader profile",
                msg.header_is(mc.ACK_MESSAGE_HEADER),
            ),
        ],
    )


def ack_header() -> Json:
    h = "MessageHeader"
    return profile(
        ACK,
        "medcom-messaging-acknowledgementHeader",
        h,
        "MedComAcknowledgementMessageHeader",
        "MedCom Acknowledgement MessageHeader",
        "The header of an Acknowledgement: the acknowledged MessageHeader.id, ok / "
        "transient-error / fatal-error and the details.",
        [
            *msg.header_elements("acknowledgement-message", []),
            el(f"{h}.response", min=1),
            el(f"{h}.response.details", type=ref(mc.ACK_OPERATION_OUTCOME)),
        ],
    )


def ack_operation_outcome() -> Json:
    o = "OperationOutcome"
    return profile(
        ACK,
        "medcom-acknowledgement-operationoutcome",
        o,
        "MedComAcknowledgementOperationOutcome",
        "MedCom Acknowledgement OperationOutcome",
        "Why a message was refused: severity, issue type and a MedCom or HL7 message code.",
        [
            el(f"{o}.id", min=1),
            # extensible: Acknowledgement 2.0.3's own examples use codes of terminology 1.4.0
            # (message-development-error …) that the current ValueSet no longer lists
            el(
                f"{o}.issue.details",
                binding=binding(
                    "extensible", mc.ACK_ISSUE_DETAILS_VS, "MedCom acknowledgement issue details"
                ),
            ),
        ],
    )


def all_resources() -> list[Json]:
    return [
        cc_message(),
        cc_header(),
        cc_communication(),
        cc_provenance(),
        hn_message(),
        hn_header(),
        hn_encounter(),
        *hn_extensions(),
        ack_message(),
        ack_header(),
        ack_operation_outcome(),
    ]
