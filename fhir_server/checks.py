"""Everything a resource must pass before it is stored, in one place for every write path
(HTTP, Bundle entries, patches, ``fhir-server load``): its structure, then the rules of its
type that the store relies on (a SearchParameter the server can search with)."""

from __future__ import annotations

from typing import Any

from fhir_server.search import custom
from fhir_server.structure import check_structure


def check_resource(type_: str, resource: Any) -> dict[str, Any]:
    """The resource if it may be stored as a ``type_``; else an error naming each element."""
    checked = check_structure(type_, resource)
    if type_ == "SearchParameter":
        custom.check(checked)
    return checked
