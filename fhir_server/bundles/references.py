"""Reference resolution inside a transaction: ``urn:uuid:`` fullUrls and conditional references."""

from __future__ import annotations

from typing import Any

from fhir_server import fhir_json


def reference_holders(node: Any) -> list[dict[str, Any]]:
    """Every element (Reference) with a string ``reference``, anywhere in the resource, in
    document order.

    A plain walk: the caller resolves the distinct references (some need a search) and rewrites
    the holders in place. (Recursion with exact type tests: a third of the cost of a stack
    walk with ``isinstance``, and a write walks every body twice.)
    """
    out: list[dict[str, Any]] = []
    _collect(node, out)
    return out


def _collect(node: Any, out: list[dict[str, Any]]) -> None:
    if type(node) is dict:
        if type(node.get("reference")) is str:
            out.append(node)
        values: Any = node.values()
    elif type(node) is list:
        values = node
    else:
        return
    for value in values:
        kind = type(value)
        if kind is dict or kind is list:
            _collect(value, out)


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
