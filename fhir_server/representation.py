"""Subsetting a resource for `_summary` and `_elements` (read and search), marked SUBSETTED."""

from __future__ import annotations

from typing import Any

from fhir_server.errors import Invalid
from profiles.elements import Definitions

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
_ALWAYS = ("resourceType", "id", "meta")
SUMMARY_MODES = frozenset({"true", "text", "data", "count", "false"})


def _mark(resource: dict[str, Any]) -> dict[str, Any]:
    meta = dict(resource.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    resource["meta"] = meta
    return resource


def summarize(resource: dict[str, Any], mode: str) -> dict[str, Any]:
    type_ = resource["resourceType"]
    if mode == "false":
        return resource
    keep: frozenset[str] | set[str]
    if mode == "true":
        keep = Definitions.default().summary_elements(type_) | set(_ALWAYS)
        out = {k: v for k, v in resource.items() if k in keep or k.lstrip("_") in keep}
    elif mode == "text":
        keep = set(_ALWAYS) | {"text"} | Definitions.default().required_elements(type_)
        out = {k: v for k, v in resource.items() if k in keep or k.lstrip("_") in keep}
    elif mode == "data":
        out = {k: v for k, v in resource.items() if k != "text"}
    else:
        raise Invalid(f"_summary={mode} is not supported here", ["_summary"])
    return _mark(out)


def select_elements(resource: dict[str, Any], elements: list[str]) -> dict[str, Any]:
    """Keep the named top-level elements (plus id, meta and the mandatory ones)."""
    keep = set(_ALWAYS) | Definitions.default().required_elements(resource["resourceType"])
    keep |= {e.split(".", 1)[0] for e in elements}
    return _mark({k: v for k, v in resource.items() if k in keep or k.lstrip("_") in keep})


def parse_elements(raw: str) -> list[str]:
    names = [e.strip() for e in raw.split(",") if e.strip()]
    if not names:
        raise Invalid("_elements needs at least one element name", ["_elements"])
    return names
