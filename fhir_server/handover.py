"""Binding handover by Task (issue 14 item 4; docs/handover.md): what a write of a
ServiceRequest or a Task implies, inside the write's own unit of work.

- **A ServiceRequest to another organization** (status active, an order, one performer that
  is an Organization or a PractitionerRole of one, other than the requester's) hands the request
  over: unless a Task with ``focus`` or ``basedOn`` the request exists once the unit of work's
  writes are done (a transaction may carry its own), the server writes one — ``owner`` the
  receiving organization, ``requester`` the request's, ``intent`` order, ``status``
  requested, ``for`` the patient.
- **Every write of a Task** (create, update, patch; HTTP or Bundle entry) follows the R4 state
  machine (`fhir_server.task_states`): an invalid transition is refused with 422
  ``business-rule`` naming ``Task.status``; rejected, cancelled and failed need a
  ``statusReason``; the owner organization alone (a caller acting for it or for an
  organization it is part of: `fhir_server.access.speaks_for`) receives, accepts, rejects,
  starts, pauses, completes and fails it, the requester alone sends and cancels it (403); the
  requester is fixed once the Task left draft, and the owner while it is requested changes
  only by the requester (re-addressing) or by the organization claiming a Task without owner.
- **Responsibility**: until the owner accepts, it stays with the sender (nothing else
  changes). On acceptance the patient's care team (the teams of the care plans the request is
  based on, else of the patient's active plans, else the patient's active teams) gets the
  owner as a participant responsible for the task from now on — and, when the handover says
  so, as the holder of the medical responsibility for the treatment, the total medication
  included, ending the previous holder's period —, and the care plan an activity performed by
  the owner; both follow the Task until it ends (completed, failed, cancelled, entered in
  error: the participant's period ends, the activity shows the outcome).

The server writes these resources itself (the caller's write was permitted; the team, the plan
and the Task it implies need not be the caller's to write), checked as any write is and in the
same unit of work, so they commit or roll back with the caller's write.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from fhir_server.access import UNRESTRICTED, speaks_for
from fhir_server.errors import Forbidden, Issue, Unprocessable
from fhir_server.interactions.common import every, new_id, searcher
from fhir_server.interactions.context import Context
from fhir_server.references import local_reference
from fhir_server.search.resolve import build_query
from fhir_server.stored import StoredResource
from fhir_server.task_states import (
    ENDED,
    MOVED_BY,
    NEEDS_REASON,
    RESPONSIBLE,
    transition_problem,
)

WATCHED = frozenset({"Task", "ServiceRequest"})
"""The types whose writes `written` must see with the version they replace."""

RESPONSIBILITY = "urn:fhir-server:handover:responsibility"
"""Code system of what a care team participant holds through a handover: ``task`` (carries
out the handed-over task), ``medical`` (the medical responsibility for the treatment, the total
medication included)."""
TASK_EXTENSION = "urn:fhir-server:handover:task"
"""On a CareTeam.participant and a CarePlan.activity: the Task (valueReference) that gave it."""
CARETEAM_ROLE = "http://faellesforloeb.dk/fhir/CodeSystem/ff-careteam-role"
"""The shared care team's roles (profiles/definitions/CodeSystem-ff-careteam-role.json)."""
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"

_ORDERS = frozenset({"order", "original-order", "reflex-order", "filler-order", "instance-order"})
_ACTIVITY_STATUS = {
    "accepted": "scheduled",
    "ready": "scheduled",
    "in-progress": "in-progress",
    "on-hold": "on-hold",
    "completed": "completed",
    "failed": "stopped",
    "cancelled": "cancelled",
    "entered-in-error": "entered-in-error",
}
"""Task status → the CarePlan activity's (care-plan-activity-status)."""
_TASK_ROLE_TEXT = "Ansvar for opgaven (responsible for the handed-over task)"
_MEDICAL_ROLE_TEXT = (
    "Behandlingsansvar, herunder for den samlede medicinering"
    " (medical responsibility, including the total medication)"
)


