"""The R4 Task state machine (http://hl7.org/fhir/R4/task.html#statemachine) as data: which
status may follow which, which party moves a Task into each status, and which statuses need a
reason. Pure — no store, no caller — so the table can be read, tested and documented on its
own (docs/handover.md); `fhir_server.handover` applies it to every write of a Task.

The table follows the specification's diagram and notes: a Task starts in draft (or is created
requested, or ready when "request assignment and acceptance is a given"); draft becomes
requested (or ready, once it has its owner); the potential performer receives it, then accepts
or rejects it (or accepts or rejects it at once); an accepted Task becomes ready or is started;
a started Task is paused (on-hold) and resumed, completes or fails, or is stopped back to ready
("an In-progress task can also be stopped, returning it to a Ready state"); "a task in any
non-terminal state may also be Cancelled"; any Task, even a terminal one, may be marked
entered-in-error, and nothing follows that. Rejected, cancelled, completed and failed are
terminal. A write that keeps the status is no transition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

STATUSES: tuple[str, ...] = (
    "draft",
    "requested",
    "received",
    "accepted",
    "rejected",
    "ready",
    "cancelled",
    "in-progress",
    "on-hold",
    "failed",
    "completed",
    "entered-in-error",
)
"""http://hl7.org/fhir/task-status, in the CodeSystem's order."""

_ERROR = "entered-in-error"

TRANSITIONS: Mapping[str, frozenset[str]] = {
    "draft": frozenset({"requested", "ready", "cancelled", _ERROR}),
    "requested": frozenset({"received", "accepted", "rejected", "cancelled", _ERROR}),
    "received": frozenset({"accepted", "rejected", "cancelled", _ERROR}),
    "accepted": frozenset({"ready", "in-progress", "cancelled", _ERROR}),
    "rejected": frozenset({_ERROR}),
    "ready": frozenset({"in-progress", "cancelled", _ERROR}),
    "in-progress": frozenset({"on-hold", "completed", "failed", "ready", "cancelled", _ERROR}),
    "on-hold": frozenset({"in-progress", "failed", "cancelled", _ERROR}),
    "cancelled": frozenset({_ERROR}),
    "failed": frozenset({_ERROR}),
    "completed": frozenset({_ERROR}),
    _ERROR: frozenset(),
}
"""Status → the statuses it may change to (a same-status write is not a transition)."""

Party = Literal["owner", "requester", "either"]

MOVED_BY: Mapping[str, Party] = {
    "requested": "requester",  # sends the draft
    "cancelled": "requester",  # "if the placer cancels a task, it signals they no longer care"
    "received": "owner",
    "accepted": "owner",
    "rejected": "owner",
    "ready": "owner",
    "in-progress": "owner",
    "on-hold": "owner",
    "completed": "owner",
    "failed": "owner",
    _ERROR: "either",  # whoever recorded it in error
}
"""Who moves a Task into each status: the owner (the receiving organization) accepts, rejects,
starts, pauses, completes and fails it; the requester sends and cancels it; either marks it
entered-in-error. (Nothing moves a Task into draft.)"""

NEEDS_REASON: frozenset[str] = frozenset({"rejected", "cancelled", "failed"})
"""Statuses a Task enters only with a ``statusReason``: the other party must learn why the
handover will not be (or was not) carried out."""

RESPONSIBLE: frozenset[str] = frozenset({"accepted", "ready", "in-progress", "on-hold"})
"""Statuses in which the owner has taken on the task (until then it stays with the sender)."""

ENDED: frozenset[str] = frozenset({"completed", "failed", "cancelled", _ERROR})
"""Statuses that end a responsibility the owner had taken on."""


def transition_problem(before: str, after: str) -> str | None:
    """Why a Task may not go from ``before`` to ``after`` (None: it may)."""
    if before == after:
        return None
    allowed = TRANSITIONS.get(before)
    if allowed is None:
        return f"{before!r} is not a Task status"
    if after not in allowed:
        onward = ", ".join(s for s in STATUSES if s in allowed) or "none (it is final)"
        return (
            f"A Task cannot change from {before!r} to {after!r}"
            f" (from {before!r} it may become: {onward})"
        )
    return None


def invalid_transitions() -> list[tuple[str, str]]:
    """Every (before, after) pair of distinct statuses the machine refuses."""
    return [(a, b) for a in STATUSES for b in STATUSES if a != b and b not in TRANSITIONS[a]]


def valid_transitions() -> list[tuple[str, str]]:
    """Every (before, after) pair the machine allows, in the CodeSystem's order."""
    return [(a, b) for a in STATUSES for b in STATUSES if b in TRANSITIONS[a]]
