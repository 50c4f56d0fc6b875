"""A received MedCom message as the handlers read it: its header, its entries by reference, its
Provenance chain and its current activity; and `Rejected`, the content error a fatal-error
Acknowledgement answers."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from medcom.codes import (
    DESTINATION_USE_EXTENSION,
    GLN_SYSTEMS,
    OPERATION_OUTCOME_CODES,
    ORGANIZATION_SYSTEMS,
)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a message's content: an OperationOutcome issue of the fatal-error
    Acknowledgement, naming the element (FHIRPath ``expression``) and a MedCom issue detail
    (``detail``: system and code of the acknowledgement issue-details ValueSet). ``text`` never
    carries a value from the message (a CPR number is personal data)."""

    text: str
    expression: str
    detail: tuple[str, str] = (OPERATION_OUTCOME_CODES, "MSG_BAD_FORMAT")
    code: str = "invalid"
    """The OperationOutcome issue type (``invalid``, ``required``, ``not-found``, …)."""


class Rejected(Exception):
    """The message cannot be accepted as it is (a fatal-error: no point resending unchanged);
    raised by the checks and the handlers, it rolls back whatever the handler wrote."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].text if problems else "rejected")
        self.problems = problems


def reject(text: str, expression: str, code: str = "MSG_BAD_FORMAT", **kw: Any) -> Rejected:
    """A `Rejected` of one problem with an HL7 operation-outcome issue detail ``code``."""
    return Rejected([Problem(text, expression, (OPERATION_OUTCOME_CODES, code), **kw)])


@dataclass(slots=True)
class Message:
    """A message Bundle with a MessageHeader that has an id (without one it cannot be
    acknowledged: `of` answers None)."""

    bundle: dict[str, Any]
    header: dict[str, Any]
    header_index: int
    entries: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    """``Type/id`` and each entry's ``fullUrl`` → (entry index, resource)."""
    organizations: dict[tuple[tuple[str, str], ...], str | None] = field(default_factory=dict)
    """The stored Organization (id) each of the message's Organizations is, once looked up:
    the checks and the handler ask for the same ones."""

    @classmethod
    def of(cls, bundle: Any) -> Message | None:
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            return None
        entries = bundle.get("entry")
        if not isinstance(entries, list):
            return None
        found: dict[str, tuple[int, dict[str, Any]]] = {}
        header: tuple[int, dict[str, Any]] | None = None
        for i, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            kind, rid = resource.get("resourceType"), resource.get("id")
            if isinstance(kind, str) and isinstance(rid, str):
                found.setdefault(f"{kind}/{rid}", (i, resource))
            full = entry.get("fullUrl")
            if isinstance(full, str):
                found.setdefault(full, (i, resource))
            if kind == "MessageHeader" and header is None:
                header = (i, resource)
        if header is None or not isinstance(header[1].get("id"), str) or not header[1]["id"]:
            return None
        return cls(bundle, header[1], header[0], found)

    @property
    def header_id(self) -> str:
        return str(self.header["id"])

    @property
    def envelope_id(self) -> str | None:
        value = self.bundle.get("id")
        return value if isinstance(value, str) and value else None

    @property
    def event(self) -> str | None:
        coding = self.header.get("eventCoding")
        code = coding.get("code") if isinstance(coding, dict) else None
        return code if isinstance(code, str) else None

    def resolve(self, reference: Any) -> dict[str, Any] | None:
        """The entry a Reference (or its ``reference`` string) names inside the Bundle."""
        if isinstance(reference, dict):
            reference = reference.get("reference")
        if not isinstance(reference, str):
            return None
        hit = self.entries.get(reference)
        if hit is None and "/" in reference:  # an absolute URL ending in Type/id
            hit = self.entries.get("/".join(reference.rstrip("/").split("/")[-2:]))
        return hit[1] if hit else None

    def index_of(self, resource: dict[str, Any]) -> int:
        return next(i for i, r in self.entries.values() if r is resource)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        for _, resource in self.entries.values():
            if resource.get("resourceType") == kind and not any(r is resource for r in seen):
                seen.append(resource)
        return seen

    @property
    def current_provenance(self) -> dict[str, Any] | None:
        """The Provenance of this message (its ``target`` is this MessageHeader); the others
        are the earlier messages' of the thread, carried along."""
        mine = f"MessageHeader/{self.header_id}"
        for provenance in self.of_type("Provenance"):
            targets = provenance.get("target") or []
            if any(
                isinstance(t, dict) and str(t.get("reference", "")).endswith(mine) for t in targets
            ):
                return provenance
        return None

    @property
    def activity(self) -> str | None:
        """The current Provenance's activity code (``new-message``, ``admit-inpatient``, …)."""
        provenance = self.current_provenance or {}
        codings = (provenance.get("activity") or {}).get("coding") or []
        code = codings[0].get("code") if codings and isinstance(codings[0], dict) else None
        return code if isinstance(code, str) else None

    def preceding(self, roles: tuple[str, ...] = ("revision", "removal")) -> list[str]:
        """What the current Provenance says this message answers, corrects or cancels: the
        earlier MessageHeader ids (``MessageHeader/<id>``) and OIOXML/EDIFACT letter ids
        (``lokationsnummer#brevid``, either order: `letter_ids`)."""
        provenance = self.current_provenance or {}
        out: list[str] = []
        for entity in provenance.get("entity") or []:
            if not isinstance(entity, dict) or entity.get("role") not in roles:
                continue
            what = entity.get("what") or {}
            ref = what.get("reference")
            if isinstance(ref, str) and "MessageHeader/" in ref:
                out.append(ref.rsplit("MessageHeader/", 1)[1])
            value = (what.get("identifier") or {}).get("value")
            if isinstance(value, str):
                out += letter_ids(value)
        return out

    def primary_destination(self) -> dict[str, Any] | None:
        for destination in self.header.get("destination") or []:
            if isinstance(destination, dict) and destination_use(destination) == "primary":
                return destination
        return None

    @property
    def receiver(self) -> dict[str, Any] | None:
        destination = self.primary_destination()
        return self.resolve(destination.get("receiver")) if destination else None

    @property
    def sender(self) -> dict[str, Any] | None:
        return self.resolve(self.header.get("sender"))


