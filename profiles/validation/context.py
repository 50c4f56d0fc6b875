"""Per-validation state and the checks that only report: JSON shape, counts, missing elements,
invariants. The walker (walker.py) decides where they apply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from profiles.validation.fhirpath import EvaluationError
from profiles.validation.fhirpath.values import to_bool
from profiles.validation.issues import (
    INVARIANT,
    PROCESSING,
    REQUIRED,
    STRUCTURE,
    ValidationIssue,
)
from profiles.validation.rules import ElementRule, Invariant, Slicing

if TYPE_CHECKING:
    from profiles.validation.validator import Validator


class IssueLimit(Exception):
    """Raised by `Context.report` once the issue list is full and holds an error: the verdict
    (invalid) cannot change, so the walk stops (a 5.7 MB body with one bad value per array
    element made 399 MB of issues)."""


class Context:
    """Per-validation state: the issues so far and the resources %resource/%rootResource name.

    With a ``limit``, at most that many distinct issues are kept (``more`` then says some were
    not), an error always among them if there is one."""

    __slots__ = ("errors", "issues", "limit", "more", "resource", "root", "seen", "validator")

    def __init__(self, validator: Validator, resource: Any, limit: int | None = None):
        self.validator = validator
        self.resource = resource
        self.root = resource
        self.issues: list[ValidationIssue] = []
        self.limit = limit
        self.more = False
        self.errors = 0
        self.seen: set[ValidationIssue] = set()

    def report(
        self, code: str, message: str, path: str, profile: str | None, severity: str = "error"
    ) -> None:
        issue = ValidationIssue(severity, code, message, path, profile)
        if self.limit is None:
            self.issues.append(issue)
            return
        if issue in self.seen:
            return
        error = severity in ("error", "fatal")
        if len(self.issues) < self.limit:
            self.seen.add(issue)
            self.issues.append(issue)
        elif error and not self.errors:  # the list is full of warnings: keep this error
            self.issues[-1] = issue
            self.more = True
        else:
            self.more = True
        self.errors += error
        if self.more and self.errors:
            raise IssueLimit


def count_values(element: ElementRule, count: int, epath: str, ctx: Context) -> None:
    if element.check_max and element.max is not None and count > element.max:
        ctx.report(
            STRUCTURE,
            f"{element.path}: at most {element.max} allowed, found {count}",
            epath,
            element.profile,
        )
    if element.check_min and count < element.min:
        ctx.report(
            REQUIRED,
            f"{element.path}: at least {element.min} required, found {count}",
            epath,
            element.profile,
        )


def json_shape(
    element: ElementRule,
    listed: bool,
    items: list[tuple[Any, Any]],
    value: Any,
    extras: Any,
    epath: str,
    ctx: Context,
) -> None:
    """JSON shape of a property (json.html): arrays exactly for repeating elements, no empty
    arrays, no nulls except to align a primitive array with its ``_name`` companion."""
    profile = element.profile
    if listed != element.array:
        if listed:
            message = f"{element.path} is not a repeating element (no array)"
        else:
            message = f"{element.path} repeats: its value must be an array"
        ctx.report(STRUCTURE, message, epath, profile)
    if listed and not items:
        ctx.report(STRUCTURE, "an array must not be empty", epath, profile)
    if (
        extras is not None
        and value is not None
        and isinstance(value, list) != isinstance(extras, list)
    ):
        ctx.report(STRUCTURE, "the value and its '_' companion disagree in shape", epath, profile)
    for i, (item, extra) in enumerate(items):
        if item is None and extra is None:
            where = f"{epath}[{i}]" if listed else epath
            ctx.report(STRUCTURE, "null is not allowed here", where, profile)


def missing(element: ElementRule, path: str, ctx: Context) -> None:
    """None of the element's JSON names is present: its minimum and its slices' minimums."""
    at = f"{path}.{element.name}"
    if element.check_min and element.min > 0:
        ctx.report(
            REQUIRED,
            f"{element.path}: at least {element.min} required, found 0",
            at,
            element.profile,
        )
    if element.slicing is not None:
        for s in element.slicing.slices:
            if s.rule.min > 0:
                ctx.report(
                    REQUIRED,
                    f"{element.path}: slice '{s.name}' requires at least {s.rule.min}, found 0",
                    at,
                    s.rule.profile,
                )


def required_keys(element: ElementRule, obj: dict[str, Any], path: str, ctx: Context) -> None:
    """Type slices with a minimum (``value[x]:valueQuantity`` 1..1) need that JSON name."""
    for key in element.required_keys:
        if key not in obj:
            ctx.report(
                REQUIRED, f"{element.path}: {key} is required", f"{path}.{key}", element.profile
            )


def check_invariant(invariant: Invariant, focus: Any, path: str, ctx: Context) -> None:
    guard = invariant.guard
    if guard and type(focus) is dict:
        for key in guard:
            if key not in focus and "_" + key not in focus:
                return  # the invariant holds trivially without this element
    try:
        native = invariant.native(focus, ctx) if invariant.native is not None else None
        if native is not None:
            ok: bool | str = native
        else:
            assert invariant.expression is not None
            result = invariant.expression.evaluate(focus, ctx.resource, ctx.root)
            ok = to_bool(result) is True
    except EvaluationError as exc:
        ctx.report(
            PROCESSING,
            f"{invariant.key}: the rule could not be evaluated ({exc})",
            path,
            invariant.profile,
        )
        return
    if ok is not True:
        reason = f" ({ok})" if isinstance(ok, str) else ""
        ctx.report(
            INVARIANT,
            f"{invariant.key}: {invariant.human}{reason}",
            path,
            invariant.profile,
            invariant.severity,
        )


def slice_counts(
    element: ElementRule, slicing: Slicing, counts: list[int], epath: str, ctx: Context
) -> None:
    for s, n in zip(slicing.slices, counts, strict=True):
        if n < s.rule.min:
            ctx.report(
                REQUIRED,
                f"{element.path}: slice '{s.name}' requires at least {s.rule.min}, found {n}",
                epath,
                s.rule.profile,
            )
        if s.rule.max is not None and n > s.rule.max:
            ctx.report(
                STRUCTURE,
                f"{element.path}: slice '{s.name}' allows at most {s.rule.max}, found {n}",
                epath,
                s.rule.profile,
            )
