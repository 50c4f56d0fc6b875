"""The R4 Task state machine table (`fhir_server.task_states`) keeps the specification's shape:
every status has its row, nothing leads back to draft, entered-in-error is open to all and ends
everything, the terminal statuses lead nowhere else, and a party moves a Task into every status
that can be reached. (Every transition over HTTP: tests/auth/test_handover.py.)"""

from __future__ import annotations

from fhir_server.task_states import (
    MOVED_BY,
    STATUSES,
    TRANSITIONS,
    invalid_transitions,
    transition_problem,
    valid_transitions,
)

TERMINAL = ("rejected", "cancelled", "completed", "failed")


def test_every_status_has_its_row_and_nothing_else() -> None:
    assert set(TRANSITIONS) == set(STATUSES)
    assert all(targets <= set(STATUSES) for targets in TRANSITIONS.values())


def test_entered_in_error_is_open_to_all_and_ends_everything() -> None:
    assert all("entered-in-error" in TRANSITIONS[s] for s in STATUSES if s != "entered-in-error")
    assert TRANSITIONS["entered-in-error"] == frozenset()


def test_terminal_statuses_lead_only_to_entered_in_error() -> None:
    for status in TERMINAL:
        assert TRANSITIONS[status] == frozenset({"entered-in-error"}), status


def test_nothing_leads_back_to_draft_and_a_party_moves_into_every_other() -> None:
    reached = {b for _, b in valid_transitions()}
    assert "draft" not in reached
    assert reached <= set(MOVED_BY)


def test_the_pairs_partition_and_a_same_status_write_is_no_transition() -> None:
    pairs = len(STATUSES) * (len(STATUSES) - 1)
    assert len(valid_transitions()) + len(invalid_transitions()) == pairs
    assert all(transition_problem(s, s) is None for s in STATUSES)
    assert transition_problem("requested", "completed") is not None
    assert transition_problem("requested", "accepted") is None
