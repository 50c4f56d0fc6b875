"""ConceptMaps between MedCom's codes and this project's (issue 13 item 4), served and used by
``ConceptMap/$translate``:

- this project's care plan categories and service request categories → CareCommunication
  categories (the category a CareCommunication rendering a plan or a request gets; reversed,
  the plans or requests a received category may concern);
- HospitalNotification activity codes → the Encounter status and the Encounter class the
  activity leaves (medcom-consent-audit.md A.3, the code table);
- MedCom's message event codes → the SOR EDI message type names (MedCom's own map, kept at its
  canonical and version).

Equivalences are R4's (``ConceptMap.group.element.target.equivalence``), read from source to
target: ``wider`` — the target means more than the source (IV treatment at home is one kind of
extended care responsibility; ``in-progress`` follows from several activities); ``relatedto`` —
the two are about the same matter without one containing the other.
"""

from __future__ import annotations

from profiles.src import canon
from profiles.src import medcom_canon as mc
from profiles.src import medcom_terminology as mt
from profiles.src.dsl import (
    FF,
    Json,
    concept_map,
    include_concepts,
    map_element,
    map_group,
    value_set,
)
from profiles.src.terminology_ff import (
    CARECOMMUNICATION_CATEGORIES,
    CAREPLAN_CATEGORIES,
    CAREPLAN_CATEGORY_CS,
    CAREPLAN_CATEGORY_VS,
)

REQUEST_CATEGORY_VS = canon.ff_vs("ff-servicerequest-category")
# DOMAIN.md §4: the Danish SNOMED CT service codes a dk-core ServiceRequest has as category
REQUEST_CATEGORIES = [
    ("658161000005107", "hjemmesygepleje"),
    ("658171000005102", "hjemmepleje"),
    ("658141000005108", "genoptræning efter sygehusophold"),
    ("658151000005105", "sundhedsfremme og forebyggelse"),
]
CC_DISPLAY = {code: en for code, en, _ in CARECOMMUNICATION_CATEGORIES}

# plan category -> (CareCommunication category, equivalence)
PLAN_TO_CC = {
    "cross-sector-course": ("carecoordination", "wider"),
    "child-youth-psychiatry": ("psychiatry-social-disability", "wider"),
    "severe-mental-illness": ("psychiatry-social-disability", "wider"),
    "discharge-follow-up": ("discharge", "wider"),
    "iv-treatment-at-home": ("extended-care-responsibility", "wider"),
    "preventive-sick-visit": ("carecoordination", "relatedto"),
    "acute-function": ("nursing", "relatedto"),
    "chronic-multimorbidity": ("carecoordination", "wider"),
}
# request category (SNOMED CT) -> (CareCommunication category, equivalence)
REQUEST_TO_CC = {
    "658161000005107": ("nursing", "wider"),
    "658171000005102": ("home-care-assessment", "relatedto"),
    "658141000005108": ("training", "wider"),
    "658151000005105": ("healthcare", "relatedto"),
}

ENCOUNTER_STATUS_DISPLAY = {
    "in-progress": "In Progress",
    "onleave": "On Leave",
    "finished": "Finished",
    "entered-in-error": "Entered in Error",
}
ENCOUNTER_CLASS_DISPLAY = {"IMP": "inpatient encounter", "EMER": "emergency"}


def hn_encounter_status(activity: str) -> str:
    """The Encounter status a HospitalNotification activity leaves (A.3's table): a cancellation
    restores the status before the cancelled event, a revision keeps the event's own."""
    event = activity.removeprefix("revise-").removeprefix("cancel-")
    if activity.startswith("cancel-"):
        return {
            "admit-emergency": "entered-in-error",
            "admit-inpatient": "entered-in-error",
            "start-leave-inpatient": "in-progress",
            "end-leave-inpatient": "onleave",
        }.get(event, "in-progress")  # a cancelled discharge: the stay goes on
    if event.startswith("discharge-"):
        return "finished"
    return "onleave" if event == "start-leave-inpatient" else "in-progress"


def hn_encounter_class(activity: str) -> str:
    return "EMER" if "emergency" in activity else "IMP"


