"""The compiled form of a StructureDefinition: what the walker checks at each JSON property.

A :class:`ComplexRule` describes one JSON object (a resource, a data type, a backbone element):
its properties by JSON name (choice elements under every ``valueQuantity``-style name, primitives
also under ``_name``), the elements that must be present and the invariants on the object itself.
Rules for the R4 base are *strict* (every property must be known, every primitive is checked);
rules for a profile hold only what the profile adds to the base, so the profile pass visits only
constrained elements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from profiles.validation.context import Context
    from profiles.validation.fhirpath import Expression

# A check on one value: None when fine, else (issue code, message)
ValueCheck = Callable[[Any, "Context"], "tuple[str, str] | None"]
# A slice discriminator test: (value, its JSON name, context) → does the value belong to the slice
Matcher = Callable[[Any, str, "Context"], bool]


@dataclass(slots=True, eq=False)
class Invariant:
    key: str
    severity: str
    human: str
    profile: str | None
    expression: Expression | None = None
    native: Callable[[Any, Context], bool | str | None] | None = None
    # holds trivially when any of these properties is absent from the focus object
    guard: tuple[str, ...] = ()


@dataclass(slots=True, eq=False)
class TypeRule:
    """One allowed type of an element, under its JSON name."""

    code: str
    key: str
    primitive: Callable[[Any], tuple[str, str] | None] | None = None
    complex: ComplexRule | None = None
    resource: bool = False
    extension: bool = False
    profiles: tuple[str, ...] = ()
    checks: tuple[ValueCheck, ...] = ()
    invariants: tuple[Invariant, ...] = ()
    # a primitive with nothing but its format to check (set by ElementRule.seal)
    bare: bool = False

    def active(self) -> bool:
        return bool(
            self.primitive
            or self.complex
            or self.resource
            or self.extension
            or self.profiles
            or self.checks
            or self.invariants
        )


@dataclass(slots=True, eq=False)
class ElementRule:
    path: str
    name: str
    min: int
    max: int | None
    profile: str | None
    array: bool = False
    choice: bool = False
    check_min: bool = False
    check_max: bool = False
    types: dict[str, TypeRule] = field(default_factory=dict)
    disallowed: dict[str, str] = field(default_factory=dict)
    checks: tuple[ValueCheck, ...] = ()
    invariants: tuple[Invariant, ...] = ()
    slicing: Slicing | None = None
    required_keys: tuple[str, ...] = ()
    presence_keys: tuple[str, ...] = ()
    count_check: bool = False

    def seal(self) -> None:
        """Derive what the walker reads on every value: the JSON names that make the element
        present, and whether counting values can find anything (a single value always meets
        min 1 and max 1; the JSON shape check covers a second value of a non-repeating one)."""
        keys = [*self.types, *self.disallowed]
        self.presence_keys = tuple(k for key in keys for k in (key, "_" + key))
        self.count_check = (self.check_min and self.min > 1) or (
            self.check_max and self.max is not None and (self.array or self.max == 0)
        )
        for t in self.types.values():
            rules = self.checks or self.invariants or t.checks or t.invariants
            t.bare = t.primitive is not None and not rules

    def active(self) -> bool:
        return bool(
            (self.check_min and self.min > 0)
            or self.check_max
            or self.disallowed
            or self.checks
            or self.invariants
            or self.slicing
            or self.required_keys
            or any(t.active() for t in self.types.values())
        )

    def needs_presence_check(self) -> bool:
        slices_required = self.slicing is not None and any(
            s.rule.min > 0 for s in self.slicing.slices
        )
        return (self.check_min and self.min > 0) or slices_required or bool(self.required_keys)


@dataclass(slots=True, eq=False)
class ComplexRule:
    path: str
    strict: bool
    profile: str | None
    is_resource: bool = False
    keys: dict[str, tuple[ElementRule, TypeRule | None, bool]] = field(default_factory=dict)
    required: tuple[ElementRule, ...] = ()
    invariants: tuple[Invariant, ...] = ()

    def empty(self) -> bool:
        return not (self.keys or self.required or self.invariants)


@dataclass(slots=True, eq=False)
class Slice:
    name: str
    rule: ElementRule
    matcher: Matcher


@dataclass(slots=True, eq=False)
class Slicing:
    slices: tuple[Slice, ...]
    closed: bool
    open_at_end: bool
    ordered: bool
    description: str
