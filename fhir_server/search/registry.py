"""Which search parameters each served type supports, and of which kind.

Today: `_id` and `identifier` — what conditional create/update/delete and conditional references
need. The full R4 table (generated from the spec's SearchParameter definitions) replaces this.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhir_server.resource_types import SERVED_TYPES, WITHOUT_IDENTIFIER_PARAM


@dataclass(frozen=True, slots=True)
class SearchParam:
    name: str
    kind: str  # "id" | "token"
    path: str | None
    documentation: str


_ID = SearchParam("_id", "id", None, "Logical id of this artifact")


def params_for(type_: str) -> dict[str, SearchParam]:
    out = {"_id": _ID}
    if type_ in SERVED_TYPES and type_ not in WITHOUT_IDENTIFIER_PARAM:
        out["identifier"] = SearchParam(
            "identifier", "token", "identifier", f"An identifier of the {type_}"
        )
    return out
