"""The narrative every resource of an outbound MedCom message carries (MedCom's governance §5:
every resource but the Bundle has ``text`` with status ``generated``; it shows the resource's
id, its references as ids and every element with the ``SHALL:in-narrative`` obligation; Danish
terms with the English beside them; plain HTML, never base64 attachments)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from medcom.codes import CC_CATEGORY_DANISH

Row = tuple[str, str, str]
"""(Danish label, English label, value as text)."""

_TITLES = {
    "MessageHeader": ("Meddelelseshoved", "Message header"),
    "Patient": ("Borger", "Patient"),
    "Organization": ("Organisation", "Organization"),
    "Practitioner": ("Sundhedsperson", "Practitioner"),
    "PractitionerRole": ("Sundhedspersons rolle", "Practitioner role"),
    "Communication": ("Korrespondancemeddelelse", "CareCommunication"),
    "Provenance": ("Meddelelseshistorik", "Provenance"),
    "Encounter": ("Sygehusophold", "Hospital stay"),
}


def narrate(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` with its narrative set (generated from what it holds now: call last)."""
    type_ = resource["resourceType"]
    danish, english = _TITLES.get(type_, (type_, type_))
    rows: list[Row] = [("Id", "Id", str(resource.get("id", "")))]
    rows += _ROWS.get(type_, _nothing)(resource)
    body = "".join(
        f"<tr><td>{escape(da)} / {escape(en)}</td><td>{_text(value)}</td></tr>"
        for da, en, value in rows
        if value
    )
    resource["text"] = {
        "status": "generated",
        "div": (
            '<div xmlns="http://www.w3.org/1999/xhtml">'
            f"<p><b>{escape(danish)} / {escape(english)}</b></p>"
            f"<table>{body}</table></div>"
        ),
    }
    return resource


def _text(value: str) -> str:
    """Escaped, line breaks kept as ``<br/>``."""
    return "<br/>".join(escape(line) for line in value.split("\n"))


def _nothing(_: dict[str, Any]) -> list[Row]:
    return []


def _ref(value: Any) -> str:
    return str(value.get("reference", "")) if isinstance(value, dict) else ""


def _refs(values: Any) -> str:
    return ", ".join(_ref(v) for v in values or [] if _ref(v))


