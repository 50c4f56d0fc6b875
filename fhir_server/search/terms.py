"""A parsed search: filters ANDed, each an OR of values — parsed once, compiled per store.

Index rows and query values share their shapes per parameter type (Blaze's lesson): the write
side and the query side call the same normalizer in `search/params/<type>.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

ANY = "*any*"
"""Token system wildcard: ``code`` alone matches a code in any system."""

Kind = Literal[
    "id", "token", "string", "date", "number", "quantity", "reference", "uri", "composite"
]


@dataclass(frozen=True, slots=True)
class TokenValue:
    system: str | None  # None: no system (``|code``); ANY: any system
    code: str | None  # None: any code (``system|``)


@dataclass(frozen=True, slots=True)
class StringValue:
    text: str
    """Normalized (see `params/string.normalize`) unless ``mode`` is exact."""
    mode: Literal["start", "exact", "contains"] = "start"


@dataclass(frozen=True, slots=True)
class RangeValue:
    """A date (µs) or number as the half-open range [low, high) it denotes, with its prefix."""

    prefix: str
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class QuantityValue:
    prefix: str
    low: float
    high: float
    system: str | None  # None: any system
    code: str | None  # None: any unit


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    type: str | None
    id: str | None
    url: str | None = None
    """An absolute or canonical URL that is not on this server."""


@dataclass(frozen=True, slots=True)
class UriValue:
    uri: str
    mode: Literal["exact", "above", "below"] = "exact"


SimpleValue = TokenValue | StringValue | RangeValue | QuantityValue | ReferenceValue | UriValue


@dataclass(frozen=True, slots=True)
class CompositeValue:
    """``code$value``: both must hold for the same element (one composite index row)."""

    first: TokenValue
    second: TokenValue | StringValue | RangeValue | QuantityValue | UriValue


Value = SimpleValue | CompositeValue


@dataclass(frozen=True, slots=True)
class Filter:
    param: str
    kind: Kind
    values: tuple[Value, ...]
    modifier: str | None = None
    """``not`` (token), ``missing`` (values are then empty; see ``missing``), …"""
    missing: bool | None = None
    """For ``:missing=true|false``: whether the resource must have no value for ``param``."""


@dataclass(frozen=True, slots=True)
class FilterGroup:
    """Criteria combined beyond a query's plain AND: true when every criterion of some branch
    holds (an OR of ANDs); ``negate``: when none of the branches holds. Branches nest groups,
    so ``owner = p AND NOT (_security = R AND date < d)`` is a branch of a plain filter and a
    negated group. An access decision narrows a search with groups (consent: docs/design/
    consent.md); the stores render them into the same query, so counts and pages stay exact.

    No branch: matches nothing (negated: everything); an empty branch: everything."""

    any_of: tuple[tuple[Criterion, ...], ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class RelatedTo:
    """The Patient the resource's ``param`` names (a reference parameter; ``_id`` for a Patient
    itself) has a care relationship with one of ``holders`` (``Organization/x``,
    ``PractitionerRole/x``, ``Practitioner/x``) that holds at the instant ``at`` — the care
    relationship index (`fhir_server.care_relationships`) as a search criterion. Plain data: the
    stores know nothing of who asks, they join their relationship index in the query (SQLite:
    ``care_relationship``; MongoDB: ``care_relationships``), so a search across a caller's many
    citizens costs one query, whose counts and pages are exact, and not a value per citizen.

    The same as ``Filter(param, "reference", (Patient/p for each related p))`` (``_id`` among
    them for a Patient); no holder: matches nothing."""

    param: str
    holders: tuple[str, ...]
    at: str
    """An instant (``2025-01-01T00:00:00.000000Z``)."""


Criterion = Filter | FilterGroup | RelatedTo
"""What a search's criteria list holds: every one must hold."""


def ids_filter(ids: Iterable[str]) -> Filter:
    """``_id`` among ``ids``; none: a filter that matches nothing by construction (an empty OR),
    on every store — never a made-up id, which a client might have written."""
    return Filter("_id", "id", tuple(TokenValue(ANY, i) for i in sorted(ids)))


