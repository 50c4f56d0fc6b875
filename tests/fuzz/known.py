"""Defects the fuzzers find that ISSUE-10 gives to other items (and helpers): each is tolerated in
the seeded run — and counted apart in `make fuzz` — by its exact shape, until its fix lands.

REMOVE an entry when its item is merged: the seeded run then proves the fix holds. An entry
matches only a server error (or a non-OperationOutcome error) of its own shape, so anything else
still fails the run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import orjson

from tests.fuzz.harness import Finding

Matcher = Callable[[Finding], bool]


def _json(finding: Finding) -> Any:
    try:
        return orjson.loads(finding.body or b"")
    except orjson.JSONDecodeError:
        return None


def _nodes(node: Any) -> Iterator[Any]:
    """Every dict and list in a JSON tree (iteratively: the trees may be deep)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            yield item
            stack.extend(item)


def _depth(node: Any) -> int:
    deepest, stack = 0, [(node, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _request_text(finding: Finding) -> str:
    headers = " ".join(
        v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
        for v in finding.headers.values()
    )
    return unquote(finding.url) + " " + headers


def _unicode_digits(finding: Finding) -> bool:
    """Item 11: ``isdigit()`` accepts ``²`` in versions, ``_count``, ``_cursor``, If-Match."""
    return any(c.isdigit() and not c.isascii() for c in _request_text(finding))


def _huge_integer(finding: Finding) -> bool:
    """Item 11: integers ≥ 2^63 (vread version, history ``_cursor``, If-Match)."""
    return any(int(n) >= 2**63 for n in re.findall(r"\d{19,}", _request_text(finding)))


def _year_9999(finding: Finding) -> bool:
    """Item 11: a date search or ``_since``/``_at`` at the end of year 9999."""
    return "9999" in unquote(finding.url)


def _contained_not_array(finding: Finding) -> bool:
    """Item 11: ``contained`` that is not an array (profiles/validation/invariants.py)."""
    return any(
        isinstance(n, dict) and "contained" in n and not isinstance(n["contained"], list)
        for n in _nodes(_json(finding))
    )


def _bundle_entry_types(finding: Finding) -> bool:
    """Item 11: a Bundle entry's ``request.method``/``fullUrl`` (or the parts around them) of
    the wrong JSON type (bundles/processor.py)."""
    doc = _json(finding)
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        return False
    entries = doc.get("entry")
    if not isinstance(entries, list):
        return True
    for entry in entries:
        if not isinstance(entry, dict):
            return True
        request = entry.get("request")
        if "fullUrl" in entry and not isinstance(entry["fullUrl"], str):
            return True
        if not isinstance(request, dict):
            return request is not None
        if not all(isinstance(request.get(k, ""), str) for k in ("method", "url")):
            return True
    return False


def _patch_result(finding: Finding) -> bool:
    """Item 11: a JSON Patch whose result is not an object (an operation on the root path);
    FHIRPath Patch ``add`` (on a primitive) (interactions/patch.py, patch/fhirpath_patch.py)."""
    if finding.method != "PATCH":
        return False
    doc = _json(finding)
    if isinstance(doc, list):
        return any(isinstance(op, dict) and op.get("path") in ("", "/") for op in doc)
    return any(isinstance(n, dict) and n.get("valueCode") == "add" for n in _nodes(doc))


def _deep(finding: Finding) -> bool:
    """Item 11: JSON nested beyond what the validator and ``orjson.dumps`` take."""
    return _depth(_json(finding)) > 100


KNOWN: list[tuple[str, Matcher]] = [
    ("item 11: Unicode digits", _unicode_digits),
    ("item 11: integer >= 2^63", _huge_integer),
    ("item 11: date at the end of year 9999", _year_9999),
    ("item 11: contained not an array", _contained_not_array),
    ("item 11: Bundle entry element of the wrong JSON type", _bundle_entry_types),
    ("item 11: patch result", _patch_result),
    ("item 11: deep nesting", _deep),
]


def owner(finding: Finding) -> str | None:
    """The ISSUE-10 item a finding belongs to, or None (a defect nobody owns yet)."""
    if finding.status < 500:
        return None  # every known defect is a 500 answered as an OperationOutcome
    for name, matches in KNOWN:
        if matches(finding):
            return name
    return None
