"""Everything a resource must pass before it is stored, in one place for every write path
(HTTP, Bundle entries, patches, ``fhir-server load``): its structure; the rules of its type the
store relies on (a SearchParameter the server can search with); and its conformance to the R4
definition of its type, to the profiles it claims and to the profile the server requires for
its type (`configure`)."""

from __future__ import annotations

from typing import Any

from fhir_server.config import Settings
from fhir_server.errors import Issue, Unprocessable
from fhir_server.search import custom
from fhir_server.structure import check_structure

_policy: dict[str, Any] = {}


def configure(settings: Settings) -> None:
    """Called once a process knows its settings (server start); a process that never calls it
    (a CLI command) gets the settings of its environment on its first write."""
    _policy["validate"] = settings.validate_profiles
    _policy["required"] = dict(settings.required_profiles)


def _configured() -> dict[str, Any]:
    if not _policy:
        configure(Settings())
    return _policy


def check_resource(type_: str, resource: Any) -> dict[str, Any]:
    """The resource if it may be stored as a ``type_``; else an error naming each element."""
    checked = check_structure(type_, resource)
    if type_ == "SearchParameter":
        custom.check(checked)
    if _configured()["validate"]:
        required = required_profile(type_)
        issues = conformance_issues(checked, [required] if required else [])
        errors = [i for i in issues if i.severity in ("error", "fatal")]
        if errors:
            raise Unprocessable(errors[0].diagnostics, issues=errors)
    return checked


def required_profile(type_: str) -> str | None:
    required: str | None = _configured()["required"].get(type_)
    return required


def conformance_issues(resource: dict[str, Any], profiles: list[str]) -> list[Issue]:
    """Every problem the validator finds against the R4 definition, ``meta.profile`` and
    ``profiles``, as OperationOutcome issues naming the profile, element and rule."""
    from profiles.validation import Validator

    found = Validator.default().validate(resource, profiles=profiles)
    return [
        Issue(
            i.code,
            f"{i.diagnostics} (profile {i.profile})" if i.profile else i.diagnostics,
            (i.expression,) if i.expression else (),
            i.severity,
        )
        for i in found
    ]
