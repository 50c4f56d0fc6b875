"""Walk a resource's JSON along compiled rules and collect issues.

One pass per rule set: the strict R4 base pass sees every property; a profile pass only the
properties its profile constrains. Expressions are built while walking (``Patient.identifier[0]
.value``), using JSON names so a choice element reads ``Observation.valueQuantity``.
"""

from __future__ import annotations

from typing import Any

from profiles.validation.context import (
    Context,
    IssueLimit,
    check_invariant,
    count_values,
    json_shape,
    missing,
    required_keys,
    slice_counts,
)
from profiles.validation.issues import NOT_SUPPORTED, STRUCTURE
from profiles.validation.rules import ComplexRule, ElementRule, Slicing, TypeRule

__all__ = ["Context", "IssueLimit", "check_invariant", "check_value", "walk"]


def walk(rule: ComplexRule, obj: dict[str, Any], path: str, ctx: Context) -> None:
    keys = rule.keys
    strict = rule.strict
    choices: set[str] | None = None
    for key, value in obj.items():
        hit = keys.get(key)
        if hit is None:
            if strict and not (key == "resourceType" and rule.is_resource):
                ctx.report(STRUCTURE, f"Unknown element '{key}'", f"{path}.{key}", rule.profile)
            continue
        element, type_rule, underscore = hit
        if underscore:
            _underscore(element, type_rule, key[1:], obj, value, path, ctx, strict)
            continue
        if element.choice and strict:
            choices = choices or set()
            if element.name in choices:
                ctx.report(
                    STRUCTURE,
                    f"{element.path} has more than one value (only one of its types may be used)",
                    f"{path}.{key}",
                    rule.profile,
                )
            choices.add(element.name)
        if value is None and strict:
            ctx.report(STRUCTURE, "null is not allowed here", f"{path}.{key}", rule.profile)
        if type_rule is None or value is None or (type(value) is list and None in value):
            extras = obj.get("_" + key) if type_rule and type_rule.primitive else None
            _element(element, type_rule, key, value, extras, path, ctx, strict)
        else:  # the common case; a ``_key`` companion is checked when the loop reaches it
            _plain(element, type_rule, key, value, f"{path}.{key}", ctx, strict)
    for element in rule.required:
        for present in element.presence_keys:
            if present in obj:
                break
        else:
            missing(element, path, ctx)
        if element.required_keys:
            required_keys(element, obj, path, ctx)
    for invariant in rule.invariants:
        check_invariant(invariant, obj, path, ctx)


def _underscore(
    element: ElementRule,
    type_rule: TypeRule | None,
    key: str,
    obj: dict[str, Any],
    extras: Any,
    path: str,
    ctx: Context,
    strict: bool,
) -> None:
    """A primitive's ``_key`` companion: alone (a value-less primitive), or beside its value."""
    if key not in obj:
        _element(element, type_rule, key, None, extras, path, ctx, strict)
        return
    value = obj[key]
    if value is None or (type(value) is list and None in value):
        return  # the value's own turn walks both (null entries pair up with the companion)
    if not strict:
        return
    epath = f"{path}.{key}"
    if isinstance(value, list) != isinstance(extras, list):
        ctx.report(STRUCTURE, "the value and its '_' companion disagree in shape", epath, None)
        return
    if not isinstance(extras, list):
        _primitive_extras(extras, epath, ctx)
        return
    if len(extras) != len(value):
        ctx.report(STRUCTURE, "the '_' array must be as long as the value array", epath, None)
    for i, extra in enumerate(extras):
        if extra is not None:
            _primitive_extras(extra, f"{epath}[{i}]", ctx)