async def written(ctx: Context, stored: StoredResource, before: StoredResource | None) -> None:
    """What the write of ``stored`` (replacing ``before``, None for a create) implies; called by
    every create, update and patch in its unit of work, after the caller's access check."""
    if stored.deleted or stored.type not in WATCHED:
        return
    if stored.type == "ServiceRequest":
        request_id, request = stored.id, _content(stored)
        # once the unit of work's writes are done: a transaction may carry its own Task
        if _is_handover(request):
            ctx.settling.append(lambda: _hand_over(ctx, request_id))
        elif request.get("status") in _WITHDRAWN:
            ctx.settling.append(lambda: _withdraw(ctx, request_id))
        return
    prior = _content(before) if before is not None and not before.deleted else None
    await _task_written(ctx, _content(stored), prior, stored.id)


# ---- the ServiceRequest's Task -----------------------------------------------------------


def _is_handover(request: dict[str, Any]) -> bool:
    return request.get("status") == "active" and request.get("intent") in _ORDERS


async def _hand_over(ctx: Context, request_id: str) -> None:
    assert ctx.uow is not None
    stored = await ctx.uow.read("ServiceRequest", request_id)
    if stored is None or stored.deleted:
        return
    request = _content(stored)
    patient = _local(ctx, request.get("subject"))
    if not _is_handover(request) or patient is None or patient[0] != "Patient":
        return
    performers = request.get("performer") or []
    if len(performers) != 1:  # several are alternatives: no one owner to hand over to
        return
    receiver = await _organization(ctx, performers[0])
    if receiver is None:
        return
    sender = await _organization(ctx, request.get("requester"))
    if sender is None and ctx.access.acts_for is not None:
        sender = ctx.access.acts_for.removeprefix("Organization/")
    if sender == receiver:
        return
    reference = f"ServiceRequest/{request_id}"
    await ctx.uow.lock("Task")  # two units handing one request over at once must conflict
    for param in ("focus", "based-on"):
        if await _search(ctx, "Task", [(param, reference)], limit=1):
            return  # it came with its Task
    task = _task_for(request, reference, f"Organization/{receiver}")
    checked = ctx.services.checks.check_resource("Task", task)
    await ctx.uow.write("Task", new_id(), checked, method="POST", minted=True)


_WITHDRAWN = frozenset({"completed", "revoked", "entered-in-error"})
_FINAL = frozenset({"rejected", "cancelled", "completed", "failed", "entered-in-error"})


async def _withdraw(ctx: Context, request_id: str) -> None:
    """The request ended: its open Tasks follow. Revoked (the placer no longer wants it),
    every open one is cancelled; entered in error, marked so; completed, those the owner has
    not taken on are cancelled (the ones it has are its to complete). Each with the reason."""
    assert ctx.uow is not None
    stored = await ctx.uow.read("ServiceRequest", request_id)
    status = _content(stored).get("status") if stored is not None and not stored.deleted else None
    if status not in _WITHDRAWN:
        return
    reference = f"ServiceRequest/{request_id}"
    found = {
        t.id: t for p in ("focus", "based-on") for t in await _search(ctx, "Task", [(p, reference)])
    }
    new = "entered-in-error" if status == "entered-in-error" else "cancelled"
    reason = {"text": f"Anmodningen er {_REQUEST_STATUS_TEXT[status]} (the request was {status})"}
    for task in found.values():
        content = _content(task)
        old = str(content.get("status"))
        if old in _FINAL or (status == "completed" and old in RESPONSIBLE):
            continue
        changed = {**content, "status": new, "statusReason": reason, "lastModified": _now()}
        await _replace(ctx, task, changed)
        if old in RESPONSIBLE:
            await _follow(ctx, task.id, new)


_REQUEST_STATUS_TEXT = {
    "completed": "afsluttet",
    "revoked": "tilbagekaldt",
    "entered-in-error": "registreret ved en fejl",
}


def _task_for(request: dict[str, Any], reference: str, owner: str) -> dict[str, Any]:
    now = _now()
    task: dict[str, Any] = {
        "resourceType": "Task",
        "basedOn": [{"reference": reference}],
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": TASK_CODE, "code": "fulfill"}]},
        "focus": {"reference": reference},
        "for": request["subject"],
        "authoredOn": now,
        "lastModified": now,
        "owner": {"reference": owner},
    }
    if request.get("priority") in ("routine", "urgent", "asap", "stat"):
        task["priority"] = request["priority"]
    text = (request.get("code") or {}).get("text")
    if isinstance(text, str) and text:
        task["description"] = text
    if isinstance(request.get("requester"), dict):
        task["requester"] = request["requester"]
    if _transfers_medical(request.get("extension")):
        task["input"] = [_medical_input()]
    return task


