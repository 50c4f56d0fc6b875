"""Structural validation of incoming resources with fhir.resources' R4B models.

For the served types their elements match R4 4.0.1. Only the verdict is used: the stored bytes are
the client's JSON (with server-owned id/meta), never a re-serialization of the model.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from fhir_server.errors import Invalid, InvalidStructure, Issue


@cache
def model_for(type_: str) -> Any:
    return get_fhir_model_class(type_)


@cache
def summary_elements(type_: str) -> frozenset[str]:
    """Top-level elements flagged isSummary in the R4 definitions (the `_summary=true` subset)."""
    return _flagged(type_, "summary_element_property")


@cache
def required_elements(type_: str) -> frozenset[str]:
    return _flagged(type_, "element_required")


def _flagged(type_: str, flag: str) -> frozenset[str]:
    out = set()
    for name, field in model_for(type_).model_fields.items():
        extra = field.json_schema_extra
        if isinstance(extra, dict) and extra.get(flag):
            out.add(field.alias or name)
    return frozenset(out)


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise Invalid(f"Request body is not valid JSON: {err}") from err


def _expression(type_: str, loc: tuple[Any, ...]) -> str:
    out = type_
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith("function-after") and part != "__root__":
            out += f".{part}"
    return out


def check_structure(type_: str, resource: Any) -> dict[str, Any]:
    """The resource if it is a structurally valid ``type_``; else 400 naming every element."""
    if not isinstance(resource, dict):
        raise Invalid("A resource must be a JSON object")
    actual = resource.get("resourceType")
    if actual != type_:
        raise Invalid(
            f"resourceType {actual!r} does not match the expected type {type_!r}",
            [f"{type_}.resourceType"],
        )
    try:
        model_for(type_).model_validate(resource)
    except ValidationError as err:
        issues = [
            Issue("structure", f"{e['msg']}", (_expression(type_, e["loc"]),))
            for e in err.errors(include_url=False)
        ]
        raise InvalidStructure(issues[0].diagnostics, issues=issues) from err
    except (ValueError, TypeError) as err:  # fhir.resources raises these for some root checks
        raise InvalidStructure(str(err), [type_]) from err
    return resource
