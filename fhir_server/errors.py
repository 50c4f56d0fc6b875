"""Every error the server reports, mapped to (HTTP status, issue code) in one table.

Handlers raise these; the HTTP layer and the bundle processor turn them into an OperationOutcome,
so a status code is never chosen ad hoc.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Issue:
    code: str
    diagnostics: str
    expression: tuple[str, ...] = ()
    severity: str = "error"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity, "code": self.code}
        out["diagnostics"] = self.diagnostics
        if self.expression:
            out["expression"] = list(self.expression)
        return out


@dataclass
class FhirError(Exception):
    """An error a client can act on. ``issues`` overrides the single-issue default."""

    diagnostics: str
    expression: tuple[str, ...] | list[str] = ()
    issues: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    status = 400
    code = "invalid"

    def __post_init__(self) -> None:
        super().__init__(self.diagnostics)
        if not self.issues:
            self.issues = [Issue(self.code, self.diagnostics, tuple(self.expression))]

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)


MAX_ISSUES = 100
"""Issues one OperationOutcome lists (a refused write, ``$validate``); the validator stops
there too, so neither the response nor the memory behind it grows with the body."""


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [i.to_json() for i in capped(issues)]}


def capped(issues: list[Issue]) -> list[Issue]:
    """At most `MAX_ISSUES` issues, and then one saying how many more there are (a list cut
    by the validator already ends with such an issue)."""
    if len(issues) <= MAX_ISSUES + 1:
        return issues
    more = len(issues) - MAX_ISSUES
    note = f"Only the first {MAX_ISSUES} issues are listed; {more} more are not"
    return [*issues[:MAX_ISSUES], Issue("too-costly", note, (), "information")]


def outcome_bytes(issues: list[Issue]) -> bytes:
    return orjson.dumps(operation_outcome(issues))


class Invalid(FhirError):
    """Malformed request or resource (400)."""


class TooCostly(FhirError):
    """A search the server will not run (too many rows to chain through, a huge ValueSet)."""

    code = "too-costly"


class InvalidStructure(FhirError):
    code = "structure"


class NotSupported(FhirError):
    code = "not-supported"


class NotFound(FhirError):
    status = 404
    code = "not-found"


class UnknownType(FhirError):
    status = 404
    code = "not-supported"


class Gone(FhirError):
    status = 410
    code = "deleted"


class MethodNotAllowed(FhirError):
    status = 405
    code = "not-supported"


class NotAcceptable(FhirError):
    status = 406
    code = "not-supported"


class Conflict(FhirError):
    status = 409
    code = "conflict"


class PreconditionFailed(FhirError):
    status = 412
    code = "conflict"


class MultipleMatches(FhirError):
    status = 412
    code = "multiple-matches"


class TooLarge(FhirError):
    status = 413
    code = "too-long"


class UnsupportedMediaType(FhirError):
    status = 415
    code = "not-supported"


class Unavailable(FhirError):
    """The store is busy beyond its wait (503; http.html lets a client retry)."""

    status = 503
    code = "transient"


class Unprocessable(FhirError):
    status = 422
    code = "processing"


class Forbidden(FhirError):
    status = 403
    code = "forbidden"


class Unauthorized(FhirError):
    """No access token, or one that is not valid (401); ``WWW-Authenticate`` says which."""

    status = 401
    code = "login"