def owner_filter(param: str, patients: Iterable[str]) -> Filter:
    """The owner parameter ``param`` (naming the patient a resource is about; ``_id`` for a
    Patient) among ``patients``: what a `RelatedTo` is once its patients are known."""
    if param == "_id":
        return ids_filter(patients)
    return Filter(param, "reference", tuple(ReferenceValue("Patient", p) for p in sorted(patients)))


NOTHING = ids_filter(())
"""Matches no resource (an empty compartment, a scope that admits nothing)."""


@dataclass(frozen=True, slots=True)
class Include:
    """``_include=Source:param[:Target]`` / ``_revinclude=…``; ``*`` for every parameter."""

    source: str
    param: str
    target: str | None = None
    iterate: bool = False


@dataclass(frozen=True, slots=True)
class Chain:
    """A criterion answered by an inner search: ``subject:Patient.name=x`` (chain: ``param`` is
    the outer reference parameter) or ``_has:Observation:patient:code=x`` (reverse chain:
    ``param`` is ``_has``, ``target`` the referring type, ``via`` its reference parameter)."""

    param: str
    target: str | None
    via: str | None
    inner: tuple[tuple[str, str], ...]
    written: str
    """The parameter as the client wrote it, for error messages."""


@dataclass(frozen=True, slots=True)
class SortKey:
    param: str
    kind: str
    """The parameter's search type (``id`` for ``_id``): which index holds its values."""
    descending: bool = False


@dataclass(slots=True)
class SearchQuery:
    type: str
    filters: list[Criterion] = field(default_factory=list)
    """ANDed: plain filters (from the client's parameters) and groups (from access)."""
    count: int = 50
    after_id: str | None = None
    """The store's keyset cursor: the next page starts after the row it names (the last id,
    or with ``sort`` the last row's sort values and id)."""
    backward: bool = False
    """Page backwards: the ``count`` rows just before the row ``after_id`` names (the last
    ``count`` rows when it is None), still returned in the query's order."""
    sort: list[SortKey] = field(default_factory=list)
    total: str | None = None
    """``_total``: ``none``, ``estimate``, ``accurate``; None when not asked (the total is then
    given when it costs nothing: the first page holds the whole result)."""
    summary: str | None = None
    elements: list[str] | None = None
    includes: list[Include] = field(default_factory=list)
    revincludes: list[Include] = field(default_factory=list)
    chains: list[Chain] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    """Parameters ignored under ``Prefer: handling=lenient``."""


@dataclass(frozen=True, slots=True)
class Index:
    """What a resource version contributes to the search index (current versions only).

    Every row starts with the parameter name; the rest is the per-type normalized value.
    """

    tokens: tuple[tuple[str, str | None, str], ...] = ()
    strings: tuple[tuple[str, str, str], ...] = ()
    """(param, normalized text, text as written): the first case- and accent-folded, for
    starts-with and contains; the second for ``:exact``."""
    dates: tuple[tuple[str, int, int], ...] = ()
    """(param, start µs, end µs): the period the value denotes, half-open."""
    numbers: tuple[tuple[str, float, float], ...] = ()
    """(param, low, high): the value's implicit precision range."""
    quantities: tuple[tuple[str, str | None, str | None, float, float], ...] = ()
    """(param, system, code, low, high)."""
    references: tuple[tuple[str, str | None, str | None, str | None], ...] = ()
    """(param, type, id, url): a local reference has type and id; anything else only url."""
    uris: tuple[tuple[str, str], ...] = ()
    composites: tuple[
        tuple[str, str | None, str, str | None, str | None, float | None, float | None], ...
    ] = ()
    """(param, system, code, v, vs, lo, hi): per element the composite's expression selects,
    the first component's token and the second component's value — ``v``/``vs`` its code and
    system (token, quantity), folded text and text as written (string) or uri; ``lo``/``hi``
    its range (quantity, date, number). None where the second component's type has no such
    part."""
    present: tuple[str, ...] = ()
    """Every parameter with at least one value (for ``:missing``)."""
