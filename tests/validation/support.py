"""Helpers for the validation tests: issues as comparable tuples, a narrative to silence dom-6."""

from __future__ import annotations

from typing import Any

from profiles.validation import ValidationIssue, Validator

EX = "http://example.org/fhir/StructureDefinition/"
NARRATIVE = {
    "status": "generated",
    "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>Test</p></div>',
}


def resource(resource_type: str, /, **elements: Any) -> dict[str, Any]:
    """A resource with narrative (so dom-6 stays quiet) and the given elements."""
    return {"resourceType": resource_type, "text": NARRATIVE, **elements}


def issues(
    validator: Validator, res: dict[str, Any], *profiles: str
) -> set[tuple[str, str, str, str | None]]:
    """(severity, code, expression, profile id) of every issue."""
    return {_key(i) for i in validator.validate(res, [EX + p for p in profiles])}


def errors(validator: Validator, res: dict[str, Any], *profiles: str) -> list[ValidationIssue]:
    return [i for i in validator.validate(res, [EX + p for p in profiles]) if i.severity == "error"]


def _key(issue: ValidationIssue) -> tuple[str, str, str, str | None]:
    profile = issue.profile.rsplit("/", 1)[-1] if issue.profile else None
    return issue.severity, issue.code, issue.expression, profile
