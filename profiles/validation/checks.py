"""Checks on one element value: fixed/pattern values, required bindings, lengths, limits and
reference targets. Each factory runs at compile time and returns a small closure."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from profiles.terminology import Terminology, TerminologyError
from profiles.validation.fhirpath.values import compare
from profiles.validation.issues import CODE_INVALID, STRUCTURE, VALUE
from profiles.validation.rules import ValueCheck

if TYPE_CHECKING:
    from profiles.validation.context import Context

Problem = tuple[str, str] | None


def _brief(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= 120 else text[:117] + "..."


def matches_pattern(value: Any, pattern: Any) -> bool:
    """FHIR pattern semantics: every property of the pattern is in the value (lists: each
    pattern item matches some value item); primitives are equal."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(k in value and matches_pattern(value[k], p) for k, p in pattern.items())
    if isinstance(pattern, list):
        if not isinstance(value, list):
            return False
        return all(any(matches_pattern(v, p) for v in value) for p in pattern)
    if isinstance(pattern, bool) or isinstance(value, bool):
        return type(pattern) is type(value) and pattern == value
    return bool(value == pattern)


def fixed_check(expected: Any) -> ValueCheck:
    def check(value: Any, ctx: Context) -> Problem:
        same = (type(value) is type(expected) or not isinstance(expected, bool)) and (
            value == expected
        )
        return None if same else (VALUE, f"value must be exactly {_brief(expected)}")

    return check


def pattern_check(expected: Any) -> ValueCheck:
    def check(value: Any, ctx: Context) -> Problem:
        if matches_pattern(value, expected):
            return None
        return VALUE, f"value must match the pattern {_brief(expected)}"

    return check


def max_length_check(limit: int) -> ValueCheck:
    def check(value: Any, ctx: Context) -> Problem:
        if isinstance(value, str) and len(value) > limit:
            return VALUE, f"value is longer than {limit} characters"
        return None

    return check


def limit_check(limit: Any, is_min: bool) -> ValueCheck:
    """minValue[x]/maxValue[x] (numbers, dates, times; Quantities by value in the same unit)."""

    def check(value: Any, ctx: Context) -> Problem:
        try:
            order = compare(value, limit)
        except Exception:
            return None
        if order is None or (order >= 0 if is_min else order <= 0):
            return None
        word = "at least" if is_min else "at most"
        return VALUE, f"value must be {word} {_brief(limit)}"

    return check


def binding_check(terminology: Terminology, value_set: str, type_code: str) -> ValueCheck | None:
    """A required binding, or None when the ValueSet cannot be checked here (documented)."""
    try:
        content = terminology.content(value_set)
    except TerminologyError:
        return None
    if not content.checkable:
        return None
    url = content.url

    def missing(what: str) -> Problem:
        return CODE_INVALID, f"{what} is not in the required value set {url}"

    def none_of(codings: list[Any]) -> Problem:
        shown = ", ".join(_show_coding(c) for c in codings)
        return CODE_INVALID, f"none of the codings ({shown}) is in the required value set {url}"

    def coding_ok(coding: Any) -> bool:
        return (
            isinstance(coding, dict)
            and isinstance(coding.get("code"), str)
            and isinstance(coding.get("system"), str)
            and content.contains(coding["code"], coding["system"]) is True
        )

    if type_code == "CodeableConcept":

        def check_concept(value: Any, ctx: Context) -> Problem:
            codings = value.get("coding") if isinstance(value, dict) else None
            if not isinstance(codings, list) or not codings:
                return CODE_INVALID, f"a coding from the required value set {url} is needed"
            if any(coding_ok(c) for c in codings):
                return None
            return none_of(codings)

        return check_concept
    if type_code in ("Coding", "Quantity"):

        def check_coding(value: Any, ctx: Context) -> Problem:
            return None if coding_ok(value) else missing(f"the code {_show_coding(value)}")

        return check_coding

    def check(value: Any, ctx: Context) -> Problem:
        if not isinstance(value, str) or content.contains(value) is True:
            return None
        return missing(f"the code '{value}'")

    return check


def _show_coding(coding: Any) -> str:
    if not isinstance(coding, dict):
        return "?"
    return f"'{coding.get('system', '')}#{coding.get('code', '')}'"


_LITERAL = re.compile(r"([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?")
_ABSOLUTE = re.compile(
    r"[a-z][a-z0-9+.-]*://.*/([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?"
)


def reference_type(reference: str, root: Any) -> tuple[str | None, str | None]:
    """(the resource type a reference points at or None if unknowable, a problem or None)."""
    if reference.startswith("#"):
        if reference == "#":
            return (root.get("resourceType") if isinstance(root, dict) else None), None
        found = root.get("contained") if isinstance(root, dict) else None
        for contained in found if isinstance(found, list) else []:  # else: a structure issue
            if isinstance(contained, dict) and contained.get("id") == reference[1:]:
                return contained.get("resourceType"), None
        return None, None  # ref-1 reports a dangling local reference
    if reference.startswith(("urn:uuid:", "urn:oid:")):
        return None, None  # resolved inside the Bundle it travels in
    m = _LITERAL.fullmatch(reference)
    if m is not None:
        return m.group(1), None
    m = _ABSOLUTE.fullmatch(reference)
    if m is not None:
        return m.group(1), None
    if "://" in reference or reference.startswith("urn:"):
        return None, None  # an absolute URL that is not a FHIR REST URL: allowed, unknowable
    return None, f"'{reference}' is not a valid reference (expected Type/id, #id or a URL)"


def reference_check(targets: frozenset[str], known_types: frozenset[str]) -> ValueCheck:
    allowed = ", ".join(sorted(targets))

    def check(value: Any, ctx: Context) -> Problem:
        if not isinstance(value, dict):
            return None
        ref = value.get("reference")
        declared = value.get("type")
        target = None
        if isinstance(ref, str):
            target, problem = reference_type(ref, ctx.root)
            if problem:
                return VALUE, problem
            if target is not None and target not in known_types:
                return VALUE, f"'{target}' is not a FHIR R4 resource type"
        if isinstance(declared, str) and "/" not in declared:
            if target is not None and declared != target:
                return STRUCTURE, f"type '{declared}' does not match the reference's '{target}'"
            target = target or declared
        if target is None or target in targets:
            return None
        return STRUCTURE, f"a reference to {target} is not allowed here (allowed: {allowed})"

    return check