def _medical_input() -> dict[str, Any]:
    return {
        "type": {"coding": [{"system": RESPONSIBILITY, "code": "medical"}]},
        "valueBoolean": True,
    }


def _transfers_medical(items: Any) -> bool:
    """Whether a handover hands the medical responsibility over too: the ServiceRequest's
    extension (or the Task's input) ``RESPONSIBILITY``#medical."""
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        if item.get("url") == RESPONSIBILITY:
            coding = item.get("valueCoding") or {}
            if coding.get("system") == RESPONSIBILITY and coding.get("code") == "medical":
                return True
        codings = (item.get("type") or {}).get("coding") or []
        if item.get("valueBoolean") is True and any(
            c.get("system") == RESPONSIBILITY and c.get("code") == "medical" for c in codings
        ):
            return True
    return False


# ---- the Task's state machine and parties ------------------------------------------------


def _rule(message: str, element: str) -> Unprocessable:
    return Unprocessable(message, issues=[Issue("business-rule", message, (element,))])


async def _task_written(
    ctx: Context, task: dict[str, Any], prior: dict[str, Any] | None, id_: str
) -> None:
    status = str(task.get("status"))
    old = None if prior is None else str(prior.get("status"))
    if old is not None:
        problem = transition_problem(old, status)
        if problem is not None:
            raise _rule(problem, "Task.status")
        await _check_parties(ctx, prior or {}, task, old)
    if status != old:
        if status in NEEDS_REASON and not _has_reason(task):
            raise _rule(f"A Task becomes {status!r} only with a statusReason", "Task.statusReason")
        # a create names its parties as a claim in the body, asked (as a MedCom sender is) of a
        # caller bound to an organization only: one bound to none (a platform client loading
        # records) is not asked; moving a Task is acting as a party, asked of every caller
        if old is not None or ctx.access.acts_for is not None:
            await _check_mover(ctx, prior or task, task, status)
    if old is None or status == old:
        return
    if status in RESPONSIBLE and old not in RESPONSIBLE:
        await _take_on(ctx, task, id_, status)
    elif old in RESPONSIBLE:
        await _follow(ctx, id_, status)


def _has_reason(task: dict[str, Any]) -> bool:
    reason = task.get("statusReason")
    return isinstance(reason, dict) and bool(reason.get("text") or reason.get("coding"))


async def _check_mover(
    ctx: Context, prior: dict[str, Any], task: dict[str, Any], status: str
) -> None:
    """403 unless the caller may move the Task into ``status`` (`task_states.MOVED_BY`); a
    Task created in a requester's status (draft, requested) is anyone's to create, and a Task
    naming no owner (requester) is no handover: anyone who may write it makes the owner's
    (requester's) moves."""
    party = MOVED_BY.get(status)
    if party is None or (party == "requester" and prior is task):
        return
    # the owner as it was (a claim of a Task without one: the new owner)
    owner = prior.get("owner") or task.get("owner")
    sides = {"owner": ("owner",), "requester": ("requester",), "either": ("owner", "requester")}
    for side in sides[party]:
        held = owner if side == "owner" else prior.get("requester")
        if held is None:  # no such party: no handover to protect on this side
            return
        if await speaks_for(ctx.access, ctx, await _organization(ctx, held)):
            return
    who = {"owner": "the owner", "requester": "the requester", "either": "the requester or owner"}
    raise Forbidden(
        f"Only {who[party]} of the Task (a caller acting for that organization or one in its"
        f" partOf line) may make it {status!r}",
        ["Task.status"],
    )


async def _check_parties(
    ctx: Context, prior: dict[str, Any], task: dict[str, Any], old: str
) -> None:
    """The requester is fixed once the Task left draft; the owner changes only while the Task
    is draft or requested, by the requester (re-addressing it) or, for a Task without one, by
    the organization claiming it."""
    if task.get("requester") != prior.get("requester") and old != "draft":
        raise _rule("The requester of a Task cannot change once it was sent", "Task.requester")
    if task.get("owner") == prior.get("owner"):
        return
    if old not in ("draft", "requested"):
        raise _rule(f"The owner of a Task cannot change once it is {old!r}", "Task.owner")
    claim = prior.get("owner") is None and await speaks_for(
        ctx.access, ctx, await _organization(ctx, task.get("owner"))
    )
    requester = prior.get("requester")
    if claim or requester is None:  # a Task naming no requester: anyone's to re-address
        return
    if await speaks_for(ctx.access, ctx, await _organization(ctx, requester)):
        return
    raise Forbidden(
        "Only the requester of the Task may address it to another owner", ["Task.owner"]
    )


