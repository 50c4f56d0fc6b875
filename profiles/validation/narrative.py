"""The narrative rules behind ``htmlChecks()`` (R4 narrative.html §2.4.0.1; txt-1 and txt-2).

R4 writes both invariants as ``htmlChecks()``, a function only the reference validator defines;
here it is two checks: txt-1, the XHTML is a ``<div>`` in the XHTML namespace using only the basic
formatting elements, links, images and style attributes (no scripts, forms, frames, objects, event
handler attributes); txt-2, it has some non-whitespace content. A tag scanner rather than an XML
parser: it runs on every write, and HTML entities (``&nbsp;``) are allowed in narrative.

The verdicts are kept by the narrative's digest (a bounded memo): the same narrative is checked
more than once — a received message's Communication when it is written, a redelivered message,
a resource updated without changing its text — and the answer depends on the text alone.
"""

from __future__ import annotations

import hashlib
import re

XHTML_NS = "http://www.w3.org/1999/xhtml"
_ALLOWED_NAMES = (
    "a abbr acronym b big blockquote br caption cite code col colgroup dd del dfn div dl dt "
    "em h1 h2 h3 h4 h5 h6 hr i img ins kbd li ol p pre q samp small span strong sub sup "
    "table tbody td tfoot th thead tr tt u ul var"
)
ALLOWED = frozenset(_ALLOWED_NAMES.split())
VOID = frozenset({"br", "hr", "img", "col"})
# one pattern starting with the literal "<", so the engine jumps from tag to tag
_TOKEN = re.compile(r"<(?:!--.*?-->|(/?)([A-Za-z][A-Za-z0-9:_-]*)([^<>]*)>|)", re.DOTALL)
_ATTRIBUTE = re.compile(r"""([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("[^"]*"|'[^']*')""")
_ATTRIBUTES = re.compile(r"""(?:\s+[A-Za-z_:][-A-Za-z0-9_:.]*\s*=\s*(?:"[^"]*"|'[^']*'))*\s*""")
_TAG = re.compile(r"<[^>]*>")


_MEMO_SIZE = 4096
_memo: dict[tuple[bytes, bool], str | bool | None] = {}


def _digest(div: str) -> bytes:
    return hashlib.blake2b(div.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _remembered(key: tuple[bytes, bool], verdict: str | bool | None) -> str | bool | None:
    if len(_memo) >= _MEMO_SIZE:
        _memo.clear()  # simpler than LRU order, and a full memo is rare: verdicts are cheap
    _memo[key] = verdict
    return verdict


def xhtml_problem(div: str) -> str | None:
    """Why ``div`` breaks txt-1, or None when it keeps it."""
    key = (_digest(div), True)
    if key in _memo:
        return _memo[key]  # type: ignore[return-value]
    return _remembered(key, _xhtml_problem(div))  # type: ignore[return-value]


def _xhtml_problem(div: str) -> str | None:
    if not div.startswith("<div"):
        return "the narrative must be a <div> element"
    stack: list[str] = []
    end = len(div.rstrip())
    for m in _TOKEN.finditer(div):
        closing, name, attributes = m.groups()
        if name is None:
            if m.group(0).startswith("<!--"):
                continue
            return "markup that is not an element (processing instruction, CDATA or stray '<')"
        name = name.lower()
        empty = attributes.endswith("/")
        if empty:
            attributes = attributes[:-1]
        if name not in ALLOWED:
            return f"element <{name}> is not allowed in narrative"
        if closing:
            if not stack or stack.pop() != name:
                return f"</{name}> does not close the open element"
            if not stack and m.end() != end:
                return "content after the closing </div>"
            continue
        if attributes or not stack:
            problem = _attribute_problem(name, attributes, not stack)
            if problem:
                return problem
        if not empty and name not in VOID:
            stack.append(name)
    return f"<{stack[-1]}> is not closed" if stack else None


def _attribute_problem(name: str, attributes: str, root: bool) -> str | None:
    if not attributes and not root:
        return None
    if _ATTRIBUTES.fullmatch(attributes) is None:
        return f"<{name}> has a malformed attribute"
    if not root and "on" not in attributes.lower():
        return None  # no attribute name can start with "on" (the common case, without parsing)
    pairs = dict(_ATTRIBUTE.findall(attributes))
    for attr in pairs:
        if attr.lower().startswith("on"):
            return f"event attribute {attr} is not allowed in narrative"
    if root and pairs.get("xmlns", "").strip("\"'") != XHTML_NS:
        return f'the <div> must declare xmlns="{XHTML_NS}"'
    return None


def has_content(div: str) -> bool:
    """txt-2: some text (an entity counts) or an image."""
    key = (_digest(div), False)
    if key in _memo:
        return bool(_memo[key])
    return bool(_remembered(key, _has_content(div)))


def _has_content(div: str) -> bool:
    if _TAG.sub(" ", div).strip():
        return True
    return any((m.group(2) or "").lower() == "img" for m in _TOKEN.finditer(div))
