"""What of a resource a response shows, in one place for every way a resource goes out: a read
over HTTP, a search Bundle's entries (matches and includes) and a batch or transaction Bundle's
response entries.

`Shape` is `_summary` and `_elements`, parsed by one rule (a read and a search refuse the same
values) and applied by one function (a subset is marked SUBSETTED); `returned` is what a result
shows at all under ``Prefer: return=``. ``_pretty`` and the wire format are the HTTP layer's
(`http/respond.py`, `http/codecs.py`): they change how, not what, a response shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from fhir_server import fhir_json
from fhir_server.errors import Invalid
from fhir_server.interactions.context import FhirResult
from fhir_server.stored import StoredResource
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


def parse_summary(raw: str) -> str:
    if raw not in SUMMARY_MODES:
        raise Invalid(
            f"_summary={raw} is not one of {', '.join(sorted(SUMMARY_MODES))}", ["_summary"]
        )
    return raw


@dataclass(frozen=True, slots=True)
class Shape:
    """How much of each resource to show: ``_summary`` (``count`` shows no resources at all,
    which is the search's to decide; a resource it is given it shows whole) and ``_elements``."""

    summary: str | None = None
    elements: Sequence[str] | None = None

    @classmethod
    def of(cls, params: Sequence[tuple[str, str]]) -> Shape:
        """The shape a request's parameters ask for; 400 naming a value that is not one."""
        if not params:
            return WHOLE
        summary = next((v for k, v in params if k == "_summary"), None)
        elements = next((v for k, v in params if k == "_elements"), None)
        if summary is None and elements is None:
            return WHOLE
        return cls(
            None if summary is None else parse_summary(summary),
            None if elements is None else parse_elements(elements),
        )

    @property
    def whole(self) -> bool:
        return self.summary in (None, "false", "count") and self.elements is None

    def resource(self, stored: StoredResource) -> Any:
        """``stored`` as a Bundle entry's resource: its stored bytes as they are, or the
        subset (parsed, for the Bundle to write)."""
        if self.whole:
            return orjson.Fragment(stored.content or b"{}")
        return self._subset(fhir_json.loads(stored.content or b"{}"))

    def apply(self, content: bytes) -> bytes:
        """A stored resource's bytes as this shape shows them."""
        if self.whole:
            return content
        return fhir_json.dumps(self._subset(fhir_json.loads(content)))

    def _subset(self, resource: dict[str, Any]) -> dict[str, Any]:
        if self.summary not in (None, "false", "count"):
            resource = summarize(resource, self.summary)
        if self.elements is not None:
            resource = select_elements(resource, list(self.elements))
        return resource


WHOLE = Shape()
"""Every element (no ``_summary``, no ``_elements``)."""


def returned(result: FhirResult, shape: Shape, prefer: str | None) -> bytes | None:
    """What a result shows (None: nothing) under ``Prefer: return=`` (``minimal``: nothing;
    ``representation``, the default, and ``OperationOutcome``: the resource — where the outcome
    goes is the container's, the HTTP body or a Bundle entry's ``response.outcome``): a payload
    of its own (a Bundle, an outcome) as it is, else the version it is about, in ``shape``."""
    if prefer == "minimal":
        return None
    if result.body is not None:
        return result.body
    stored = result.stored
    if stored is None or stored.content is None or result.status == 204:
        return None
    return shape.apply(stored.content)