def _category_maps() -> list[Json]:
    plan_display = {c["code"]: c["display"] for c in CAREPLAN_CATEGORIES}
    plan = [
        map_element(code, plan_display[code], [(cc, CC_DISPLAY[cc], eq)])
        for code, (cc, eq) in PLAN_TO_CC.items()
    ]
    request = [
        map_element(code, display, [(cc, CC_DISPLAY[cc], eq)])
        for code, display in REQUEST_CATEGORIES
        for cc, eq in [REQUEST_TO_CC[code]]
    ]
    return [
        concept_map(
            FF, "ff-careplan-category-to-medcom-category", "FfCarePlanCategoryToMedComCategory",
            "Care plan category → CareCommunication category",
            "The CareCommunication category of a message about a shared care plan of each "
            "category (outbound: a CarePlan rendered as a CareCommunication; reverse: which "
            "plans a received CareCommunication may concern).",
            CAREPLAN_CATEGORY_VS, mc.CC_CATEGORY_VS,
            [map_group(CAREPLAN_CATEGORY_CS, mc.CC_CATEGORY_CS, plan)],
        ),
        concept_map(
            FF, "ff-servicerequest-category-to-medcom-category",
            "FfServiceRequestCategoryToMedComCategory",
            "Service request category → CareCommunication category",
            "The CareCommunication category of a message about a request for a municipal "
            "service. A ServiceRequest rendered as a CareCommunication is sent as "
            "regarding-referral (with its priority); this map gives the subject-matter category "
            "(a message about the service rather than the referral, and reverse: which requests "
            "a received message may concern).",
            REQUEST_CATEGORY_VS, mc.CC_CATEGORY_VS,
            [map_group(canon.SNOMED, mc.CC_CATEGORY_CS, request)],
        ),
    ]  # fmt: skip


def _hospital_notification_maps() -> list[Json]:
    activities = [(c["code"], c["display"]) for c in mt.ACTIVITY_CODES]
    hn = [(code, display) for code, display in activities if code in mt.HN_ACTIVITY_CODES]
    status = [
        map_element(code, display, [(s, ENCOUNTER_STATUS_DISPLAY[s], "wider")])
        for code, display in hn
        for s in [hn_encounter_status(code)]
    ]
    klass = [
        map_element(code, display, [(k, ENCOUNTER_CLASS_DISPLAY[k], "wider")])
        for code, display in hn
        for k in [hn_encounter_class(code)]
    ]
    return [
        concept_map(
            FF, "ff-medcom-hn-activity-to-encounter-status",
            "FfMedComHospitalNotificationActivityToEncounterStatus",
            "HospitalNotification activity → Encounter status",
            "The status the Encounter has after each HospitalNotification activity: admission "
            "and end of leave in-progress, start of leave onleave, discharge finished; a "
            "revision keeps the event's status, a cancellation restores the one before it "
            "(a cancelled admission is entered-in-error). Death keeps its activity and sets "
            "Patient.deceased; it has no code of its own here.",
            mc.HN_ACTIVITIES_VS, mc.HN_ENCOUNTER_STATUS_VS,
            [map_group(mc.ACTIVITY_CODES_CS, mc.ENCOUNTER_STATUS, status)],
        ),
        concept_map(
            FF, "ff-medcom-hn-activity-to-encounter-class",
            "FfMedComHospitalNotificationActivityToEncounterClass",
            "HospitalNotification activity → Encounter class",
            "The class of the Encounter a HospitalNotification activity is about: emergency "
            "(acute ambulant) or inpatient.",
            mc.HN_ACTIVITIES_VS, mc.HN_ENCOUNTER_CLASS_VS,
            [map_group(mc.ACTIVITY_CODES_CS, mc.V3_ACT_CODE, klass)],
        ),
    ]  # fmt: skip


def _sor_edi_map() -> list[Json]:
    sor = {c["code"]: c["display"] for c in mt.SOR_EDI}
    pairs = [
        ("care-communication-message", "Care Communication Message", "FDIS91"),
        ("hospital-notification-message", "Hospital Notification Message", "FDIS20"),
        ("acknowledgement-message", "Acknowledgement Message", "FCTL"),
    ]
    elements = [map_element(c, d, [(t, sor[t], "equivalent")]) for c, d, t in pairs]
    return [
        concept_map(
            mc.TERMINOLOGY_181, "medcom-messaging-mapFhirToSorEdi",
            "MedComMessagingMapFhirToSorEdi", "MedCom FHIR message → SOR EDI message type",
            "MedCom's FHIR message event codes and the SOR EDI names of the same message types "
            "(which a receiver's SOR entry lists as the messages it can receive).",
            mc.MESSAGE_TYPES_VS, mc.SOR_EDI_VS,
            [map_group(mc.EVENT_CODES_CS, mc.SOR_EDI_CS, elements)],
        ),
    ]  # fmt: skip


def _request_categories() -> Json:
    return value_set(
        FF,
        "ff-servicerequest-category",
        "FfServiceRequestCategory",
        "Service request categories",
        "The municipal services a request to the municipality asks for (Danish SNOMED CT, as "
        "dk-core's ServiceRequest uses them).",
        [include_concepts(canon.SNOMED, REQUEST_CATEGORIES)],
        expansion=[
            {"system": canon.SNOMED, "code": c, "display": d} for c, d in REQUEST_CATEGORIES
        ],
    )


def all_resources() -> list[Json]:
    return [
        _request_categories(),
        *_category_maps(),
        *_hospital_notification_maps(),
        *_sor_edi_map(),
    ]
