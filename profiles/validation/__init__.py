"""Validation of resources against R4 base definitions and profiles (see
docs/implementation/validation.md)."""

from profiles.validation.issues import ValidationIssue
from profiles.validation.snapshot import ProfileError
from profiles.validation.validator import Validator

__all__ = ["ProfileError", "ValidationIssue", "Validator"]
