"""An operation's input parameters, from the query string (GET) or a Parameters body (POST)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir_server.errors import Invalid
from fhir_server.interactions.context import FhirRequest

_VALUE = "value"


@dataclass
class Inputs:
    params: list[dict[str, Any]] = field(default_factory=list)
    """``Parameters.parameter`` entries (query parameters become ``valueString`` entries)."""
    body: dict[str, Any] | None = None
    """A POSTed resource that is not a Parameters resource (e.g. ``$validate`` of a resource)."""
    query: list[tuple[str, str]] = field(default_factory=list)
    """The query string as sent, ``_`` parameters included (``$everything``'s ``_since``,
    ``_type``, ``_count`` and the paging ``_cursor``, which are no inputs of most operations)."""
    request: FhirRequest | None = None
    """The request itself, for what the parameters above leave out: the method and the query's
    ``_``-parameters and preferences (``$export``'s ``_type``, ``Prefer: respond-async``)."""

    @classmethod
    def from_request(cls, req: FhirRequest, op: str) -> Inputs:
        query = [{"name": k, "valueString": v} for k, v in req.params if not k.startswith("_")]
        raw = list(req.params)
        doc = None if req.method == "GET" else req.document()
        if doc is None:
            return cls(query, query=raw, request=req)
        if not isinstance(doc, dict):
            raise Invalid(f"{op} takes a Parameters resource or a resource in the body")
        if doc.get("resourceType") != "Parameters":
            return cls(query, body=doc, query=raw, request=req)
        entries = doc.get("parameter", [])
        if not isinstance(entries, list) or not all(isinstance(p, dict) for p in entries):
            raise Invalid(
                "Parameters.parameter must be a list of objects", ["Parameters.parameter"]
            )
        return cls(query + entries, query=raw, request=req)

    def all(self, name: str) -> list[dict[str, Any]]:
        return [p for p in self.params if p.get("name") == name]

    def value(self, name: str, *types: str) -> Any:
        """The value of the one parameter ``name`` (None if absent), of one of ``types``
        (``String``, ``Code``, ``Uri``, …; a query parameter is accepted as any of them)."""
        found = self.all(name)
        if len(found) > 1:
            raise Invalid(f"Parameter {name!r} may be given only once", [name])
        if not found:
            return None
        p = found[0]
        for key, value in p.items():
            if key.startswith(_VALUE) and (key == "valueString" or key[len(_VALUE) :] in types):
                return value
        raise Invalid(f"Parameter {name!r} must be a {' or '.join(types)}", [name])

    def resource(self, name: str) -> dict[str, Any] | None:
        found = [p.get("resource") for p in self.all(name)]
        if len(found) > 1:
            raise Invalid(f"Parameter {name!r} may be given only once", [name])
        value = found[0] if found else None
        if value is not None and not isinstance(value, dict):
            raise Invalid(f"Parameter {name!r} must be a resource", [name])
        return value