# ---- responsibility on the care team and the care plan -----------------------------------


async def _take_on(ctx: Context, task: dict[str, Any], id_: str, status: str) -> None:
    patient = _local(ctx, task.get("for"))
    owner = task.get("owner")
    if patient is None or patient[0] != "Patient" or not isinstance(owner, dict):
        return
    owner = {k: v for k, v in owner.items() if k in ("reference", "display")}
    now, link = _now(), _link(id_)
    request = await _request_of(ctx, task)
    plans = await _plans(ctx, request, patient[1])
    medical = _transfers_medical(task.get("input")) or (
        request is not None and _transfers_medical(request.get("extension"))
    )
    for team in await _teams(ctx, plans, patient[1]):
        content = _content(team)
        participants = list(content.get("participant") or [])
        if medical:
            for p in participants:
                if _holds(p, CARETEAM_ROLE, "patient-responsible-doctor") and not _ended(p):
                    p["period"] = {**(p.get("period") or {}), "end": now}
        participants.append(_participant(owner, "task", "member", _TASK_ROLE_TEXT, link, now))
        if medical:
            participants.append(
                _participant(
                    owner, "medical", "patient-responsible-doctor", _MEDICAL_ROLE_TEXT, link, now
                )
            )
        await _replace(ctx, team, {**content, "participant": participants})
    code = (request or {}).get("code") or task.get("code")
    description = task.get("description") or (code or {}).get("text") or "Overdraget opgave"
    detail: dict[str, Any] = {
        "kind": "ServiceRequest" if request is not None else "Task",
        "status": _ACTIVITY_STATUS[status],
        "description": description,
        "performer": [owner],
    }
    if isinstance(code, dict):
        detail["code"] = code
    for plan in plans:
        content = _content(plan)
        activities = [*(content.get("activity") or []), {"extension": [link], "detail": detail}]
        await _replace(ctx, plan, {**content, "activity": activities})


async def _follow(ctx: Context, id_: str, status: str) -> None:
    """The Task moved on after acceptance: its care plan activities show how far it came; when
    it ended, so does its owner's responsibility for the task on the care team (a medical
    responsibility handed over stays: it outlives the task)."""
    reference = f"Task/{id_}"
    now = _now()
    for type_ in ("CarePlan", "CareTeam"):
        for stored in await _linked(ctx, type_, reference):
            content = _content(stored)
            changed = False
            if type_ == "CarePlan":
                for activity in content.get("activity") or []:
                    if _links(activity, reference):
                        activity.setdefault("detail", {})["status"] = _ACTIVITY_STATUS[status]
                        changed = True
            elif status in ENDED:
                for p in content.get("participant") or []:
                    if _links(p, reference) and _holds(p, RESPONSIBILITY, "task") and not _ended(p):
                        p["period"] = {**(p.get("period") or {}), "end": now}
                        changed = True
            if changed:
                await _replace(ctx, stored, content)


def _participant(
    member: dict[str, Any], holds: str, role: str, text: str, link: dict[str, Any], start: str
) -> dict[str, Any]:
    return {
        "extension": [link],
        "role": [
            {
                "coding": [
                    {"system": CARETEAM_ROLE, "code": role},
                    {"system": RESPONSIBILITY, "code": holds},
                ],
                "text": text,
            }
        ],
        "member": member,
        "period": {"start": start},
    }


def _link(id_: str) -> dict[str, Any]:
    return {"url": TASK_EXTENSION, "valueReference": {"reference": f"Task/{id_}"}}


def _links(element: Any, reference: str) -> bool:
    return isinstance(element, dict) and any(
        isinstance(e, dict)
        and e.get("url") == TASK_EXTENSION
        and (e.get("valueReference") or {}).get("reference") == reference
        for e in element.get("extension") or []
    )


def _holds(participant: dict[str, Any], system: str, code: str) -> bool:
    return any(
        c.get("system") == system and c.get("code") == code
        for role in participant.get("role") or []
        for c in role.get("coding") or []
    )


def _ended(participant: dict[str, Any]) -> bool:
    return bool((participant.get("period") or {}).get("end"))


