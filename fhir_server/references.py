"""References, read one way everywhere: where a resource holds them (`reference_holders`), what
a reference text names (`split_reference`) and which local resources a parameter's values
point at (`local_targets`). Used by the search index, includes, chains and ``_has``,
compartments and access, and transactions."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search.registry import builtin_params


@cache
def resource_types() -> frozenset[str]:
    """Every R4 resource type, served or not (``Group/g1`` is a reference to a Group even though
    this server serves no Groups): the targets of the R4 reference parameters name them all."""
    targets = {
        t for type_ in SERVED_TYPES for p in builtin_params(type_).values() for t in p.targets
    }
    return frozenset(targets | SERVED_TYPES)


def split_reference(ref: str) -> tuple[str | None, str | None, str | None]:
    """(type, id, url): ``Patient/1`` and ``https://x/fhir/Patient/1/_history/2`` both give
    Patient and 1; a URL keeps its url so it can also be matched as written."""
    url = ref if "://" in ref or ref.startswith("urn:") else None
    parts = ref.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] in resource_types() and parts[-1]:
        return parts[-2], parts[-1], url
    return None, None, ref if url or "/" in ref else url


def local_reference(ref: Any, base: str | None = None) -> tuple[str, str] | None:
    """(type, id) of the resource a Reference element names on this server: a relative
    ``Type/id`` (a version-specific one too), or an absolute URL under ``base`` (the server's
    FHIR base, when known). None for contained (``#x``), logical (identifier only), conditional
    and ``urn:`` references and for other servers' URLs — and for absolute URLs when no base is
    given, since whose they are cannot be told."""
    text = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(text, str) or not text or text.startswith("#") or "?" in text:
        return None
    if "://" in text or text.startswith("urn:"):
        prefix = base.rstrip("/") + "/" if base else None
        if prefix is None or not text.startswith(prefix):
            return None
        text = text[len(prefix) :]
    parts = text.split("/_history/")[0].split("/")
    if len(parts) != 2 or parts[0] not in resource_types() or not parts[1]:
        return None
    return parts[0], parts[1]


def local_targets(values: Iterable[Any]) -> list[tuple[str, str]]:
    """(type, id) of each resource the References among ``values`` (a reference parameter's
    FHIRPath results) name, in order; contained (``#x``), logical and unparseable ones name
    none."""
    out = []
    for ref in values:
        text = ref.get("reference") if isinstance(ref, dict) else None
        if isinstance(text, str):
            ref_type, ref_id, _ = split_reference(text)
            if ref_type and ref_id:
                out.append((ref_type, ref_id))
    return out


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


def path_to(node: Any, target: dict[str, Any], here: str = "") -> str | None:
    """Where ``target`` (an object inside ``node``) is, as ``.subject`` or ``.performer[1]``
    (only on error paths: a walk of the body)."""
    if node is target:
        return here
    if isinstance(node, dict):
        items: Any = ((f"{here}.{k}", v) for k, v in node.items())
    elif isinstance(node, list):
        items = ((f"{here}[{i}]", v) for i, v in enumerate(node))
    else:
        return None
    for where, value in items:
        found = path_to(value, target, where)
        if found is not None:
            return found
    return None
