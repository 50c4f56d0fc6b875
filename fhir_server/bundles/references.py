"""Reference resolution inside a transaction: ``urn:uuid:`` fullUrls and conditional references."""

from __future__ import annotations

from typing import Any

import orjson


def reference_holders(node: Any) -> list[dict[str, Any]]:
    """Every element (Reference) with a string ``reference``, anywhere in the resource.

    A plain walk: the caller resolves the distinct references (some need a search) and rewrites
    the holders in place.
    """
    out: list[dict[str, Any]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("reference"), str):
                out.append(item)
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
    return out


def as_resolved(body: dict[str, Any]) -> dict[str, Any]:
    """The body as it will be once its conditional references are resolved, for validation
    before they are: ``Patient?identifier=…`` stands in as a ``Patient`` reference."""
    if not any(is_conditional_reference(h["reference"]) for h in reference_holders(body)):
        return body
    copy: dict[str, Any] = orjson.loads(orjson.dumps(body))
    for holder in reference_holders(copy):
        if is_conditional_reference(holder["reference"]):
            holder["reference"] = holder["reference"].partition("?")[0] + "/unresolved"
    return copy


def is_conditional_reference(ref: str) -> bool:
    """``Patient?identifier=…`` — a type, a question mark, criteria (not an absolute URL)."""
    head, sep, _ = ref.partition("?")
    return bool(sep) and "/" not in head and ":" not in head