async def _request_of(ctx: Context, task: dict[str, Any]) -> dict[str, Any] | None:
    """The ServiceRequest the Task carries out (``focus``, else ``basedOn``), if live."""
    for ref in [task.get("focus"), *(task.get("basedOn") or [])]:
        found = _local(ctx, ref)
        if found is not None and found[0] == "ServiceRequest":
            stored = await ctx.read(*found)
            if stored is not None and not stored.deleted:
                return _content(stored)
    return None


async def _plans(
    ctx: Context, request: dict[str, Any] | None, patient: str
) -> list[StoredResource]:
    named = [_local(ctx, r) for r in (request or {}).get("basedOn") or []]
    plans = []
    for found in named:
        if found is not None and found[0] == "CarePlan":
            stored = await ctx.read(*found)
            if stored is None or stored.deleted:
                continue
            if _content(stored).get("status") in ("active", "on-hold"):
                plans.append(stored)
    if plans:
        return plans
    return await _search(ctx, "CarePlan", [("subject", f"Patient/{patient}"), ("status", "active")])


async def _teams(ctx: Context, plans: list[StoredResource], patient: str) -> list[StoredResource]:
    teams: dict[str, StoredResource] = {}
    for plan in plans:
        for ref in _content(plan).get("careTeam") or []:
            found = _local(ctx, ref)
            if found is None or found[0] != "CareTeam" or found[1] in teams:
                continue
            stored = await ctx.read(*found)
            if stored is None or stored.deleted:
                continue
            if _content(stored).get("status") in ("proposed", "active"):
                teams[found[1]] = stored
    if teams:
        return list(teams.values())
    return await _search(ctx, "CareTeam", [("subject", f"Patient/{patient}"), ("status", "active")])


async def _linked(ctx: Context, type_: str, reference: str) -> list[StoredResource]:
    """The ``type_`` resources (CarePlan, CareTeam) whose activity or participant names the
    Task ``reference`` through `TASK_EXTENSION` (found through the Task's patient)."""
    assert ctx.uow is not None
    task = await ctx.uow.read("Task", reference.split("/", 1)[1])
    patient = _local(ctx, _content(task).get("for")) if task is not None else None
    if patient is None or patient[0] != "Patient":
        return []
    found = await _search(ctx, type_, [("subject", f"Patient/{patient[1]}")])
    key = "activity" if type_ == "CarePlan" else "participant"
    return [s for s in found if any(_links(e, reference) for e in _content(s).get(key) or [])]


async def _replace(ctx: Context, current: StoredResource, content: dict[str, Any]) -> None:
    """A new version of ``current``, checked as any write is, guarded by its version."""
    assert ctx.uow is not None
    checked = ctx.services.checks.check_resource(current.type, content)
    await ctx.uow.write(current.type, current.id, checked, method="PUT", if_match=current.version)


# ---- small readers -----------------------------------------------------------------------


def _content(stored: StoredResource | None) -> dict[str, Any]:
    if stored is None or not stored.content:
        return {}
    loaded = orjson.loads(stored.content)
    return loaded if isinstance(loaded, dict) else {}


def _local(ctx: Context, ref: Any) -> tuple[str, str] | None:
    return local_reference(ref, ctx.base_url)


async def _organization(ctx: Context, ref: Any) -> str | None:
    """The id of the Organization a reference names: the Organization itself, or a
    PractitionerRole's organization; None for anything else."""
    found = _local(ctx, ref)
    if found is None:
        return None
    if found[0] == "Organization":
        return found[1]
    if found[0] != "PractitionerRole":
        return None
    stored = await ctx.read(*found)
    role = _local(ctx, _content(stored).get("organization")) if stored else None
    return role[1] if role is not None and role[0] == "Organization" else None


async def _search(
    ctx: Context, type_: str, pairs: Iterable[tuple[str, str]], limit: int = 1000
) -> list[StoredResource]:
    """Every ``type_`` matching ``pairs``, as the server sees them (in the unit of work)."""
    server = Context(
        ctx.store, ctx.settings, UNRESTRICTED, ctx.base_url, uow=ctx.uow, services=ctx.services
    )
    query = await build_query(
        searcher(server),
        type_,
        list(pairs),
        params=ctx.params,
        default_count=limit,
        max_count=max(limit, 1000),
        base=ctx.base_url,
    )
    return await every(server, query)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
