"""``Patient/[id]/$everything`` and ``Encounter/[id]/$everything`` (R4 OperationDefinitions
Patient-everything and Encounter-everything): one citizen's record, or one stay's, in one
searchset Bundle, paged — what a hospital, municipal or GP system fetches instead of a search per
type.

What it holds: the members of the instance's compartment (R4 CompartmentDefinition/patient, or
/encounter with the Encounter itself), and the resources those members refer to of the kinds a
record names but does not own (`REFERENCED`: the directory — practitioners, their roles,
organizations, locations, services —, medications and substances; for an Encounter also its
Patient). AuditEvents are in a patient's compartment but are the trail of who read the record,
not the record: they come only when ``_type`` names them.

Access is a search's, through the one seam: a type the caller may neither read nor search is
left out (named in ``_type``: 403, as a search across types answers); every type's query is
narrowed by `Access.narrow` (scopes, care relationship, consent), so nothing hidden is returned,
counted or paged over; the referenced resources are gathered only from members the caller sees
(a practitioner named only by a blocked Observation would tell of it). The instance itself is
admitted by the router (`interactions.router._check_operation`): one the caller may not see is
answered exactly as an absent one. What a page carries is disclosed (`Access.disclose`) and the
request is settled once by the router, so one call is one audit record per patient touched.

Parameters: ``_since`` (only resources last updated at or after it), ``_type`` (types, comma
separated, repeatable), ``_count`` (page size), for a Patient ``start``/``end`` (care dates: a
type with a ``date`` search parameter is filtered by it; types without one carry no care date
and are always in), and the ``_cursor`` of a paging link. Pages are in (type, id) order behind a
signed cursor, as the system search's (`search.page_across_types`): ``next`` links never repeat
or skip a resource.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from fhir_server import compartment
from fhir_server.access import VISIBLE
from fhir_server.bundles.build import bundle, full_url, page_url, resource_fragment
from fhir_server.errors import Invalid, TooCostly
from fhir_server.interactions.common import every
from fhir_server.interactions.context import Context, FhirResult
from fhir_server.interactions.search import binding_of, page_across_types, query_for
from fhir_server.numbers import parse_count
from fhir_server.operations import Operation
from fhir_server.operations.inputs import Inputs
from fhir_server.references import local_reference, reference_holders
from fhir_server.resource_types import DIRECTORY_TYPES, SERVED_TYPES
from fhir_server.search.dates import date_range
from fhir_server.search.resolve import INNER_LIMIT
from fhir_server.search.terms import (
    Criterion,
    Filter,
    FilterGroup,
    ReferenceValue,
    SearchQuery,
    ids_filter,
)
from fhir_server.stored import StoredResource

REFERENCED: frozenset[str] = DIRECTORY_TYPES | {"Medication", "Substance"}
"""What a record refers to without owning it: returned when a member the caller sees names it."""
TRAIL: frozenset[str] = frozenset({"AuditEvent"})
"""In the compartment, but not the record: only when ``_type`` asks for it."""

_ONCE = ("_since", "_count", "start", "end")
_ACCEPTED = frozenset({"_since", "_type", "_count", "_cursor", "_format", "_pretty"})
_DATED = "date"
"""The search parameter R4 gives the clinically relevant date of a type (``clinical-date``)."""


@dataclass(frozen=True, slots=True)
class _Record:
    """What ``$everything`` gathers for one instance."""

    members: Callable[[str], list[Criterion]]
    """Type → the criteria of its compartment members ([] when it has none)."""
    referenced: frozenset[str]
    dated: bool
    """Whether ``start``/``end`` apply."""


@dataclass(slots=True)
class _Asked:
    types: list[str] | None = None
    since: str | None = None
    count: int = 0
    start: str | None = None
    end: str | None = None
    cursor: str | None = None
    shown: list[tuple[str, str]] = field(default_factory=list)
    """The parameters as the paging links repeat them."""


def _refers(param: str, type_: str, id_: str) -> Filter:
    return Filter(param, "reference", (ReferenceValue(type_, id_),))


def _one_of(branches: list[Criterion]) -> list[Criterion]:
    return [FilterGroup(tuple((b,) for b in branches))] if branches else []


def _patient_record(id_: str) -> _Record:
    def members(type_: str) -> list[Criterion]:
        own: list[Criterion] = [ids_filter([id_])] if type_ == "Patient" else []
        return _one_of(
            own + [_refers(p, "Patient", id_) for p in compartment.params("Patient", type_)]
        )

    return _Record(members, REFERENCED, dated=True)


def _encounter_record(id_: str) -> _Record:
    def members(type_: str) -> list[Criterion]:
        own: list[Criterion] = [ids_filter([id_])] if type_ == "Encounter" else []
        return _one_of(
            own + [_refers(p, "Encounter", id_) for p in compartment.encounter_params(type_)]
        )

    return _Record(members, REFERENCED | {"Patient"}, dated=False)


def _values(inputs: Inputs, name: str) -> list[str]:
    """Every value given for ``name``: in the query string (the ``_`` ones, which `Inputs` keeps
    apart) or as a Parameters entry (any primitive ``value[x]``)."""
    found = [v for k, v in inputs.query if k == name] if name.startswith("_") else []
    for p in inputs.all(name):
        value = next((v for k, v in p.items() if k.startswith("value")), None)
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise Invalid(f"Parameter {name!r} must be a primitive value", [name])
        found.append(str(value))
    return found


def _asked(ctx: Context, inputs: Inputs, record: _Record) -> _Asked:
    if inputs.body is not None:
        raise Invalid("$everything takes a Parameters resource (or none) in the body")
    names = {k for k, _ in inputs.query if k.startswith("_")}
    names |= {str(p.get("name")) for p in inputs.params}
    known = _ACCEPTED | ({"start", "end"} if record.dated else set())
    unknown = sorted(n for n in names if n not in known)
    if unknown:
        raise Invalid(f"$everything does not take the parameter {unknown[0]!r}", [unknown[0]])
    given = {n: _values(inputs, n) for n in (*_ONCE, "_type", "_cursor")}
    for name in _ONCE:
        if len(given[name]) > 1:
            raise Invalid(f"Parameter {name} may be given only once", [name])
    asked = _Asked(count=ctx.settings.default_page_size)
    for name in ("_since", "start", "end"):
        for value in given[name]:
            date_range(value, name)  # a clear 400 naming it, before any query
    asked.since = next(iter(given["_since"]), None)
    asked.start = next(iter(given["start"]), None)
    asked.end = next(iter(given["end"]), None)
    for value in given["_count"]:
        parsed = parse_count(value, ctx.settings.max_page_size, clamp=True)
        if parsed is None:
            raise Invalid(f"_count must be a non-negative integer, not {value!r}", ["_count"])
        asked.count = parsed
    if given["_type"]:
        asked.types = sorted({t.strip() for v in given["_type"] for t in v.split(",") if t.strip()})
        unknown = [t for t in asked.types if t not in SERVED_TYPES]
        if unknown or not asked.types:
            raise Invalid(f"_type names types this server does not serve: {unknown}", ["_type"])
    asked.cursor = next(iter(given["_cursor"]), None)
    asked.shown = [(n, v) for n in ("_since", "_type", "_count", "start", "end") for v in given[n]]
    return asked


def _types(ctx: Context, asked: _Asked, candidates: set[str]) -> list[str]:
    """The types returned: those ``_type`` names that can be in the record (each one the caller
    must be allowed to read or search), or every type of the record the caller may see."""
    if asked.types is None:
        wanted = candidates - TRAIL
        return sorted(t for t in wanted if ctx.access.decide(t, VISIBLE).permit)
    types = [t for t in asked.types if t in candidates]
    for type_ in types:
        ctx.access.require(type_, VISIBLE)
    return types


def _care_dates(ctx: Context, type_: str, asked: _Asked) -> list[tuple[str, str]]:
    if _DATED not in ctx.params.params_for(type_):
        return []
    pairs = [(_DATED, f"ge{asked.start}")] if asked.start else []
    return pairs + ([(_DATED, f"le{asked.end}")] if asked.end else [])


async def _query(
    ctx: Context, type_: str, criteria: list[Criterion], pairs: list[tuple[str, str]]
) -> SearchQuery:
    query = await query_for(ctx, type_, pairs)
    query.filters += criteria
    await ctx.access.narrow(query, VISIBLE)
    return query


async def _referenced_ids(
    ctx: Context, record: _Record, asked: _Asked, wanted: set[str]
) -> dict[str, set[str]]:
    """``Type/id`` of the ``wanted`` referenced types that the members the caller sees refer to
    (every member, whatever ``_type`` and ``_since`` keep: a practitioner changed since is news
    even when the Observation naming them is not)."""
    found: dict[str, set[str]] = {t: set() for t in wanted}
    types = {t for t in SERVED_TYPES - TRAIL if record.members(t)}  # who read it is no part
    for type_ in sorted(t for t in types if ctx.access.decide(t, VISIBLE).permit):
        pairs = _care_dates(ctx, type_, asked) if record.dated else []
        query = await _query(ctx, type_, record.members(type_), pairs)
        query.count = INNER_LIMIT + 1
        items = await every(ctx, query)
        if len(items) > INNER_LIMIT:
            raise TooCostly(f"The record holds too many {type_} resources for $everything")
        for stored in items:
            for holder in reference_holders(orjson.loads(stored.content or b"{}")):
                target = local_reference(holder, ctx.base_url)
                if target is not None and target[0] in found:
                    found[target[0]].add(target[1])
    return found


async def _everything(
    ctx: Context, inputs: Inputs, type_: str, id_: str, record: _Record
) -> FhirResult:
    asked = _asked(ctx, inputs, record)
    members = {t for t in SERVED_TYPES if record.members(t)}
    referenced = {t for t in record.referenced & SERVED_TYPES if t not in members}
    types = _types(ctx, asked, members | referenced)
    since = [("_lastUpdated", f"ge{asked.since}")] if asked.since else []
    wanted = referenced & set(types)
    ids = await _referenced_ids(ctx, record, asked, wanted) if wanted else {}
    queries: dict[str, SearchQuery] = {}
    for t in types:
        if t in ids:
            queries[t] = await _query(ctx, t, [ids_filter(ids[t])], since)
        else:
            dates = _care_dates(ctx, t, asked) if record.dated else []
            queries[t] = await _query(ctx, t, record.members(t), since + dates)
    here = f"{type_}/{id_}/$everything"
    url = f"{ctx.base_url}/{here}"
    links = [("self", page_url(url, asked.shown, asked.cursor))]
    extra: dict[str, Any] = {}
    matches: list[StoredResource] = []
    if asked.count == 0 or not queries:
        extra["total"] = sum([await ctx.store.count(q) for q in queries.values()])
    else:
        binding = binding_of(here, asked.shown)
        matches, paging, more = await page_across_types(
            ctx, queries, asked.count, url, asked.shown, binding, asked.cursor
        )
        links += paging
        if asked.cursor is None and not more:
            extra["total"] = len(matches)
    ctx.access.disclose(matches)
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": full_url(ctx.base_url, s),
            "resource": resource_fragment(s),
            "search": {"mode": "match"},
        }
        for s in matches
    ]
    notes = list(ctx.access.notes)
    if notes:
        outcome = {"resourceType": "OperationOutcome", "issue": [i.to_json() for i in notes]}
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    return FhirResult(200, body=bundle("searchset", entries, links, **extra))


async def everything(
    ctx: Context, inputs: Inputs, type_: str | None, id_: str | None
) -> FhirResult:
    assert type_ is not None and id_ is not None  # instance level only
    record = _patient_record(id_) if type_ == "Patient" else _encounter_record(id_)
    return await _everything(ctx, inputs, type_, id_, record)


PATIENT_EVERYTHING = Operation(
    "everything",
    frozenset({"instance"}),
    frozenset({"Patient"}),
    everything,
    definition="http://hl7.org/fhir/OperationDefinition/Patient-everything",
    scope_letters="rs",
)
ENCOUNTER_EVERYTHING = Operation(
    "everything",
    frozenset({"instance"}),
    frozenset({"Encounter"}),
    everything,
    definition="http://hl7.org/fhir/OperationDefinition/Encounter-everything",
    scope_letters="rs",
)
