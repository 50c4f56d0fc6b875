"""An independent second opinion on R4 structure: fhir.resources' R4B models (a test and bench
dependency only; the server checks structure with the compiled R4 definitions).

For the served types their elements match R4 4.0.1. The tests use it to check what the server
itself produces (responses, the datasets) with a model the server does not share; the bench uses
it as a scale for the validator's cost.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Annotated, Any, get_args, get_origin

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from fhir_server.errors import InvalidStructure, Issue
from fhir_server.write_checks import check_shape


@cache
def model_for(type_: str) -> Any:
    return get_fhir_model_class(type_)


def _flagged(type_: str, flag: str) -> frozenset[str]:
    out = set()
    for name, field in model_for(type_).model_fields.items():
        extra = field.json_schema_extra
        if isinstance(extra, dict) and extra.get(flag):
            out.add(field.alias or name)
    return frozenset(out)


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


def check_structure(type_: str, resource: Any) -> dict[str, Any]:
    """The resource if it is a structurally valid ``type_`` by fhir.resources' model; else
    `InvalidStructure` naming every element."""
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
