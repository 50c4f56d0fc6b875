"""What the validator reports: one OperationOutcome issue per problem.

Issue codes (R4 ValueSet issue-type) by check — one table, so every check reports alike:

| check                                                    | code          |
|----------------------------------------------------------|---------------|
| unknown element, wrong JSON shape, too many values,      | structure     |
| type not allowed, reference to a wrong target type,      |               |
| value in no slice of a closed slicing, slice order       |               |
| missing required element or slice (min cardinality)      | required      |
| primitive format (regex, date), fixed/pattern, maxLength,| value         |
| minValue/maxValue, malformed literal reference           |               |
| code not in a required ValueSet                          | code-invalid  |
| invariant (FHIRPath constraint) false                    | invariant     |
| invariant that could not be evaluated                    | processing    |
| unknown profile, contained resource of an unknown type   | not-supported |
| (information) the list stops at its limit                | too-costly    |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STRUCTURE = "structure"
REQUIRED = "required"
VALUE = "value"
CODE_INVALID = "code-invalid"
INVARIANT = "invariant"
PROCESSING = "processing"
NOT_SUPPORTED = "not-supported"
TOO_COSTLY = "too-costly"
"""Informational: the issue list was cut at its limit."""


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    severity: str
    code: str
    diagnostics: str
    expression: str
    profile: str | None = None

    def to_json(self) -> dict[str, Any]:
        """An ``OperationOutcome.issue``; the failing profile is named in ``diagnostics``."""
        text = self.diagnostics
        if self.profile:
            text += f" (profile {self.profile})"
        out: dict[str, Any] = {"severity": self.severity, "code": self.code, "diagnostics": text}
        if self.expression:
            out["expression"] = [self.expression]
        return out
