"""Everything a resource must pass before it is stored, in one place for every write path
(HTTP, Bundle entries, patches, ``fhir-server load``).

1. **Structure** — the R4 4.0.1 StructureDefinition of its type, compiled by
   `profiles.validation` (every element known, cardinality, types and choice types, primitive
   formats, JSON types, required bindings, the base invariants): a failure is a 400 naming each
   element (http.html: the resource "failed basic FHIR validation rules"). This replaced
   fhir.resources' R4B models as the write path's structural check: it is R4 itself rather than
   R4B, stricter, and a quarter of the cost (docs/implementation/validation.md).
2. **The rules of its type the store relies on** (a SearchParameter the server can search with).
3. **Profiles** (`FHIR_VALIDATE_PROFILES`, on by default): the profiles it claims in
   ``meta.profile`` and the profile the server requires for its type: a failure is
   a 422 naming the profile, element and rule. The profiles are the bundled ones and those
   in the store (`fhir_server.stored_conformance`); a claimed profile the server does not
   have is a warning (`FHIR_UNKNOWN_PROFILES=accept`, the default) or a 422 (``refuse``).
4. **A StructureDefinition** must be usable by the validator (it compiles; 422 naming the
   element otherwise).

`WriteChecks` holds what a server's settings choose of this; the app makes one
(`fhir_server.services`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fhir_server.config import Settings
from fhir_server.errors import (
    MAX_ISSUES,
    FhirError,
    Invalid,
    InvalidStructure,
    Issue,
    Unprocessable,
)
from fhir_server.search import custom
from fhir_server.search.registry import KnownParameters
from fhir_server.subscriptions import spec as subscription_spec
from profiles.elements import Definitions

if TYPE_CHECKING:
    from fhir_server.stored_conformance import StoredConformance
    from profiles.validation import Validator


class WriteChecks:
    """`check_resource` with one server's settings (profile validation on or off, the profile
    each type must meet) and search parameters (a SearchParameter may not take another's
    code). App-scoped (`fhir_server.services`)."""

    def __init__(
        self,
        settings: Settings,
        params: KnownParameters,
        conformance: StoredConformance | None = None,
    ) -> None:
        self.validate = settings.validate_profiles
        self.required = dict(settings.required_profiles)
        self.unknown_claimed = "warning" if settings.unknown_profiles == "accept" else "error"
        self.params = params
        self.conformance = conformance

    @property
    def validator(self) -> Validator:
        """The bundled definitions and, once synced, the store's."""
        if self.conformance is not None:
            return self.conformance.validator
        from profiles.validation import Validator

        return Validator.default()

    def check_resource(
        self,
        type_: str,
        resource: Any,
        warnings: list[Issue] | None = None,
        also: Sequence[dict[str, Any]] = (),
    ) -> dict[str, Any]:
        """The resource if it may be stored as a ``type_``; else an error naming each
        element. ``warnings`` receives what the client should hear although the write goes
        ahead (a claimed profile the server does not have). ``also``: conformance resources
        written with it (a package's) that a StructureDefinition may build on."""
        check_shape(type_, resource)
        if type_ == "StructureDefinition" and self.conformance is not None:
            self.conformance.check_bounds(resource)
        profiles = []
        if self.validate and (required := self.required_profile(type_)):
            profiles.append(required)
        found = validation_issues(
            resource, profiles, self.validate, self.validator, self.unknown_claimed
        )
        issues = [i for i in found if i[1].severity in ("error", "fatal")]
        cut = [issue for _, issue in found if issue.code == "too-costly"]  # the list stopped
        structure = [issue for profile, issue in issues if profile is None]
        structure += _other_contained(type_, resource)
        if structure:
            raise InvalidStructure(structure[0].diagnostics, issues=structure + cut)
        if type_ == "SearchParameter":
            custom.check(self.params, resource)
        if type_ == "Subscription":
            subscription_spec.check(resource)
        if type_ == "StructureDefinition" and self.conformance is not None:
            refused = self.conformance.refusal(resource, also)
            if refused is not None:
                issues.append((None, refused))
        if issues:
            errors = [issue for _, issue in issues]
            raise Unprocessable(errors[0].diagnostics, issues=errors + cut)
        if warnings is not None:
            warnings += unknown_claims(found)
        return resource

    def required_profile(self, type_: str) -> str | None:
        """The profile every ``type_`` this server stores must meet (``FHIR_REQUIRED_PROFILES``)."""
        return self.required.get(type_)


