"""``$validate`` (http://hl7.org/fhir/R4/resource-operation-validate.html) at type and instance
level: the same checks a write makes (structure, the R4 definition, claimed and required
profiles), or against the ``profile`` asked for; modes create, update and delete."""

from __future__ import annotations

from typing import Any

import orjson

from fhir_server.errors import FhirError, Invalid, Issue, NotFound, operation_outcome
from fhir_server.interactions.context import Context, FhirResult
from fhir_server.operations import Operation
from fhir_server.operations.inputs import Inputs
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search import custom
from fhir_server.write_checks import profile_issues

_MODES = ("create", "update", "delete")


async def validate(ctx: Context, inputs: Inputs, type_: str | None, id_: str | None) -> FhirResult:
    assert type_ is not None
    mode = inputs.value("mode", "Code")
    if mode is not None and mode not in _MODES:
        raise Invalid(f"$validate mode must be one of {', '.join(_MODES)}, not {mode!r}", ["mode"])
    profile = inputs.value("profile", "Uri", "Canonical")
    if mode == "delete":
        return await _delete(ctx, type_, id_)
    resource = inputs.resource("resource") or inputs.body
    if resource is None:
        raise Invalid("$validate needs the resource to check", ["resource"])
    issues = _context_issues(type_, id_, mode, resource)
    issues += _issues(ctx, type_, resource, profile)
    return _outcome(issues)


def _context_issues(
    type_: str, id_: str | None, mode: str | None, resource: dict[str, Any]
) -> list[Issue]:
    out = []
    if resource.get("resourceType") != type_:
        out.append(
            Issue(
                "invalid",
                f"resourceType {resource.get('resourceType')!r} is not {type_}",
                (f"{type_}.resourceType",),
            )
        )
    if mode == "update" and not resource.get("id"):
        out.append(Issue("required", "An update needs the resource's id", (f"{type_}.id",)))
    if id_ is not None and resource.get("id") not in (None, id_):
        out.append(Issue("invalid", f"The id in the body is not {id_!r}", (f"{type_}.id",)))
    return out


def _issues(ctx: Context, type_: str, resource: dict[str, Any], profile: str | None) -> list[Issue]:
    """What a write would be refused for (`write_checks.check_resource`), all of it."""
    required = ctx.services.checks.required_profile(type_)
    wanted = [profile] if profile else [required] if required else []
    issues = profile_issues(resource, wanted, ctx.services.checks)
    if type_ == "SearchParameter" and not any(i.severity in ("error", "fatal") for i in issues):
        try:
            custom.check(ctx.params, resource)
        except FhirError as err:
            issues += err.issues
    return issues


async def _delete(ctx: Context, type_: str, id_: str | None) -> FhirResult:
    if id_ is None:
        raise Invalid("$validate mode=delete needs an instance: [type]/[id]/$validate", ["mode"])
    current = await ctx.read(type_, id_)
    if current is None or current.deleted:
        raise NotFound(f"{type_}/{id_} does not exist", [f"{type_}/{id_}"])
    return _outcome([])


def _outcome(issues: list[Issue]) -> FhirResult:
    """200 with the OperationOutcome: the operation worked, whatever its verdict."""
    if not issues:
        issues = [Issue("informational", "No issues found", (), "information")]
    return FhirResult(200, body=orjson.dumps(operation_outcome(issues)))


VALIDATE = Operation(
    "validate",
    frozenset({"type", "instance"}),
    frozenset(SERVED_TYPES),
    validate,
    definition="http://hl7.org/fhir/OperationDefinition/Resource-validate",
    scope_letters="cru",  # a client that may read, create or update the type may check one
)
