"""StructureDefinitions from outside the bundle (posted to the server, or from a FHIR package):
bounded, given a snapshot when they carry only a differential, and refused with the element
that makes them unusable.

A profile that someone else wrote is checked before it is stored, because the validator will
run its rules on every resource that claims it: its size and element count are bounded (a huge
differential must not hold a worker), its invariants' expressions are bounded in length, and a
differential-only profile gets its snapshot from its base (an R4 type or a profile already
known) by the same generator that builds the bundled profiles (`profiles.snapshot`).
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from profiles.library import Library
from profiles.snapshot import SnapshotError, generate, path_of
from profiles.validation.compile_base import R4
from profiles.validation.fhirpath import FhirPathEngine
from profiles.validation.snapshot import ProfileError

MAX_BYTES = 4 * 1024 * 1024
"""A StructureDefinition's JSON size (the largest published profiles are ~1-2 MB)."""
MAX_ELEMENTS = 5000
"""Elements in its snapshot or differential, and in a generated snapshot."""
MAX_EXPRESSION = 4096
"""Characters of one invariant expression."""
MAX_CONSTRAINTS = 1000
"""Invariants over all its elements."""


class DefinitionRefused(ProfileError):
    """A StructureDefinition that cannot be used; ``expression`` names the element (FHIRPath,
    e.g. ``StructureDefinition.differential.element[3]``)."""

    def __init__(self, message: str, expression: str = "StructureDefinition") -> None:
        super().__init__(message)
        self.expression = expression


def prepare(sd: dict[str, Any], library: Library) -> dict[str, Any]:
    """``sd`` (a constraining StructureDefinition) with a snapshot, within the bounds; raises
    `DefinitionRefused`. ``library`` knows its base (the R4 types, the bundled and the stored
    profiles)."""
    check_bounds(sd)
    kind = sd.get("type")
    if not isinstance(kind, str) or library.structure_definition(R4 + kind) is None:
        raise DefinitionRefused(
            f"type {kind!r} is not a type this server has definitions of",
            "StructureDefinition.type",
        )
    if isinstance((sd.get("snapshot") or {}).get("element"), list) and sd["snapshot"]["element"]:
        return sd
    differential = (sd.get("differential") or {}).get("element")
    if not isinstance(differential, list) or not differential:
        raise DefinitionRefused(
            "a profile needs a snapshot or a differential", "StructureDefinition.differential"
        )
    base_url = sd.get("baseDefinition")
    base = library.structure_definition(base_url) if isinstance(base_url, str) else None
    if base is None or not base.get("snapshot", {}).get("element"):
        raise DefinitionRefused(
            f"baseDefinition {base_url!r} is not known to this server",
            "StructureDefinition.baseDefinition",
        )
    if base.get("type") != kind:
        raise DefinitionRefused(
            f"baseDefinition {base_url} is a {base.get('type')}, not a {kind}",
            "StructureDefinition.baseDefinition",
        )
    structure = {**sd, "differential": {"element": _normalised(differential)}}

    def type_snapshot(code: str) -> list[dict[str, Any]]:
        found = library.structure_definition(R4 + code)
        if found is None:
            raise SnapshotError(f"{code}: no definition of this data type")
        return list(found["snapshot"]["element"])

    def profile_type(url: str) -> str | None:
        found = library.structure_definition(url)
        if found is not None:
            return str(found.get("type"))
        return url[len(R4) :].partition("|")[0] if url.startswith(R4) else None

    try:
        out = generate(structure, base["snapshot"]["element"], type_snapshot, profile_type)
    except SnapshotError as exc:
        raise DefinitionRefused(str(exc), _where(str(exc), differential)) from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise DefinitionRefused(
            f"malformed differential ({exc!r})", "StructureDefinition.differential"
        ) from None
    if len(out["snapshot"]["element"]) > MAX_ELEMENTS:
        raise DefinitionRefused(
            f"the snapshot would have more than {MAX_ELEMENTS} elements",
            "StructureDefinition.differential",
        )
    out["differential"] = sd["differential"]  # as written; the snapshot is what is used
    return out


def check_expressions(
    sd: dict[str, Any], engine: FhirPathEngine, written: dict[str, Any] | None = None
) -> None:
    """Every invariant of ``sd``'s snapshot (each distinct expression once) can be evaluated:
    the FHIRPath parser recovers from errors and unknown functions or wrong arities show only
    when an expression runs, so each is run once on an empty value — else it would fail on
    every resource that claims the profile. ``written``: the StructureDefinition as the client
    wrote it (a differential's invariant is named there)."""
    seen: set[str] = set()
    root = {"resourceType": sd.get("type")}
    for i, element in enumerate(sd["snapshot"]["element"]):
        for j, constraint in enumerate(element.get("constraint") or []):
            text = constraint.get("expression") if isinstance(constraint, dict) else None
            if not isinstance(text, str) or text in seen:
                continue
            seen.add(text)
            try:
                if i == 0:
                    engine.compile(text, str(sd.get("type"))).evaluate(root)
                else:
                    engine.compile(text).evaluate({}, root)
            except Exception as err:  # fhirpathpy raises plain Exceptions (and RecursionError)
                where = f"StructureDefinition.snapshot.element[{i}].constraint[{j}].expression"
                raise DefinitionRefused(
                    f"invariant {constraint.get('key')!r} is not FHIRPath: {err}",
                    _as_written(written, element, constraint) or where,
                ) from None


