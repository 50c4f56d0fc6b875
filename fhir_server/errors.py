"""Every error the server reports, and `ANSWERS`: the one table mapping each kind of error to its
HTTP status, issue code and headers.

Errors are values: handlers raise them with what went wrong (the methods allowed, the seconds to
wait, why a token was refused), never with HTTP headers; the HTTP layer (`http/respond.py`) and
the Bundle processor answer them from the table, so a status or header is never chosen ad hoc.
"""

from __future__ import annotations

from collections.abc import Callable
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

    def __post_init__(self) -> None:
        super().__init__(self.diagnostics)
        if not self.issues:
            self.issues = [Issue(self.code, self.diagnostics, tuple(self.expression))]

    @property
    def status(self) -> int:
        return answer(self).status

    @property
    def code(self) -> str:
        """The issue code of the single-issue default."""
        return answer(self).code

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


class InvalidStructure(FhirError):
    pass


class NotSupported(FhirError):
    pass


class NotFound(FhirError):
    pass


class UnknownType(FhirError):
    pass


class Gone(FhirError):
    pass


@dataclass
class MethodNotAllowed(FhirError):
    allowed: tuple[str, ...] = ()
    """The methods that are allowed instead (the ``Allow`` header)."""


class NotAcceptable(FhirError):
    pass


class Conflict(FhirError):
    pass


@dataclass
class UnresolvedReference(FhirError):
    """A write's reference to a local resource that does not exist, is deleted or that the
    writer may not read (400, ``processing``, naming the element; referential integrity).
    ``sources``: the (type, id) of the written resource each issue is about, in issue order, so
    a transaction can name its entry."""

    sources: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class StillReferenced(FhirError):
    """A delete of a resource that current versions of others still reference (409, naming
    them; referential integrity). ``targets``: the (type, id) each issue is about."""

    targets: list[tuple[str, str]] = field(default_factory=list)


class PreconditionFailed(FhirError):
    pass


class MultipleMatches(FhirError):
    pass


class TooLarge(FhirError):
    pass


class UnsupportedMediaType(FhirError):
    pass


@dataclass
class Unavailable(FhirError):
    """The store is busy beyond its wait (503; http.html lets a client retry)."""

    retry_after: int = 1
    """Seconds after which a retry may succeed (``Retry-After``)."""


class Unprocessable(FhirError):
    pass


class Forbidden(FhirError):
    pass


@dataclass
class Unauthorized(FhirError):
    """No access token, or one that is not valid (401)."""

    token_error: str | None = None
    """RFC 6750's error code (``invalid_token``) when a token was sent but refused; None when
    none was sent (then the challenge names no error, RFC 6750 §3.1)."""


REALM = "fhir"
"""The realm of the server's bearer-token challenge (``WWW-Authenticate``)."""


def _challenge(err: Unauthorized) -> dict[str, str]:
    challenge = f'Bearer realm="{REALM}"'
    if err.token_error is not None:
        description = err.diagnostics.replace('"', "'")
        challenge += f', error="{err.token_error}", error_description="{description}"'
    return {"WWW-Authenticate": challenge}


@dataclass(frozen=True, slots=True)
class Answer:
    """How one kind of error is answered: status, issue code and the headers its values give."""

    status: int
    code: str
    headers: Callable[[Any], dict[str, str]] | None = None


ANSWERS: dict[type[FhirError], Answer] = {
    FhirError: Answer(400, "invalid"),
    Invalid: Answer(400, "invalid"),
    TooCostly: Answer(400, "too-costly"),
    InvalidStructure: Answer(400, "structure"),
    NotSupported: Answer(400, "not-supported"),
    Unauthorized: Answer(401, "login", _challenge),
    Forbidden: Answer(403, "forbidden"),
    NotFound: Answer(404, "not-found"),
    UnknownType: Answer(404, "not-supported"),
    MethodNotAllowed: Answer(405, "not-supported", lambda e: {"Allow": ", ".join(e.allowed)}),
    NotAcceptable: Answer(406, "not-supported"),
    Conflict: Answer(409, "conflict"),
    Gone: Answer(410, "deleted"),
    UnresolvedReference: Answer(400, "processing"),
    StillReferenced: Answer(409, "processing"),
    PreconditionFailed: Answer(412, "conflict"),
    MultipleMatches: Answer(412, "multiple-matches"),
    TooLarge: Answer(413, "too-long"),
    UnsupportedMediaType: Answer(415, "not-supported"),
    Unprocessable: Answer(422, "processing"),
    Unavailable: Answer(503, "transient", lambda e: {"Retry-After": str(e.retry_after)}),
}
"""Error kind → status, issue code, headers: the one place either is chosen."""


def answer(err: FhirError) -> Answer:
    """The row of ``err``'s kind (or of the nearest kind it derives from)."""
    for kind in type(err).__mro__:
        found = ANSWERS.get(kind)
        if found is not None:
            return found
    raise TypeError(f"{type(err).__name__} is not a FhirError")


def error_headers(err: FhirError) -> dict[str, str]:
    """The headers an error's values give (``Allow``, ``Retry-After``, ``WWW-Authenticate``)."""
    make = answer(err).headers
    return make(err) if make is not None else {}