def _codes(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    codings = concept.get("coding") or []
    parts = [str(c.get("display") or c.get("code", "")) for c in codings]
    return ", ".join(p for p in parts if p) or str(concept.get("text", ""))


def _identifiers(values: Any) -> str:
    return ", ".join(f"{i.get('system', '')}#{i.get('value', '')}" for i in values or [])


def _name(names: Any) -> str:
    for n in names or []:
        return " ".join([*n.get("given", []), n.get("family", "")]).strip() or n.get("text", "")
    return ""


def _header(r: dict[str, Any]) -> list[Row]:
    rows: list[Row] = [
        ("Hændelse", "Event", r.get("eventCoding", {}).get("code", "")),
        ("Afsender", "Sender", _ref(r.get("sender"))),
        ("Kilde-endpoint", "Source endpoint", r.get("source", {}).get("endpoint", "")),
    ]
    for d in r.get("destination", []):
        rows.append(("Modtager", "Receiver", _ref(d.get("receiver"))))
        rows.append(("Modtager-endpoint", "Receiver endpoint", d.get("endpoint", "")))
    rows.append(("Fokus", "Focus", _refs(r.get("focus"))))
    rows.append(("Definition", "Definition", r.get("definition", "")))
    return rows


def _patient(r: dict[str, Any]) -> list[Row]:
    return [
        ("CPR-nummer", "Civil registration number", _identifiers(r.get("identifier"))),
        ("Officielt navn", "Official name", _name(r.get("name"))),
        ("Død", "Deceased", "ja / yes" if r.get("deceasedBoolean") else ""),
    ]


def _organization(r: dict[str, Any]) -> list[Row]:
    return [
        ("Navn", "Name", r.get("name", "")),
        ("SOR-id og EAN-lokationsnummer", "SOR id and EAN", _identifiers(r.get("identifier"))),
    ]


def _practitioner(r: dict[str, Any]) -> list[Row]:
    return [("Navn", "Name", _name(r.get("name")))]


def _role(r: dict[str, Any]) -> list[Row]:
    phones = ", ".join(t.get("value", "") for t in r.get("telecom", []))
    return [
        ("Rolle", "Role", ", ".join(_codes(c) for c in r.get("code", []))),
        ("Sundhedsperson", "Practitioner", _ref(r.get("practitioner"))),
        ("Organisation", "Organization", _ref(r.get("organization"))),
        ("Telefon", "Phone", phones),
    ]


def _communication(r: dict[str, Any]) -> list[Row]:
    category = ""
    for c in r.get("category", []):
        for coding in c.get("coding", []):
            code = coding.get("code", "")
            category = f"{CC_CATEGORY_DANISH.get(code, code)} ({code})"
    rows: list[Row] = [
        ("Tråd-id", "Thread identifier", ", ".join(i.get("value", "") for i in r["identifier"])),
        ("Status", "Status", r.get("status", "")),
        ("Kategori", "Category", category),
        ("Prioritet", "Priority", r.get("priority", "")),
        ("Emne", "Topic", r.get("topic", {}).get("text", "")),
        ("Borger", "Patient", _ref(r.get("subject"))),
        ("Kontakt", "Encounter", _ref(r.get("encounter"))),
        ("Specifik modtager", "Specific recipient", _refs(r.get("recipient"))),
    ]
    for ext in r.get("extension", []):
        rows.append(("Specifik afsender", "Specific sender", _ref(ext.get("valueReference"))))
    for p in r.get("payload", []):
        rows += _segment(p)
    return rows


def _segment(p: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for ext in p.get("extension", []):
        url = ext.get("url", "")
        if url.endswith("datetime-extension"):
            rows.append(("Dato", "Date", ext.get("valueDateTime", "")))
        elif url.endswith("identifier-extension"):
            rows.append(("Segment-id", "Segment id", ext["valueIdentifier"].get("value", "")))
        elif url.endswith("practitioner-extension"):
            rows.append(("Forfatter", "Author", _ref(ext.get("valueReference"))))
        elif url.endswith("contact-extension"):
            rows.append(("Forfatters telefon", "Author phone", ext["valueContactPoint"]["value"]))
    if "contentString" in p:
        rows.append(("Tekst", "Text", p["contentString"]))
    if "contentAttachment" in p:
        rows.append(("Vedhæftet fil", "Attachment", p["contentAttachment"].get("title", "")))
    return rows


def _provenance(r: dict[str, Any]) -> list[Row]:
    entities = ", ".join(f"{e.get('role', '')}: {_what(e)}" for e in r.get("entity", []))
    return [
        ("Mål", "Target", _refs(r.get("target"))),
        ("Tidspunkt", "Occurred", r.get("occurredDateTime", "")),
        ("Registreret", "Recorded", r.get("recorded", "")),
        ("Aktivitet", "Activity", _codes(r.get("activity"))),
        ("Aktør", "Agent", ", ".join(_ref(a.get("who")) for a in r.get("agent", []))),
        ("Tidligere meddelelse og segmenter", "Preceding message and segments", entities),
    ]


def _what(entity: dict[str, Any]) -> str:
    what = entity.get("what", {})
    return _ref(what) or str(what.get("identifier", {}).get("value", ""))


def _encounter(r: dict[str, Any]) -> list[Row]:
    period = r.get("period", {})
    leave = ""
    for ext in r.get("extension", []):
        lp = ext.get("valuePeriod", {})
        leave = f"{lp.get('start', '')} to {lp.get('end', '')}"
    episodes = ", ".join(
        str(e.get("identifier", {}).get("value", "")) for e in r.get("episodeOfCare", [])
    )
    return [
        ("Status", "Status", r.get("status", "")),
        ("Klasse", "Class", str(r.get("class", {}).get("code", ""))),
        ("Borger", "Patient", _ref(r.get("subject"))),
        ("Forløbs-id", "Episode of care identifier", episodes),
        ("Periode", "Period", f"{period.get('start', '')} to {period.get('end', '')}"),
        ("Orlov", "Leave", leave),
        ("Sygehusafdeling", "Service provider", _ref(r.get("serviceProvider"))),
    ]


_ROWS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "MessageHeader": _header,
    "Patient": _patient,
    "Organization": _organization,
    "Practitioner": _practitioner,
    "PractitionerRole": _role,
    "Communication": _communication,
    "Provenance": _provenance,
    "Encounter": _encounter,
}
