"""FHIRPath Patch (http://hl7.org/fhir/R4/fhirpatch.html): a Parameters resource of operations.

Paths are navigated here (element names, ``[n]``, ``first()``, ``last()``, ``where(…)``) so that
each operation knows *where* an element lives, which a FHIRPath engine (that returns values) cannot
say; the criteria inside ``where(…)`` are evaluated by the server's one FHIRPath engine
(`profiles.validation.compile_fhirpath`).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from fhir_server.errors import Invalid, InvalidStructure, Unprocessable
from profiles.elements import Definitions
from profiles.validation import compile_fhirpath

_STEP = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)(\((.*)\))?\s*(\[(\d+)\])?\s*$", re.S)
_ROOT = "$resource"
"""The key of the slot standing for the resource itself (a path such as ``Patient``)."""


@dataclass
class Slot:
    """Where one element lives: ``parent[key]`` or ``parent[key][index]``."""

    parent: dict[str, Any]
    key: str
    index: int | None

    def get(self) -> Any:
        value = self.parent[self.key]
        return value if self.index is None else value[self.index]


def _split_path(path: str) -> list[str]:
    """Split on dots outside parentheses and quotes."""
    parts: list[str] = []
    cur: list[str] = []
    depth, quote = 0, False
    for ch in path:
        if ch == "'" and depth:
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        if ch == "." and depth == 0 and not quote:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _resolve(resource: dict[str, Any], path: str) -> list[Slot]:
    steps = _split_path(path)
    if steps and steps[0] == resource.get("resourceType"):
        steps = steps[1:]
    slots: list[Slot] | None = None  # None: the resource itself
    for step in steps:
        m = _STEP.match(step)
        if not m:
            raise Invalid(f"Unsupported FHIRPath step {step!r} in {path!r}", ["path"])
        name, call, arg, _, idx = m.groups()
        if call is None:
            slots = _children([s.get() for s in slots] if slots is not None else [resource], name)
        else:
            slots = _function(slots or [], name, arg, path)
        if idx is not None:
            slots = slots[int(idx) : int(idx) + 1]
    if slots is None:  # the path names the resource itself: ``add`` targets it
        return [Slot({_ROOT: resource}, _ROOT, None)]
    return slots


def _children(nodes: list[Any], name: str) -> list[Slot]:
    out: list[Slot] = []
    for node in nodes:
        if isinstance(node, dict) and name in node:
            value = node[name]
            if isinstance(value, list):
                out.extend(Slot(node, name, i) for i in range(len(value)))
            else:
                out.append(Slot(node, name, None))
    return out


def _function(slots: list[Slot], name: str, arg: str, path: str) -> list[Slot]:
    if name == "first":
        return slots[:1]
    if name == "last":
        return slots[-1:]
    if name == "where":
        try:
            criterion = compile_fhirpath(arg)
            return [s for s in slots if criterion.evaluate(s.get()) == [True]]
        except Exception as err:  # the fallback raises bare Exceptions for what it cannot run
            raise Invalid(f"Cannot evaluate where({arg}) in {path!r}: {err}", ["path"]) from err
    raise Invalid(f"Unsupported FHIRPath function {name}() in {path!r}", ["path"])


def _value(part: dict[str, Any]) -> Any:
    """The value of a ``value`` part: ``value[x]``, or nested parts building a complex element."""
    for key, val in part.items():
        if key.startswith("value"):
            return val
    if "part" in part:
        return {p["name"]: _value(p) for p in part["part"] if "name" in p}
    raise Invalid(f"Operation part {part.get('name')!r} has no value", ["Parameters.parameter"])


def _one(slots: list[Slot], op: str, path: str) -> Slot:
    if len(slots) != 1:
        raise Unprocessable(
            f"{op}: {path!r} matches {len(slots)} elements, not exactly one", [path]
        )
    return slots[0]


def _add(resource: dict[str, Any], target: dict[str, Any], name: str, value: Any) -> None:
    """Add ``name`` to ``target``; a list element grows, a single one is set.

    Whether an absent element repeats is decided by its R4 definition (`profiles.elements`); an
    element R4 does not define is set as a single value (the write's validation names it).
    """
    existing = target.get(name)
    if isinstance(existing, list):
        existing.append(value)
        return
    if existing is not None:
        raise Unprocessable(f"add: element {name!r} already has a value (use replace)")
    where = _element_names(resource, target, str(resource.get("resourceType")), [])
    element = Definitions.default().element(where[0], [*where[1], name]) if where else None
    target[name] = [value] if element is not None and element.repeats else value


def _element_names(
    node: dict[str, Any], target: dict[str, Any], kind: str, names: list[str]
) -> tuple[str, list[str]] | None:
    """(the type of the resource holding ``target``, the JSON names leading from it to
    ``target``), ``target`` found by identity below ``node`` (a ``kind`` reached by ``names``);
    None if it is not there."""
    if node is target:
        return kind, names
    for key, value in node.items():
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, dict):
                continue
            inner = item.get("resourceType")
            if isinstance(inner, str):  # a contained resource: its names start at it
                found = _element_names(item, target, inner, [])
            else:
                found = _element_names(item, target, kind, [*names, key])
            if found is not None:
                return found
    return None


def _delete(slot: Slot) -> None:
    if slot.index is None:
        del slot.parent[slot.key]
        return
    items = slot.parent[slot.key]
    del items[slot.index]
    if not items:
        del slot.parent[slot.key]


def _list_at(resource: dict[str, Any], path: str, op: str) -> list[Any]:
    slots = _resolve(resource, path)
    if not slots or any(s.index is None for s in slots):
        raise Unprocessable(f"{op}: {path!r} is not a repeating element", [path])
    return slots[0].parent[slots[0].key]


def _index(raw: Any, size: int, op: str, name: str) -> int:
    """A list position for ``op``: 0 <= index <= size (an index past the end is an error, never
    silently clamped as Python's ``list.insert`` would)."""
    index = int(raw)
    if not 0 <= index <= size:
        raise Unprocessable(f"{op}: {name} {index} is outside the list (0..{size})")
    return index


def _not_root(slot: Slot, op: str, path: str) -> Slot:
    if slot.key == _ROOT:
        raise Invalid(f"{op}: {path!r} names the resource itself", ["path"])
    return slot


def _operation(resource: dict[str, Any], parts: dict[str, Any], raw: dict[str, Any]) -> None:
    op, path = parts.get("type"), parts.get("path")
    if not isinstance(path, str):
        raise Invalid("Each operation needs a path", ["Parameters.parameter.part"])
    if op == "add":
        target = _one(_resolve(resource, path), op, path).get()
        name = parts["name"]
        if not isinstance(target, dict):  # a primitive (or a list) has no named children
            raise Unprocessable(f"add: {path!r} is not an element that has children", [path])
        if not isinstance(name, str) or not name:
            raise Invalid("add: the operation's name must be an element name", ["name"])
        _add(resource, target, name, _value(raw["value"]))
    elif op == "insert":
        items = _list_at(resource, path, op)
        items.insert(_index(parts["index"], len(items), op, "index"), _value(raw["value"]))
    elif op == "delete":
        slots = _resolve(resource, path)
        if len(slots) > 1:
            raise Unprocessable(f"delete: {path!r} matches {len(slots)} elements", [path])
        if slots:
            _delete(_not_root(slots[0], op, path))
    elif op == "replace":
        slot = _not_root(_one(_resolve(resource, path), op, path), op, path)
        container = slot.parent[slot.key]
        if slot.index is None:
            slot.parent[slot.key] = _value(raw["value"])
        else:
            container[slot.index] = _value(raw["value"])
    elif op == "move":
        items = _list_at(resource, path, op)
        item = items.pop(_index(parts["source"], len(items) - 1, op, "source"))
        items.insert(_index(parts["destination"], len(items), op, "destination"), item)
    else:
        raise Invalid(f"Unknown FHIRPath Patch operation type {op!r}", ["type"])


def apply_fhirpath_patch(resource: dict[str, Any], parameters: Any) -> dict[str, Any]:
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise Invalid("A FHIRPath Patch is a Parameters resource")
    _check_parameters(parameters.get("parameter"), "Parameters.parameter")
    out = copy.deepcopy(resource)
    for param in parameters.get("parameter", []):
        if param.get("name") != "operation":
            raise Invalid(f"Unexpected parameter {param.get('name')!r}", ["Parameters.parameter"])
        raw = {p.get("name"): p for p in param.get("part", [])}
        parts = {k: _scalar(v) for k, v in raw.items() if k != "value"}
        try:
            _operation(out, parts, raw)
        except (KeyError, ValueError, IndexError, TypeError) as err:
            raise Unprocessable(f"FHIRPath Patch operation failed: {err!r}") from err
    return out


def _check_parameters(parameters: Any, at: str) -> None:
    """Refuse (400 naming the element) the Parameters shapes the operations below cannot walk:
    ``parameter`` and ``part`` are lists of objects, each with a ``name``."""
    if parameters is None:
        return
    if not isinstance(parameters, list):
        raise InvalidStructure(f"{at} must be a list", [at])
    for i, item in enumerate(parameters):
        where = f"{at}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidStructure("Each parameter must be an object with a name", [where])
        _check_parameters(item.get("part"), f"{where}.part")


def _scalar(part: dict[str, Any]) -> Any:
    return next((v for k, v in part.items() if k.startswith("value")), None)