def _element(
    element: ElementRule,
    type_rule: TypeRule | None,
    key: str,
    value: Any,
    extras: Any,
    path: str,
    ctx: Context,
    strict: bool,
) -> None:
    """One JSON property: ``value`` (None when only ``_key`` is there) and ``extras`` (``_key``)."""
    epath = f"{path}.{key}"
    if type_rule is None:
        code = element.disallowed.get(key, key)
        ctx.report(
            STRUCTURE, f"type {code} is not allowed for {element.path}", epath, element.profile
        )
        return
    listed = isinstance(value, list) if value is not None else isinstance(extras, list)
    items = _items(value, extras, listed)
    if strict:
        json_shape(element, listed, items, value, extras, epath, ctx)
    if element.count_check:
        count_values(element, len(items), epath, ctx)
    for i, (item, extra) in enumerate(items):
        ipath = f"{epath}[{i}]" if listed else epath
        if item is not None:
            check_value(element, type_rule, item, ipath, ctx, strict)
        if extra is not None and strict:
            _primitive_extras(extra, ipath, ctx)
    if element.slicing is not None:
        _apply_slicing(element, key, items, epath, listed, ctx)


def _plain(
    element: ElementRule,
    type_rule: TypeRule,
    key: str,
    value: Any,
    epath: str,
    ctx: Context,
    strict: bool,
) -> None:
    """A property without a ``_key`` companion (most of them): no pairing needed."""
    if type(value) is list:
        if strict and (not element.array or not value or None in value):
            json_shape(element, True, [(v, None) for v in value], value, None, epath, ctx)
        if element.count_check:
            count_values(element, len(value), epath, ctx)
        bare = type_rule.bare
        for i, item in enumerate(value):
            if bare:
                _primitive(element, type_rule, item, f"{epath}[{i}]", ctx)
            else:
                check_value(element, type_rule, item, f"{epath}[{i}]", ctx, strict)
        if element.slicing is not None:
            _apply_slicing(element, key, [(v, None) for v in value], epath, True, ctx)
        return
    if strict and element.array:
        json_shape(element, False, [(value, None)], value, None, epath, ctx)
    if element.count_check:
        count_values(element, 1, epath, ctx)
    if type_rule.bare:
        _primitive(element, type_rule, value, epath, ctx)
    else:
        check_value(element, type_rule, value, epath, ctx, strict)
    if element.slicing is not None:
        _apply_slicing(element, key, [(value, None)], epath, False, ctx)


def _primitive(
    element: ElementRule, type_rule: TypeRule, item: Any, ipath: str, ctx: Context
) -> None:
    """A primitive whose only rule is its format (most of them)."""
    problem = type_rule.primitive(item)  # type: ignore[misc]
    if problem is not None:
        ctx.report(problem[0], f"{element.path}: {problem[1]}", ipath, element.profile)


def _items(value: Any, extras: Any, listed: bool) -> list[tuple[Any, Any]]:
    """(value, its ``_`` companion) pairs; primitive arrays align with their ``_name`` array."""
    if not listed:
        return [(value, extras)]
    values = value if isinstance(value, list) else []
    companions = extras if isinstance(extras, list) else []
    size = max(len(values), len(companions))
    return [
        (values[i] if i < len(values) else None, companions[i] if i < len(companions) else None)
        for i in range(size)
    ]


def _primitive_extras(extra: Any, ipath: str, ctx: Context) -> None:
    """The ``_name`` object of a primitive: only id and extension (the Element type)."""
    rule = ctx.validator.base_rule("Element")
    if not isinstance(extra, dict):
        ctx.report(STRUCTURE, "a primitive's '_' companion must be an object", ipath, None)
    elif not (extra.keys() - {"id"}) and rule is not None:
        ctx.report(
            STRUCTURE, "ele-1: All FHIR elements must have a @value or children", ipath, None
        )
    elif rule is not None:
        walk(rule, extra, ipath, ctx)


def check_value(
    element: ElementRule,
    type_rule: TypeRule,
    item: Any,
    ipath: str,
    ctx: Context,
    strict: bool,
) -> None:
    primitive = type_rule.primitive
    if primitive is not None:
        problem = primitive(item)
        if problem is not None:
            ctx.report(problem[0], f"{element.path}: {problem[1]}", ipath, element.profile)
            return
    elif strict or type_rule.complex is not None or type_rule.profiles:
        if not isinstance(item, dict):
            if strict:
                ctx.report(
                    STRUCTURE, f"{element.path} must be a JSON object", ipath, element.profile
                )
            return
        if strict and not (item.keys() - {"id"}):
            ctx.report(
                STRUCTURE, "ele-1: All FHIR elements must have a @value or children", ipath, None
            )
            return
        _complex(type_rule, item, ipath, ctx)
    if element.checks or type_rule.checks or element.invariants or type_rule.invariants:
        _value_rules(element, type_rule, item, ipath, ctx)


