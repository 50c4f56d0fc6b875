"""A bulk export's kick-off parameters, checked before anything is started (Bulk Data Access
2.0, export.html#query-parameters): what is wrong is refused with 400 naming the parameter,
never found out later as a failed job."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl

from fhir_server import compartment
from fhir_server.errors import Invalid, NotSupported
from fhir_server.resource_types import SERVED_TYPES

NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = frozenset({NDJSON, "application/ndjson", "ndjson"})
"""``_outputFormat`` values meaning ndjson (the IG's abbreviations included)."""

UNSUPPORTED = ("_elements", "includeAssociatedData", "patient", "organizeOutputBy")
"""Kick-off parameters of the IG this server does not implement: refused (400) unless the
client prefers ``handling=lenient``, as the IG asks."""
_KNOWN = frozenset({"_outputFormat", "_since", "_type", "_typeFilter", *UNSUPPORTED})
_NOT_FILTERS = frozenset(
    {
        "_include",
        "_revinclude",
        "_sort",
        "_count",
        "_summary",
        "_elements",
        "_total",
        "_contained",
        "_containedType",
        "_cursor",
        "_format",
        "_pretty",
    }
)
"""Search parameters that shape a result rather than select resources: no ``_typeFilter``
may carry them."""
_FILTER_START = re.compile(r",(?=[A-Z][A-Za-z]*\?)")
"""Where comma-separated ``_typeFilter`` queries split: before the next ``Type?``."""


@dataclass(slots=True)
class ExportRequest:
    types: list[str]
    """The types asked for with ``_type``; empty: every type the level exports."""
    since: str | None = None
    type_filters: dict[str, list[str]] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


def level_types(level: str) -> list[str]:
    """Every type an export at ``level`` may hold: all served types (system), or those with a
    patient compartment (a Patient or Group export holds the patients' data)."""
    if level == "system":
        return sorted(SERVED_TYPES)
    return sorted(t for t in SERVED_TYPES if compartment.has_compartment(t))


def parse_request(level: str, pairs: list[tuple[str, str]], lenient: bool = False) -> ExportRequest:
    """The kick-off's parameters (query pairs, or a Parameters body as pairs)."""
    allowed = level_types(level)
    out = ExportRequest([])
    for name, value in pairs:
        if name in ("_format", "_pretty"):
            continue
        if name not in _KNOWN or name in UNSUPPORTED:
            if lenient:
                out.ignored.append(name)
                continue
            if name in UNSUPPORTED:
                raise NotSupported(f"{name} is not supported by this server's $export", [name])
            raise Invalid(f"Unknown $export parameter {name!r}", [name])
        if name == "_outputFormat" and value not in OUTPUT_FORMATS:
            raise Invalid(
                f"_outputFormat {value!r} is not supported (only {NDJSON})", ["_outputFormat"]
            )
        if name == "_since":
            if out.since is not None:
                raise Invalid("_since may be given only once", ["_since"])
            out.since = _instant(value)
        if name == "_type":
            for type_ in (t.strip() for t in value.split(",")):
                if type_ not in allowed:
                    where = "this server serves" if level == "system" else "a patient's data has"
                    raise Invalid(f"_type names {type_!r}, which no type {where}", ["_type"])
                if type_ not in out.types:
                    out.types.append(type_)
        if name == "_typeFilter":
            for query in _FILTER_START.split(value):
                type_, filter_ = _type_filter(query, allowed)
                out.type_filters.setdefault(type_, []).append(filter_)
    stray = [t for t in out.type_filters if out.types and t not in out.types]
    if stray:
        raise Invalid(f"_typeFilter names {stray[0]}, which _type does not", ["_typeFilter"])
    return out


def _instant(value: str) -> str:
    """A FHIR instant (with its time zone), as given."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in value:
        raise Invalid(f"_since must be an instant with a time zone, not {value!r}", ["_since"])
    return value


def _type_filter(query: str, allowed: list[str]) -> tuple[str, str]:
    type_, mark, rest = query.strip().partition("?")
    if not mark or type_ not in allowed:
        raise Invalid(
            f"_typeFilter {query!r} is not a search of an exported type (Type?parameters)",
            ["_typeFilter"],
        )
    shaping = [k for k, _ in parse_qsl(rest, keep_blank_values=True) if k in _NOT_FILTERS]
    if shaping or not rest:
        what = shaping[0] if shaping else "no parameters"
        raise Invalid(f"_typeFilter {query!r} has {what}: it may only select", ["_typeFilter"])
    return type_, rest