def check_shape(type_: str, resource: Any) -> dict[str, Any]:
    """The resource if it is a JSON object claiming to be a ``type_``; else 400."""
    if not isinstance(resource, dict):
        raise Invalid("A resource must be a JSON object")
    actual = resource.get("resourceType")
    if actual != type_:
        raise Invalid(
            f"resourceType {actual!r} does not match the expected type {type_!r}",
            [f"{type_}.resourceType"],
        )
    return resource


def _other_contained(type_: str, resource: dict[str, Any]) -> list[Issue]:
    """Contained resources of types the compiled R4 definitions do not hold are refused (400):
    the definitions cover the served types and the ones they reference (Medication among them);
    any other R4 type cannot be checked, so it is not stored unchecked (``not-supported``), and
    a name R4 does not have is a ``structure`` error (docs/implementation/validation.md)."""
    contained = resource.get("contained")
    if not isinstance(contained, list):
        return []
    out = []
    definitions = Definitions.default()
    for i, item in enumerate(contained):
        kind = item.get("resourceType") if isinstance(item, dict) else None
        if not isinstance(kind, str) or definitions.is_resource(kind):
            continue
        at = (f"{type_}.contained[{i}]",)
        if definitions.is_r4_resource_type(kind):
            message = f"A contained {kind} cannot be checked: this server holds no definition of it"
            out.append(Issue("not-supported", message, at))
        else:
            out.append(Issue("structure", f"Unknown resource type {kind!r}", at))
    return out


def validation_issues(
    resource: dict[str, Any],
    profiles: list[str],
    claimed: bool = True,
    validator: Validator | None = None,
    unknown_claimed: str = "error",
) -> list[tuple[str | None, Issue]]:
    """(profile or None for the R4 definition, issue) for every problem the validator finds
    against the R4 definition, ``profiles`` and, if ``claimed``, ``meta.profile``."""
    if validator is None:
        from profiles.validation import Validator

        validator = Validator.default()
    found = validator.validate(
        resource,
        profiles=profiles,
        claimed=claimed,
        limit=MAX_ISSUES,
        unknown_claimed=unknown_claimed,
    )
    return [
        (
            i.profile,
            Issue(
                i.code,
                f"{i.diagnostics} (profile {i.profile})" if i.profile else i.diagnostics,
                (i.expression,) if i.expression else (),
                i.severity,
            ),
        )
        for i in found
    ]


def unknown_claims(found: list[tuple[str | None, Issue]]) -> list[Issue]:
    """The warnings about claimed profiles the server does not have (``meta.profile[n]``)."""
    return [
        issue
        for _, issue in found
        if issue.severity == "warning"
        and issue.code == "not-supported"
        and any(".meta.profile[" in e for e in issue.expression)
    ]


def profile_issues(
    resource: dict[str, Any], profiles: list[str], checks: WriteChecks
) -> list[Issue]:
    """Every problem a write would be refused for (`check_resource`) and every warning: against
    the R4 definition, ``meta.profile`` and ``profiles``, as OperationOutcome issues naming the
    profile, element and rule (``$validate``), by the server's validator and its setting for
    unknown claimed profiles."""
    kind = str(resource.get("resourceType", ""))
    if kind == "StructureDefinition" and checks.conformance is not None:
        try:
            checks.conformance.check_bounds(resource)
        except FhirError as err:
            return err.issues
    pairs = validation_issues(resource, profiles, True, checks.validator, checks.unknown_claimed)
    found = [issue for _, issue in pairs]
    if kind == "StructureDefinition" and checks.conformance is not None:
        refused = checks.conformance.refusal(resource)
        found += [refused] if refused is not None else []
    return found + _other_contained(kind, resource)