def _value_rules(
    element: ElementRule, type_rule: TypeRule, item: Any, ipath: str, ctx: Context
) -> None:
    for checks in (element.checks, type_rule.checks):
        for check in checks:
            problem = check(item, ctx)
            if problem is not None:
                ctx.report(problem[0], f"{element.path}: {problem[1]}", ipath, element.profile)
    for invariants in (element.invariants, type_rule.invariants):
        for invariant in invariants:
            check_invariant(invariant, item, ipath, ctx)


def _complex(type_rule: TypeRule, item: dict[str, Any], ipath: str, ctx: Context) -> None:
    if type_rule.resource:
        _contained(item, ipath, ctx)
        return
    if type_rule.complex is not None:
        walk(type_rule.complex, item, ipath, ctx)
    if type_rule.extension:
        url = item.get("url")
        rule = ctx.validator.extension_rule(url) if isinstance(url, str) else None
        if rule is not None:
            walk(rule, item, ipath, ctx)
    for url in type_rule.profiles:
        rule = ctx.validator.profile_rule(url)
        if rule is not None:
            walk(rule, item, ipath, ctx)


def _contained(item: dict[str, Any], ipath: str, ctx: Context) -> None:
    kind = item.get("resourceType")
    rule = ctx.validator.base_rule(kind) if isinstance(kind, str) else None
    if rule is None or not rule.is_resource:
        ctx.report(
            NOT_SUPPORTED,
            f"a contained resource of type {kind!r} cannot be validated here",
            ipath,
            None,
            "warning",
        )
        return
    outer, outer_root = ctx.resource, ctx.root
    ctx.resource = item
    entry = ipath.endswith(".resource")  # Bundle.entry.resource, Parameters.parameter.resource
    if entry:
        ctx.root = item  # an entry is a resource of its own, not contained in the Bundle
    try:
        walk(rule, item, ipath, ctx)
        if entry and isinstance(kind, str):
            # as the reference validator does: an entry is checked against the profiles it
            # claims (a MedCom message's MessageHeader, Patient, … name theirs)
            ctx.validator.check_claimed(item, kind, ipath, ctx)
    finally:
        ctx.resource, ctx.root = outer, outer_root


def _apply_slicing(
    element: ElementRule,
    key: str,
    items: list[tuple[Any, Any]],
    epath: str,
    listed: bool,
    ctx: Context,
) -> None:
    slicing = element.slicing
    assert slicing is not None
    counts = [0] * len(slicing.slices)
    last, unmatched = -1, False
    for i, (item, _) in enumerate(items):
        if item is None:
            continue
        ipath = f"{epath}[{i}]" if listed else epath
        index = _slice_of(slicing, item, key, ctx)
        if index is None:
            if slicing.closed:
                ctx.report(
                    STRUCTURE,
                    f"{element.path}: the value matches no slice ({slicing.description}) and "
                    "the slicing is closed",
                    ipath,
                    element.profile,
                )
            unmatched = True
            continue
        if (slicing.open_at_end and unmatched) or (slicing.ordered and index < last):
            ctx.report(
                STRUCTURE,
                f"{element.path}: the slices are not in the order the profile defines",
                ipath,
                element.profile,
            )
        last = max(last, index)
        counts[index] += 1
        rule = slicing.slices[index].rule
        type_rule = rule.types.get(key) or next(iter(rule.types.values()), None)
        if type_rule is not None:
            check_value(rule, type_rule, item, ipath, ctx, False)
    slice_counts(element, slicing, counts, epath, ctx)


def _slice_of(slicing: Slicing, item: Any, key: str, ctx: Context) -> int | None:
    for index, s in enumerate(slicing.slices):
        if s.matcher(item, key, ctx):
            return index
    return None
