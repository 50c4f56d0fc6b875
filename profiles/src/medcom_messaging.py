"""MedCom Messaging 4.0.1 (medcom-consent-audit.md A.1): the message Bundle, the MessageHeader
with its primary/cc destinations, the Organization with SOR and EAN (GLN), the Provenance.

Rules a message type tightens are built here as functions, so the CareCommunication,
HospitalNotification and Acknowledgement profiles (flattened onto R4, see medcom_core) carry the
messaging rules and their own. Cross-resource rules are Bundle invariants; ``resolve()`` finds
entries inside the Bundle.
"""

from __future__ import annotations

from profiles.src import medcom_canon as mc
from profiles.src.dsl import (
    Json,
    Owner,
    binding,
    el,
    extension,
    fixed_system_slice,
    inv,
    profile,
    ref,
    slicing,
    types,
)
from profiles.src.identifiers import SOR_RULE

M = mc.MESSAGING
USE = f"extension.where(url = '{mc.DESTINATION_USE_EXT}').value"
# The references that must resolve inside the message: all, except local ones and those of the
# Provenances: the earlier messages' Provenances travel along as the thread's history, naming
# MessageHeaders and Organizations of those messages; only the agent of this message's own
# Provenance (whose target is in the Bundle) must be here.
# (Two collections joined by ``and``, not ``|``: a union removes duplicates, comparing every
# element of a message with every other.)
BUNDLED = (
    "entry.resource.where(is(Provenance).not()).descendants()"
    ".where(reference.exists() and reference.startsWith('#').not()).all(resolve().exists()) "
    "and entry.resource.ofType(Provenance).where(target.resolve().exists()).agent.who"
    ".all(resolve().exists())"
)
GLN_WHERE = " or ".join(f"system = '{s}'" for s in mc.GLN_SYSTEMS)


def header_is(profile_url: str) -> str:
    """The first entry is a MessageHeader claiming ``profile_url`` (any version); the entry's
    claimed profiles are checked with the entry."""
    return (
        f"entry.first().resource.ofType(MessageHeader).meta.profile"
        f".where($this = '{profile_url}' or startsWith('{profile_url}|')).exists()"
    )


def bundle_elements(extra: list[Json]) -> list[Json]:
    b = "Bundle"
    return [
        el(
            b,
            constraint=[
                inv(
                    "medcom-messaging-1",
                    "The MessageHeader must be the first entry",
                    "entry.first().resource.is(MessageHeader)",
                ),
                inv(
                    "medcom-messaging-2",
                    "A message must contain a Provenance",
                    "entry.resource.ofType(Provenance).exists()",
                ),
                inv(
                    "medcom-messaging-bundled",
                    "Every resource a message refers to must be in the message (aggregation "
                    "bundled); the Provenances of earlier messages may name what is not",
                    BUNDLED,
                ),
                *extra,
            ],
        ),
        el(f"{b}.id", min=1),
        el(f"{b}.type", fixedCode="message"),
        el(f"{b}.timestamp", min=1),
        el(f"{b}.entry", min=1),
        el(f"{b}.entry.resource", min=1),
    ]


def message_bundle(
    owner: Owner, id_: str, name: str, title: str, desc: str, extra: list[Json]
) -> Json:
    return profile(owner, id_, "Bundle", name, title, desc, bundle_elements(extra))


NO_CC = inv(
    "medcom-messaging-no-cc",
    "This message type has no carbon-copy (cc) destination",
    f"destination.{USE}.where(code = 'cc').empty()",
)


def header_elements(event: str | None, extra: list[Json], *, no_cc: bool = True) -> list[Json]:
    """The messaging MessageHeader's rules; ``event`` fixes the event code of a message type."""
    h = "MessageHeader"
    event_el = el(
        f"{h}.eventCoding",
        min=1,
        binding=binding("required", mc.MESSAGE_TYPES_VS, "The MedCom message types"),
    )
    if event:
        event_el["patternCoding"] = {"system": mc.EVENT_CODES_CS, "code": event}
    return [
        el(
            h,
            constraint=[
                inv(
                    "medcom-messaging-destination-use",
                    "Every destination says whether it is the "
                    "primary receiver or a carbon copy (destination-use extension)",
                    f"destination.all({USE}.exists())",
                ),
                inv(
                    "medcom-messaging-primary",
                    "There is exactly one primary destination",
                    f"destination.where({USE}.code = 'primary').count() = 1",
                ),
                *([NO_CC] if no_cc else []),
                *extra,
            ],
        ),
        el(f"{h}.id", min=1),
        event_el,
        el(f"{h}.eventCoding.system", min=1),
        el(f"{h}.eventCoding.code", min=1),
        el(f"{h}.destination", min=1),
        el(f"{h}.destination.receiver", min=1, type=ref(mc.ORGANIZATION)),
        el(f"{h}.sender", min=1, type=ref(mc.ORGANIZATION)),
    ]


