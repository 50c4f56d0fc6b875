"""Structural validation of incoming resources with fhir.resources' R4B models.

For the served types their elements match R4 4.0.1. Only the verdict is used: the stored bytes are
the client's JSON (with server-owned id/meta), never a re-serialization of the model.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Annotated, Any, get_args, get_origin

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
    """Top-level elements with min cardinality 1: primitives carry ``element_required``, complex
    elements (e.g. ``Observation.code``) are required fields of the model."""
    fields = model_for(type_).model_fields
    required = {f.alias or name for name, f in fields.items() if f.is_required()}
    return _flagged(type_, "element_required") | frozenset(required)


def _flagged(type_: str, flag: str) -> frozenset[str]:
    out = set()
    for name, field in model_for(type_).model_fields.items():
        extra = field.json_schema_extra
        if isinstance(extra, dict) and extra.get(flag):
            out.add(field.alias or name)
    return frozenset(out)


MAX_DEPTH = 100
"""Objects and arrays a request body may nest (a Bundle and its resources together): every
walk of a resource (validation, indexing, references) recurses, and orjson serializes at most
254 levels while it parses 1,024."""


def parse_json(body: bytes) -> Any:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise Invalid(f"Request body is not valid JSON: {err}") from err
    if _too_deep(doc):
        raise InvalidStructure(
            f"The request body nests objects and arrays more than {MAX_DEPTH} levels deep"
        )
    return doc


def _too_deep(doc: Any) -> bool:
    """Whether ``doc`` nests more than `MAX_DEPTH` levels: level by level, without recursion,
    skipping scalars."""
    level = [doc] if type(doc) in (dict, list) else []
    for _ in range(MAX_DEPTH):
        if not level:
            return False
        below: list[Any] = []
        for node in level:
            for value in node.values() if type(node) is dict else node:
                if type(value) is dict or type(value) is list:
                    below.append(value)
        level = below
    return bool(level)


def _expression(type_: str, loc: tuple[Any, ...]) -> str:
    out = type_
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith("function-after") and part != "__root__":
            out += f".{part}"
    return out


@cache
def _fields(model: Any) -> dict[str, tuple[type | None, Any]]:
    """Each element's JSON name → (the primitive type it must be a JSON boolean or number for, or
    None; its model class if it is a complex element)."""
    out: dict[str, tuple[type | None, Any]] = {}
    for name, field in model.model_fields.items():
        base, stack = None, [field.annotation]
        while stack:  # unwrap Optional[List[Annotated[...]]] down to the element's type
            t = stack.pop()
            args = [a for a in get_args(t) if a is not type(None)]
            if args:  # Optional/Union, List or Annotated
                stack.extend(args[:1] if get_origin(t) is Annotated else args)
            elif t is not None:
                base = t
        if base is bool or base is int or base is Decimal:
            out[field.alias or name] = (base, None)
        elif hasattr(base, "get_model_klass"):
            out[field.alias or name] = (None, base.get_model_klass())
    return out


def _json_types(model: Any, node: dict[str, Any], where: str) -> list[Issue]:
    """What the model lets through but FHIR JSON forbids (json.html): a boolean must be a JSON
    boolean, an integer and a decimal a JSON number (``"yes"``, ``1`` or ``"3"`` are not), and a
    property is never ``null``."""
    issues = []
    table = _fields(model)
    for key, value in node.items():
        if value is None:  # json.html: null only aligns primitive arrays with their extensions
            issues.append(Issue("structure", "null is not allowed here", (f"{where}.{key}",)))
            continue
        primitive, complex_ = table.get(key, (None, None))
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            at = f"{where}.{key}" + (f"[{i}]" if isinstance(value, list) else "")
            if primitive is not None:
                ok = isinstance(item, bool) if primitive is bool else not isinstance(item, bool)
                if primitive is int:
                    ok = ok and isinstance(item, int)
                elif primitive is Decimal:
                    ok = ok and isinstance(item, int | float)
                if not ok and item is not None:
                    kind = {bool: "boolean", int: "integer", Decimal: "number"}[primitive]
                    issues.append(Issue("structure", f"Must be a JSON {kind}", (at,)))
            elif complex_ is not None and isinstance(item, dict):
                inner, of = item.get("resourceType"), complex_
                if isinstance(inner, str):  # a contained resource
                    try:
                        of = model_for(inner)
                    except (KeyError, ValueError):
                        continue
                issues += _json_types(of, item, at)
    return issues


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


def check_structure(type_: str, resource: Any) -> dict[str, Any]:
    """The resource if it is a structurally valid ``type_`` by fhir.resources' model; else 400
    naming every element."""
    issues = structure_issues(check_shape(type_, resource), type_)
    if issues:
        raise InvalidStructure(issues[0].diagnostics, issues=issues)
    return resource


def structure_issues(resource: dict[str, Any], at: str) -> list[Issue]:
    """Every element of ``resource`` (of the type its ``resourceType`` names, found at ``at``)
    that fhir.resources' model refuses; an unknown type is one issue at ``at``."""
    type_ = resource.get("resourceType")
    try:
        model = model_for(type_)
    except (KeyError, ValueError, TypeError):
        return [Issue("structure", f"Unknown resource type {type_!r}", (at,))]
    json_issues = _json_types(model, resource, at)
    try:
        model.model_validate(resource)
    except ValidationError as err:
        issues = [
            Issue("structure", f"{e['msg']}", (_expression(at, e["loc"]),))
            for e in err.errors(include_url=False)
        ]
        named = {i.expression for i in issues}
        issues += [i for i in json_issues if i.expression not in named]
        # the model checks its mandatory primitives only once every field is valid: name the
        # missing ones here too, so one response lists every failing element
        named = {i.expression for i in issues}
        for name in sorted(_flagged(type_, "element_required")):
            where = (f"{at}.{name}",)
            if name not in resource and f"_{name}" not in resource and where not in named:
                issues.append(
                    Issue("structure", f"Value for the field {name!r} is required.", where)
                )
        return issues
    except (ValueError, TypeError, KeyError) as err:  # fhir.resources raises these for some
        # root checks, and KeyError for a contained resource of an unknown type
        return [Issue("structure", f"Not a valid {type_}: {err!s}", (at,))]
    return json_issues
