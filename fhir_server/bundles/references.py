"""Reference resolution inside a transaction: ``urn:uuid:`` fullUrls and conditional references."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Resolver = Callable[[str], Awaitable[str | None]]


async def rewrite_references(node: Any, resolve: Resolver) -> Any:
    """Replace every ``reference`` the resolver knows, in place, anywhere in the resource."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                new = await resolve(value)
                if new is not None:
                    node[key] = new
            elif isinstance(value, dict | list):
                await rewrite_references(value, resolve)
    elif isinstance(node, list):
        for item in node:
            await rewrite_references(item, resolve)
    return node


def is_conditional_reference(ref: str) -> bool:
    """``Patient?identifier=…`` — a type, a question mark, criteria (not an absolute URL)."""
    head, sep, _ = ref.partition("?")
    return bool(sep) and "/" not in head and ":" not in head
