"""Reference resolution inside a transaction: ``urn:uuid:`` fullUrls and conditional references."""

from __future__ import annotations

from typing import Any


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


def is_conditional_reference(ref: str) -> bool:
    """``Patient?identifier=…`` — a type, a question mark, criteria (not an absolute URL)."""
    head, sep, _ = ref.partition("?")
    return bool(sep) and "/" not in head and ":" not in head