def header() -> Json:
    return profile(
        M,
        "medcom-messaging-messageHeader",
        "MessageHeader",
        "MedComMessagingMessageHeader",
        "MedCom Messaging MessageHeader",
        "The header of every MedCom message: event, one primary destination (and carbon "
        "copies where the message type allows them), sender and source endpoint.",
        header_elements(None, [], no_cc=False),
    )


def organization() -> Json:
    o = "Organization"
    return profile(
        M,
        "medcom-messaging-organization",
        o,
        "MedComMessagingOrganization",
        "MedCom Messaging Organization",
        "A sender or receiver of a MedCom message: its SOR id and its EAN location number "
        "(GLN), by which the network routes the message.",
        [
            el(
                o,
                constraint=[
                    inv(
                        "medcom-messaging-organization-ean",
                        "The organization must have an EAN "
                        "location number (GLN: https://www.gs1.org/gln, http://www.gs1.org/gln or "
                        "urn:oid:1.3.88)",
                        f"identifier.where({GLN_WHERE}).value.exists()",
                    ),
                    inv(
                        "medcom-messaging-organization-gln-valid",
                        "An EAN location number has 13 digits and a valid check digit",
                        f"identifier.where({GLN_WHERE}).all(value.dkGlnValid())",
                    ),
                ],
            ),
            el(f"{o}.id", min=1),
            el(f"{o}.identifier", min=2, slicing=slicing("system"), constraint=[SOR_RULE]),
            *fixed_system_slice(
                f"{o}.identifier", "SOR-ID", mc.SOR, "SOR id", min_=1, value={"min": 1}
            ),
        ],
    )


def provenance_elements(activities: str, extra: list[Json]) -> list[Json]:
    p = "Provenance"
    return [
        *([el(p, constraint=extra)] if extra else []),
        el(f"{p}.id", min=1),
        el(f"{p}.target", max="1", type=ref(mc.MESSAGE_HEADER)),
        el(f"{p}.occurred[x]", min=1, type=types("dateTime")),
        el(
            f"{p}.activity", min=1, binding=binding("required", activities, "What the message does")
        ),
        el(f"{p}.activity.coding", min=1, max="1"),
        el(f"{p}.activity.coding.system", min=1),
        el(f"{p}.activity.coding.code", min=1),
        el(f"{p}.agent.who", type=ref(mc.ORGANIZATION)),
    ]


def provenance() -> Json:
    return profile(
        M,
        "medcom-messaging-provenance",
        "Provenance",
        "MedComMessagingProvenance",
        "MedCom Messaging Provenance",
        "What a message does (new, reply, forward, an admission …), who sent it and when; a "
        "reply or correction also names the message it answers (entity).",
        provenance_elements(mc.ACTIVITY_CODES_VS, []),
    )


def destination_use() -> Json:
    return extension(
        M,
        "medcom-messaging-destinationUseExtension",
        "MedComMessagingDestinationUseExtension",
        "Destination use",
        "Whether a destination is the primary receiver or a carbon copy.",
        ["MessageHeader.destination"],
        [
            el("Extension.extension", max="0"),
            el(
                "Extension.value[x]",
                min=1,
                type=types("Coding"),
                binding=binding("required", mc.DESTINATION_USE_VS, "primary or cc"),
            ),
            el("Extension.value[x].system", min=1),
            el("Extension.value[x].code", min=1),
        ],
    )


def all_resources() -> list[Json]:
    return [
        message_bundle(
            M,
            "medcom-messaging-message",
            "MedComMessagingMessage",
            "MedCom message",
            "A MedCom FHIR message: a Bundle of type message with the MessageHeader first and "
            "at least one Provenance.",
            [],
        ),
        header(),
        organization(),
        provenance(),
        destination_use(),
    ]