_PROCESSING: ContextVar[Message | None] = ContextVar("medcom_message", default=None)


def processing(message: Message) -> None:
    """``message`` is the one this request processes (`parsed` gives it back to handlers)."""
    _PROCESSING.set(message)


def parsed(bundle: dict[str, Any]) -> Message | None:
    """The message ``bundle`` is: the one this request parsed already, or parsed now."""
    current = _PROCESSING.get()
    return current if current is not None and current.bundle is bundle else Message.of(bundle)


def destination_use(destination: dict[str, Any]) -> str | None:
    for ext in destination.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == DESTINATION_USE_EXTENSION:
            code = (ext.get("valueCoding") or {}).get("code")
            return code if isinstance(code, str) else None
    return None


def letter_ids(value: str) -> list[str]:
    """An OIOXML/EDIFACT predecessor ``lokationsnummer#brevid`` — or, as MedCom's own OIOXML
    reply example writes it, ``brevid#lokationsnummer`` — as ``lokationsnummer#brevid`` (the
    location number is the part of 13 digits); a value without ``#`` as it is."""
    if "#" not in value:
        return [value]
    first, _, second = value.partition("#")
    if second.isdigit() and len(second) == 13 and not (first.isdigit() and len(first) == 13):
        first, second = second, first
    return [f"{first}#{second}"]


def organization_keys(organization: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(system, value) of an Organization's SOR and EAN/GLN identifiers; a GLN under each of
    the three systems dk-core's versions wrote it with (`codes.GLN_SYSTEMS`), whichever the
    message used: a stored Organization may hold it under another."""
    out: list[tuple[str, str]] = []
    for identifier in (organization or {}).get("identifier") or []:
        if not isinstance(identifier, dict):
            continue
        system, value = identifier.get("system"), identifier.get("value")
        if system not in ORGANIZATION_SYSTEMS or not isinstance(value, str) or not value:
            continue
        systems = GLN_SYSTEMS if system in GLN_SYSTEMS else (system,)
        out += [(s, value) for s in systems if (s, value) not in out]
    return out
