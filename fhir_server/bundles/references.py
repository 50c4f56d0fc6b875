"""Reference resolution inside a transaction: ``urn:uuid:`` fullUrls and conditional references."""

from __future__ import annotations

from typing import Any

from fhir_server import fhir_json
from fhir_server.references import reference_holders

__all__ = ["as_resolved", "is_conditional_reference", "reference_holders"]


def as_resolved(
    body: dict[str, Any], holders: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The body as it will be once its conditional references are resolved, for validation
    before they are: ``Patient?identifier=…`` stands in as a ``Patient`` reference.
    ``holders``: the body's `reference_holders`, if the caller has them already."""
    found = reference_holders(body) if holders is None else holders
    if not any(is_conditional_reference(h["reference"]) for h in found):
        return body
    copy: dict[str, Any] = fhir_json.copy(body)
    for holder in reference_holders(copy):
        if is_conditional_reference(holder["reference"]):
            holder["reference"] = holder["reference"].partition("?")[0] + "/unresolved"
    return copy


def is_conditional_reference(ref: str) -> bool:
    """``Patient?identifier=…`` — a type, a question mark, criteria (not an absolute URL)."""
    head, sep, _ = ref.partition("?")
    return bool(sep) and "/" not in head and ":" not in head