def _as_written(written: dict[str, Any] | None, element: Any, constraint: Any) -> str | None:
    """Where a generated snapshot's invariant is in the differential the client wrote."""
    if written is None or (written.get("snapshot") or {}).get("element"):
        return None
    for i, diff in enumerate((written.get("differential") or {}).get("element") or []):
        if not isinstance(diff, dict) or diff.get("id", diff.get("path")) != element.get("id"):
            continue
        for j, own in enumerate(diff.get("constraint") or []):
            if isinstance(own, dict) and own.get("key") == constraint.get("key"):
                return f"StructureDefinition.differential.element[{i}].constraint[{j}].expression"
    return None


def element_expression(message: str, sd: dict[str, Any]) -> str:
    """The element a compile error's ``message`` names (the longest element id in it), as a
    FHIRPath into ``sd``; the StructureDefinition itself when none is named."""
    best, where = 0, "StructureDefinition"
    for part in ("snapshot", "differential"):
        for i, element in enumerate((sd.get(part) or {}).get("element") or []):
            eid = element.get("id") or element.get("path") if isinstance(element, dict) else None
            if isinstance(eid, str) and len(eid) > best and eid in message:
                best, where = len(eid), f"StructureDefinition.{part}.element[{i}]"
    return where


def check_bounds(sd: dict[str, Any]) -> None:
    """Refuse a StructureDefinition over the bounds — before anything else reads it (R4's own
    invariants on StructureDefinition walk every element)."""
    size = len(orjson.dumps(sd))
    if size > MAX_BYTES:
        raise DefinitionRefused(f"a StructureDefinition of {size} bytes; at most {MAX_BYTES}")
    constraints = 0
    for part in ("snapshot", "differential"):
        elements = (sd.get(part) or {}).get("element") or []
        if not isinstance(elements, list):
            raise DefinitionRefused(f"{part}.element must be a list", f"StructureDefinition.{part}")
        if len(elements) > MAX_ELEMENTS:
            raise DefinitionRefused(
                f"{len(elements)} {part} elements; at most {MAX_ELEMENTS}",
                f"StructureDefinition.{part}.element",
            )
        for i, element in enumerate(elements):
            where = f"StructureDefinition.{part}.element[{i}]"
            if not isinstance(element, dict):
                raise DefinitionRefused("an element must be an object", where)
            for j, constraint in enumerate(element.get("constraint") or []):
                constraints += 1
                text = constraint.get("expression") if isinstance(constraint, dict) else None
                if isinstance(text, str) and len(text) > MAX_EXPRESSION:
                    raise DefinitionRefused(
                        f"an invariant expression of {len(text)} characters; at most"
                        f" {MAX_EXPRESSION}",
                        f"{where}.constraint[{j}].expression",
                    )
    if constraints > MAX_CONSTRAINTS:
        raise DefinitionRefused(f"{constraints} invariants; at most {MAX_CONSTRAINTS}")


def _normalised(differential: list[Any]) -> list[dict[str, Any]]:
    """The differential as the generator reads it: every element with an ``id`` (from
    ``path`` and ``sliceName`` where a tool left it out), ``path`` and ``base`` dropped (the
    generator derives them; a ``path`` that contradicts the ``id`` is refused)."""
    out = []
    for i, element in enumerate(differential):
        where = f"StructureDefinition.differential.element[{i}]"
        if not isinstance(element, dict):
            raise DefinitionRefused("an element must be an object", where)
        element = copy.deepcopy(element)
        path = element.pop("path", None)
        element.pop("base", None)
        eid = element.get("id")
        if not isinstance(eid, str):
            if not isinstance(path, str):
                raise DefinitionRefused("an element needs an id or a path", where)
            slice_name = element.get("sliceName")
            eid = f"{path}:{slice_name}" if isinstance(slice_name, str) else path
            element["id"] = eid
        if isinstance(path, str) and path_of(eid) != path and not _renamed(path_of(eid), path):
            raise DefinitionRefused(f"path {path} does not match id {eid}", where)
        out.append(element)
    return out


def _renamed(from_id: str, path: str) -> bool:
    """``Observation.valueQuantity`` in the id with ``Observation.value[x]`` as the path."""
    return path.endswith("[x]") and from_id.startswith(path[:-3])


def _where(message: str, differential: list[Any]) -> str:
    for i, element in enumerate(differential):
        eid = element.get("id") if isinstance(element, dict) else None
        if isinstance(eid, str) and message.startswith(eid + ":"):
            return f"StructureDefinition.differential.element[{i}]"
    return "StructureDefinition.differential"
