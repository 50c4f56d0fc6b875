"""Validation of resources against R4 base definitions and profiles (see
docs/implementation/validation.md)."""

from profiles.validation.fhirpath import EvaluationError, Expression
from profiles.validation.issues import ValidationIssue
from profiles.validation.snapshot import ProfileError
from profiles.validation.validator import Validator

__all__ = [
    "EvaluationError",
    "Expression",
    "ProfileError",
    "ValidationIssue",
    "Validator",
    "compile_fhirpath",
]


def compile_fhirpath(text: str, base: str | None = None) -> Expression:
    """``text`` compiled by the server's one FHIRPath engine — the validator's: closures where
    the compiler holds, fhirpathpy (with the same added functions and the R4 model) where it
    does not — used by invariants, search indexing and FHIRPath Patch alike. ``base`` names the
    focus type when it is not a resource (``Observation.component``). Cached per (text, base);
    `Expression.evaluate` raises `EvaluationError` for input it cannot evaluate."""
    return Validator.default().fhirpath.compile(text, base)
