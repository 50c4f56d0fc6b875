"""The fuzzers' invariant is not vacuous: it flags what it must, and the known-defect list
tolerates only its own shapes."""

from __future__ import annotations

import pytest

from tests.fuzz.harness import Finding, outcome_problem
from tests.fuzz.known import owner

OUTCOME = b'{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid"}]}'
JSON = "application/fhir+json; charset=utf-8"


@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [
        (500, JSON, OUTCOME),
        (503, JSON, OUTCOME),
        (404, "text/html", b"<h1>Not found</h1>"),
        (400, JSON, b"{"),
        (400, JSON, b'{"resourceType":"Bundle"}'),
        (400, JSON, b'{"resourceType":"OperationOutcome","issue":[]}'),
        (422, JSON, b'{"resourceType":"OperationOutcome","issue":[{"code":"invalid"}]}'),
    ],
)
def test_broken_answers_are_flagged(status: int, content_type: str, body: bytes) -> None:
    assert outcome_problem(status, content_type, body) is not None


@pytest.mark.parametrize(("status", "body"), [(200, b"{}"), (201, b"{}"), (400, OUTCOME)])
def test_good_answers_pass(status: int, body: bytes) -> None:
    assert outcome_problem(status, JSON, body) is None


def _finding(method: str, url: str, body: bytes | None = None, status: int = 500) -> Finding:
    return Finding("server error", method, url, {}, body, status, OUTCOME)


def test_no_defect_is_tolerated_once_fixed() -> None:
    """The shapes issue 10 fixed are server errors of nobody's: the run fails on them again."""
    assert owner(_finding("GET", "http://t/fhir/Patient/x/_history/%C2%B2")) is None
    assert owner(_finding("POST", "http://t/fhir/Patient", b'{"contained": 1}')) is None
