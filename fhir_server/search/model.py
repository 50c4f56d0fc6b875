"""A parsed search: filters ANDed, each an OR of values — parsed once, compiled per store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ANY = "*any*"
"""Token system wildcard: ``code`` alone matches a code in any system."""


@dataclass(frozen=True, slots=True)
class TokenValue:
    system: str | None  # None: no system (``|code``); ANY: any system
    code: str | None  # None: any code (``system|``)


@dataclass(frozen=True, slots=True)
class Filter:
    param: str
    kind: Literal["id", "token"]
    values: tuple[TokenValue, ...]


@dataclass(slots=True)
class SearchQuery:
    type: str
    filters: list[Filter] = field(default_factory=list)
    count: int = 50
    after_id: str | None = None
    """Keyset cursor: results are ordered by id; the next page starts after this id."""


@dataclass(frozen=True, slots=True)
class Index:
    """What a resource version contributes to the search index (current versions only)."""

    tokens: tuple[tuple[str, str | None, str], ...] = ()
