"""What a received message must pass before a handler reads it.

1. **The message profile** of its event code (`codes.MESSAGE_PROFILES`), with the project's
   validator (`profiles.validation`): everything MedCom's profiles express — the MessageHeader
   first, a Provenance present, the event code, no ``cc`` destination, CareCommunication's
   ``definition`` and priority rule, HospitalNotification's CPR-only Patient and forbidden
   Encounter elements — is the profiles' to say, never re-implemented here.
2. **Message-level rules a profile cannot express**: an envelope id (reliable messaging needs
   it); every reference inside the Bundle resolves to one of its entries (except those naming
   earlier messages: the current Provenance's ``target`` and ``entity.what``, and the earlier
   messages' Provenances, copied unchanged from messages whose entries this one need not
   hold); the primary receiver is an organization of this server (its SOR or GLN identifies a
   stored Organization).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fhir_server.access import within
from fhir_server.errors import Forbidden
from fhir_server.interactions.context import Context
from fhir_server.search.parse import parse_search
from fhir_server.stored import StoredResource
from medcom.codes import ERROR_CODES, MESSAGE_PROFILES, OPERATION_OUTCOME_CODES
from medcom.inbound.message import Message, Problem, organization_keys
from profiles.validation import Validator

_THREAD_REFERENCES = {("Provenance", "target"), ("Provenance", "entity")}
"""Where a message names earlier messages (not in its Bundle): the Provenance chain."""
_ERROR = ("error", "fatal")


def profile_problems(message: Message) -> list[Problem]:
    """The message against the R4 definitions and its event's message profile, as problems
    naming the element (``Bundle.entry[2].resource…``) and the rule."""
    validator = Validator.default()
    if validator.base_rule("Bundle") is None:
        return []  # without the R4 Bundle definition there is nothing to validate against
    profile = MESSAGE_PROFILES.get(message.event or "")
    profiles = [profile] if profile and validator.library.structure_definition(profile) else []
    issues = validator.validate(message.bundle, profiles=profiles, claimed=False)
    return [
        Problem(
            f"{i.diagnostics} (profile {i.profile})" if i.profile else i.diagnostics,
            i.expression or "Bundle",
            (OPERATION_OUTCOME_CODES, "MSG_BAD_SYNTAX" if i.profile is None else "MSG_BAD_FORMAT"),
            i.code,
        )
        for i in issues
        if i.severity in _ERROR
    ]


def envelope_problems(message: Message) -> list[Problem]:
    """Reliable messaging's and the Bundle's own rules the profiles leave to the receiver."""
    problems = []
    if message.envelope_id is None:
        problems.append(
            Problem(
                "The message Bundle has no id (its envelope id)",
                "Bundle.id",
                (OPERATION_OUTCOME_CODES, "MSG_ID_INVALID"),
                "required",
            )
        )
    for where, reference in _references(message.bundle, message.current_provenance):
        if message.resolve(reference) is None:
            problems.append(
                Problem(
                    "A reference does not resolve to an entry of the message Bundle",
                    where,
                    (OPERATION_OUTCOME_CODES, "MSG_RESOURCE_REQUIRED"),
                    "not-found",
                )
            )
    return problems


async def receiver_problems(ctx: Context, message: Message) -> tuple[list[Problem], str | None]:
    """Problems with the primary receiver, and the stored Organization it is here (its id)."""
    where = f"Bundle.entry[{message.header_index}].resource.destination"
    receiver = message.receiver
    keys = organization_keys(receiver)
    if receiver is None or not keys:
        return [
            Problem(
                "The primary receiver has no SOR or EAN/GLN identifier",
                f"{where}.receiver",
                (ERROR_CODES, "MSG_Receiver_Identifier_MISSING"),
                "required",
            )
        ], None
    found = await organization_of(ctx, message, receiver)
    if found is None:
        return [
            Problem(
                "The primary receiver is not an organization of this server",
                f"{where}.receiver",
                (ERROR_CODES, "MSG_Receiver_Identifier_UNKNOWN"),
                "not-found",
            )
        ], None
    return [], found


async def sender_refusal(ctx: Context, message: Message) -> Forbidden | None:
    """Why the caller may not deliver ``message``, or None. Its MessageHeader.sender is a claim
    in the body: a caller bound to an organization delivers only its own organization's messages
    or its sub-units' (``partOf``); a caller bound to none (a platform client, a VANS gateway's
    relay) is not asked."""
    acts_for = ctx.access.acts_for
    if acts_for is None:
        return None
    if await within(ctx, await organization_of(ctx, message, message.sender), acts_for):
        return None
    return Forbidden(
        "The caller does not act for the message's sender (or an organization it is part of)",
        [f"Bundle.entry[{message.header_index}].resource.sender"],
    )


async def organization_of(
    ctx: Context, message: Message, organization: dict[str, Any] | None
) -> str | None:
    """The id of the stored Organization one of the message's Organizations is (by SOR or
    EAN/GLN), or None; each looked up once per message."""
    keys = tuple(organization_keys(organization))
    if not keys:
        return None
    if keys not in message.organizations:
        found = await organization_here(ctx, list(keys))
        message.organizations[keys] = found.id if found else None
    return message.organizations[keys]


async def organization_here(ctx: Context, keys: list[tuple[str, str]]) -> StoredResource | None:
    """The stored Organization one of ``keys`` (SOR, GLN under any of its systems) identifies.
    The server's own look-up (the message is addressed to it), not the caller's."""
    values = ",".join(token(system, value) for system, value in keys)
    query = parse_search(
        "Organization", [("identifier", values)], params=ctx.params, default_count=1, max_count=1
    )
    page = await ctx.search(query)
    return page.items[0] if page.items else None


def token(system: Any, value: Any) -> str:
    """``system|value`` as a token search value, the search escapes (``\\ , | $``) applied:
    identifiers from a message are data, not search syntax."""

    def escaped(text: Any) -> str:
        out = str(text)
        for char in ("\\", ",", "|", "$"):
            out = out.replace(char, "\\" + char)
        return out

    return f"{escaped(system)}|{escaped(value)}"


def _references(
    bundle: dict[str, Any], current: dict[str, Any] | None
) -> Iterator[tuple[str, str]]:
    """(FHIRPath, reference) of every literal reference in the Bundle's resources but those
    naming earlier messages and contained resources. The earlier messages' Provenances (the
    thread, carried along unchanged) name what those messages held: they are not checked."""
    for i, entry in enumerate(bundle.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        if resource.get("resourceType") == "Provenance" and resource is not current:
            continue
        kind = resource.get("resourceType")
        for key, value in resource.items():
            if (kind, key) in _THREAD_REFERENCES or key == "contained":
                continue
            yield from _walk(value, f"Bundle.entry[{i}].resource.{key}")


def _walk(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str) and not ref.startswith("#"):
            yield path, ref
        for key, value in node.items():
            if key != "reference":
                yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for n, item in enumerate(node):
            yield from _walk(item, f"{path}[{n}]")
