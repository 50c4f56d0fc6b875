"""Index extraction at write time: what each resource contributes to the search index."""

from __future__ import annotations

from typing import Any

from fhir_server.search.model import Index
from fhir_server.search.registry import params_for


def _identifier_tokens(values: Any) -> list[tuple[str, str | None, str]]:
    out = []
    for ident in values if isinstance(values, list) else [values]:
        if isinstance(ident, dict) and isinstance(ident.get("value"), str):
            system = ident.get("system")
            out.append(("identifier", system if isinstance(system, str) else None, ident["value"]))
    return out


def index_resource(type_: str, resource: dict[str, Any]) -> Index:
    tokens: list[tuple[str, str | None, str]] = []
    for param in params_for(type_).values():
        if param.kind == "token" and param.path in resource:
            tokens.extend(_identifier_tokens(resource[param.path]))
    return Index(tokens=tuple(tokens))
