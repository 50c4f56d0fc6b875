"""Terminology over the bundled CodeSystems and ValueSets (stdlib only, no I/O after loading)."""

from profiles.terminology.expansion import Concept, NotExpandable
from profiles.terminology.service import (
    CodeLookup,
    CodeValidation,
    NotEnumerable,
    Terminology,
    TerminologyError,
    UnknownCodeSystem,
    UnknownValueSet,
    ValueSetContent,
)

__all__ = [
    "CodeLookup",
    "CodeValidation",
    "Concept",
    "NotEnumerable",
    "NotExpandable",
    "Terminology",
    "TerminologyError",
    "UnknownCodeSystem",
    "UnknownValueSet",
    "ValueSetContent",
]
