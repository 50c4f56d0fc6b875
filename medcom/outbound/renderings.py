"""The message text of a CareCommunication that renders a record resource (CarePlan,
ServiceRequest, a patient's MedicationStatements, CareTeam): what a clinician reading the
message in another system needs to see, in Danish, one fact a line. The structured resource
stays in the sender's record; the message carries its text (CareCommunication 5.0 has no
segment for structured plans, referrals or medication)."""

from __future__ import annotations

from typing import Any


def _concept(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    if value.get("text"):
        return str(value["text"])
    for c in value.get("coding", []):
        if c.get("display") or c.get("code"):
            return str(c.get("display") or c.get("code"))
    return ""


def _period(p: Any) -> str:
    if not isinstance(p, dict) or not (p.get("start") or p.get("end")):
        return ""
    return f"{p.get('start', '')} til {p.get('end', '')}".strip()


def _notes(resource: dict[str, Any]) -> list[str]:
    return [f"Note: {n['text']}" for n in resource.get("note", []) if n.get("text")]


def _lines(*pairs: tuple[str, str]) -> list[str]:
    return [f"{label}: {value}" for label, value in pairs if value]


def care_plan(plan: dict[str, Any]) -> str:
    lines = [f"Forløbsplan (CarePlan/{plan['id']})"]
    lines += _lines(
        ("Titel", str(plan.get("title", ""))),
        ("Beskrivelse", str(plan.get("description", ""))),
        ("Status", str(plan.get("status", ""))),
        ("Periode", _period(plan.get("period"))),
        ("Kategori", ", ".join(_concept(c) for c in plan.get("category", []) if _concept(c))),
    )
    for n, activity in enumerate(plan.get("activity", []), 1):
        detail = activity.get("detail", {})
        what = (
            _concept(detail.get("code"))
            or str(detail.get("description", ""))
            or str(activity.get("reference", {}).get("display", ""))
            or str(activity.get("reference", {}).get("reference", ""))
        )
        status = detail.get("status")
        lines.append(f"Aktivitet {n}: {what}" + (f" ({status})" if status else ""))
    lines += _notes(plan)
    return "\n".join(lines)


_PRIORITY_DA = {"routine": "rutine", "urgent": "haster", "asap": "snarest", "stat": "akut"}


def service_request(request: dict[str, Any]) -> str:
    lines = [f"Henvisning (ServiceRequest/{request['id']})"]
    lines += _lines(
        ("Ydelse", _concept(request.get("code"))),
        ("Status", str(request.get("status", ""))),
        ("Prioritet", _PRIORITY_DA.get(str(request.get("priority")), "")),
        ("Bestilt", str(request.get("authoredOn", ""))),
        ("Årsag", ", ".join(_concept(c) for c in request.get("reasonCode", []) if _concept(c))),
        ("Periode", _period(request.get("occurrencePeriod"))),
        ("Tidspunkt", str(request.get("occurrenceDateTime", ""))),
    )
    lines += _notes(request)
    return "\n".join(lines)


def priority(request: dict[str, Any]) -> str:
    """CareCommunication's priority (``routine | asap``) of a ServiceRequest's."""
    return "asap" if request.get("priority") in ("urgent", "asap", "stat") else "routine"


CURRENT = ("active", "intended", "unknown")
"""MedicationStatement statuses of medication the patient takes now."""


def _medication(s: dict[str, Any]) -> str:
    name = _concept(s.get("medicationCodeableConcept")) or str(
        s.get("medicationReference", {}).get("display", "")
    )
    dosage = "; ".join(d["text"] for d in s.get("dosage", []) if d.get("text"))
    return name + (f", {dosage}" if dosage else "")


def medication_list(statements: list[dict[str, Any]]) -> str:
    """Current medication, then what changed (stopped, paused, completed, corrected) and why
    (``statusReason``, notes)."""
    current = [s for s in statements if s.get("status") in CURRENT]
    changed = [s for s in statements if s.get("status") not in CURRENT]
    lines = ["Aktuel medicin:"]
    lines += [f"- {_medication(s)} (MedicationStatement/{s['id']})" for s in current] or ["- ingen"]
    if changed:
        lines.append("Ændringer:")
    for s in changed:
        why = ", ".join(_concept(c) for c in s.get("statusReason", []) if _concept(c))
        notes = "; ".join(n["text"] for n in s.get("note", []) if n.get("text"))
        reason = "; ".join(x for x in (why, notes) if x)
        lines.append(
            f"- {_medication(s)}: {s.get('status', '')}"
            + (f", årsag: {reason}" if reason else "")
            + f" (MedicationStatement/{s['id']})"
        )
    return "\n".join(lines)


def care_team(team: dict[str, Any]) -> str:
    lines = [f"Behandlerteam (CareTeam/{team['id']})"]
    lines += _lines(
        ("Navn", str(team.get("name", ""))),
        ("Status", str(team.get("status", ""))),
        ("Periode", _period(team.get("period"))),
    )
    for p in team.get("participant", []):
        role = ", ".join(_concept(r) for r in p.get("role", []) if _concept(r))
        member = p.get("member", {})
        who = member.get("display") or member.get("reference", "")
        lines.append(f"Deltager: {who}" + (f" ({role})" if role else ""))
    for org in team.get("managingOrganization", []):
        lines.append(f"Ansvarlig organisation: {org.get('display') or org.get('reference', '')}")
    lines += _notes(team)
    return "\n".join(lines)
