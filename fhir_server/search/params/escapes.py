"""Search value escaping (search.html#escaping): ``\\,`` ``\\$`` ``\\|`` and ``\\\\`` stand for the
character itself, so an OR list splits on unescaped commas and a composite value on unescaped
dollars — each split keeping the other escapes for the next one."""

from __future__ import annotations


def split_escaped(raw: str, separator: str) -> list[str]:
    """Split on unescaped ``separator``; every escape is kept as written."""
    out, start, i = [], 0, 0
    while i < len(raw):
        if raw[i] == "\\":
            i += 2
            continue
        if raw[i] == separator:
            out.append(raw[start:i])
            start = i + 1
        i += 1
    out.append(raw[start:])
    return out


def unescape(raw: str) -> str:
    """``\\x`` → ``x``; a trailing lone backslash stays."""
    out, i = [], 0
    while i < len(raw):
        if raw[i] == "\\" and i + 1 < len(raw):
            out.append(raw[i + 1])
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return "".join(out)
