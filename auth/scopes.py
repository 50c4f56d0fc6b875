"""SMART App Launch scopes (v1 and v2) parsed into what they permit.

Grammar (http://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html):

- v2: ``(patient|user|system)/(Type|*).<cruds>[?query]`` — the permission letters a non-empty
  subset of ``c r u d s`` *in that order*, optionally narrowed by a FHIR search query
  (``patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory``).
- v1: ``(patient|user|system)/(Type|*).(read|write|*)``; ``read`` is v2's ``rs``, ``write``
  ``cud``, ``*`` all five — so a v1 and its v2 twin grant exactly the same thing.
- Scopes that grant no data access (``launch``, ``launch/patient``, ``launch/encounter``,
  ``openid``, ``fhirUser``, ``profile``, ``offline_access``, ``online_access``) are kept as
  flags; any other string is no resource scope and grants nothing (servers ignore scopes they
  do not know).

Letters map to interactions as the SMART spec's table says: ``c`` create, ``r`` read, vread and
instance history, ``u`` update and patch, ``d`` delete, ``s`` search and type/system history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import parse_qsl

LETTERS = "cruds"
CONTEXTS = frozenset({"patient", "user", "system"})
NON_RESOURCE = frozenset(
    {
        "launch",
        "launch/patient",
        "launch/encounter",
        "openid",
        "fhirUser",
        "profile",
        "offline_access",
        "online_access",
    }
)
_V1 = {"read": "rs", "write": "cud", "*": LETTERS}
_SHAPE = re.compile(r"(patient|user|system)/(\*|[A-Z][A-Za-z]{0,63})\.([a-z*]+)(?:\?(.*))?")
_V2 = re.compile(r"c?r?u?d?s?")


class InvalidScope(ValueError):
    """A string shaped like a resource scope that breaks its grammar (``patient/Obs.rsc``)."""


@dataclass(frozen=True, slots=True)
class ResourceScope:
    context: str
    """``patient``, ``user`` or ``system``."""
    type: str
    """A resource type, or ``*`` for every type."""
    letters: frozenset[str]
    query: tuple[tuple[str, str], ...] = ()
    """The search parameters a query-filtered scope narrows access to (ANDed)."""
    version: int = 2
    """1 for the v1 spelling (``.read``/``.write``/``.*``), 2 for ``.cruds``."""

    def covers(self, type_: str) -> bool:
        return self.type == "*" or self.type == type_

    @property
    def v2(self) -> str:
        """The same grant in v2 spelling (for equivalence checks, docs and introspection)."""
        letters = "".join(c for c in LETTERS if c in self.letters)
        query = "&".join(f"{k}={v}" for k, v in self.query)
        return f"{self.context}/{self.type}.{letters}" + (f"?{query}" if query else "")


def parse_scope(text: str) -> ResourceScope | None:
    """The resource scope ``text`` spells; None for the non-resource ones (``openid``, …)."""
    if text in NON_RESOURCE or text.startswith("launch/"):
        return None
    m = _SHAPE.fullmatch(text)
    if m is None:
        if text.split("/", 1)[0] in CONTEXTS:
            raise InvalidScope(f"{text!r} is not a SMART resource scope")
        return None
    context, type_, perm, query = m.groups()
    if perm in _V1:
        if query is not None:
            raise InvalidScope(f"{text!r}: only v2 scopes (.cruds) may carry a query")
        return ResourceScope(context, type_, frozenset(_V1[perm]), version=1)
    if not perm or not _V2.fullmatch(perm):
        raise InvalidScope(
            f"{text!r}: permissions must be a non-empty subset of c, r, u, d, s in that order"
            " (or read, write, * in v1)"
        )
    pairs = tuple(parse_qsl(query, keep_blank_values=True)) if query is not None else ()
    if query is not None and (not pairs or any(not k or not v for k, v in pairs)):
        raise InvalidScope(f"{text!r}: the query must be name=value pairs")
    return ResourceScope(context, type_, frozenset(perm), pairs)


def is_valid_scope(text: str) -> bool:
    """Whether a requested scope is well formed (an authorization server refuses others)."""
    try:
        parse_scope(text)
    except InvalidScope:
        return False
    return bool(text) and not any(c.isspace() for c in text)


@dataclass(frozen=True, slots=True)
class Grant:
    """Every scope of one token: the resource scopes and the non-resource flags."""

    resource: tuple[ResourceScope, ...] = ()
    flags: frozenset[str] = frozenset()
    raw: tuple[str, ...] = ()
    _by_type: dict[str, tuple[ResourceScope, ...]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    def for_type(self, type_: str, letters: str) -> tuple[ResourceScope, ...]:
        """The scopes that grant any of ``letters`` on ``type_`` (cached per type and letters:
        the same few questions are asked on every request of a token)."""
        key = f"{type_}.{letters}"
        found = self._by_type.get(key)
        if found is None:
            found = tuple(
                s for s in self.resource if s.covers(type_) and not s.letters.isdisjoint(letters)
            )
            self._by_type[key] = found
        return found

    def has(self, flag: str) -> bool:
        return flag in self.flags


@lru_cache(maxsize=4096)
def parse_scopes(text: str) -> Grant:
    """A token's ``scope`` claim (space separated). Malformed resource scopes grant nothing
    (the authorization server should never have issued them); see `is_valid_scope`."""
    resource: list[ResourceScope] = []
    flags: set[str] = set()
    raw = tuple(s for s in text.split() if s)
    for item in raw:
        try:
            parsed = parse_scope(item)
        except InvalidScope:
            continue
        if parsed is not None:
            resource.append(parsed)
        elif item in NON_RESOURCE or item.startswith("launch/"):
            flags.add(item)
    return Grant(tuple(resource), frozenset(flags), raw)
