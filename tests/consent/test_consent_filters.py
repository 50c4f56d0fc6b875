"""`View.filters` means what `View.admits` means, through a real store search, on every store.

Hypothesis draws one citizen's data (types with and without a clinical date, labels, tags,
dates at the edges of the data periods, Periods open at either end, no date at all) and their
Consents (blocks, treatment- and disclosure-permits naming actors by reference, authorisation id
or SOR id, with classes, labels, codes, data periods and nested exceptions two deep), and an
actor of each sector. Each example writes the data under fresh ids; then per type the ids a
search finds — each `Match` is one store search (``_id`` of the example's resources plus the
match's pairs) less its exceptions' matches; include restrictions united, exclude restrictions
removed — must equal the ids `admits` keeps, judged on the resources as stored.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auth.consent import Match, Restriction, view
from fhir_server.search.registry import SPECIFICATION
from fhir_server.search.resolve import build_query
from fhir_server.store.base import Store
from fhir_server.stored import StoredResource
from tests.consent.rules_support import (
    BERG,
    GP,
    HANSEN,
    HOSPITAL,
    NOW,
    PPR,
    PSY,
    PSYCH_DEPT,
    PSYCHIATRY_TAG,
    RESTRICTED,
    TEACHER,
    UNPLACED,
    block,
    by_authorisation,
    by_sor,
    consent,
    provision,
    ref,
)
from tests.support.backends import BACKENDS, make_store

EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

NORMAL = ("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "N")
OTHER_TAG = ("http://faellesforloeb.dk/fhir/CodeSystem/data-category", "social")
LABELS = [PSY, RESTRICTED, NORMAL]
TAGS = [PSYCHIATRY_TAG, OTHER_TAG]
DAYS = ["2019-12-31", "2020-01-01", "2023-06-15", "2024-03-01", "2024-03-01T10:00:00Z", "2026"]
"""Resource dates, on and next to the data periods' edges."""
PERIODS: list[tuple[str | None, str | None]] = [
    ("2020-01-01", "2023-06-15"),
    (None, "2019-12-31"),
    ("2024-03-01T10:00:00Z", "2024-03-01T10:00:00Z"),
    ("2026-01-01", None),  # covers the moment of writing: meta.lastUpdated
]
ACTORS = [
    ref("Practitioner/hansen"),
    by_authorisation("BR5T9"),
    ref(HOSPITAL),
    by_sor(PSYCH_DEPT),
    ref("Organization/ppr"),
    by_sor("Organization/social"),
    ref("Practitioner/teacher"),
]
TYPES = ["Observation", "CarePlan", "MedicationStatement", "Patient", "Goal"]


def _date_element(type_: str, day: str | None, end: str | None) -> dict[str, Any]:
    if day is None:
        return {}
    if type_ == "Observation":
        return {"effectiveDateTime": day}
    if type_ == "MedicationStatement":
        return {"effectivePeriod": {"start": day, **({"end": end} if end else {})}}
    if type_ == "CarePlan":
        return {"period": {"end": day} if end == "open-start" else {"start": day}}
    if type_ == "Goal":
        return {"startDate": day[:10]}
    return {"birthDate": day[:10]}  # Patient: no clinical date, matched on meta.lastUpdated


_BASE = {
    "Observation": {"status": "final", "code": {"text": "x"}},
    "CarePlan": {"status": "active", "intent": "plan", "subject": {"reference": "Patient/p"}},
    "MedicationStatement": {
        "status": "active",
        "medicationCodeableConcept": {"text": "x"},
        "subject": {"reference": "Patient/p"},
    },
    "Patient": {},
    "Goal": {
        "lifecycleStatus": "active",
        "description": {"text": "x"},
        "subject": {"reference": "Patient/p"},
    },
}


@st.composite
def resources(draw: st.DrawFn) -> dict[str, Any]:
    type_ = draw(st.sampled_from(TYPES))
    meta: dict[str, Any] = {}
    labels = draw(st.lists(st.sampled_from(LABELS), unique=True, max_size=2))
    tags = draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=1))
    if labels:
        meta["security"] = [{"system": s, "code": c} for s, c in labels]
    if tags:
        meta["tag"] = [{"system": s, "code": c} for s, c in tags]
    day = draw(st.none() | st.sampled_from(DAYS))
    end = draw(st.sampled_from([None, "2024-12-31", "open-start"]))
    out = {"resourceType": type_, **_BASE[type_], **_date_element(type_, day, end)}
    return {**out, "meta": meta} if meta else out


def _some(items: list[Any], most: int) -> st.SearchStrategy[tuple[Any, ...]]:
    """Often nothing (the criterion left out), else up to ``most`` of ``items``."""
    return st.just(()) | st.lists(st.sampled_from(items), unique=True, max_size=most).map(tuple)


def _data(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "classes": draw(_some(TYPES, 2)),
        "security": draw(_some(LABELS, 2)),
        "codes": draw(_some(TAGS, 1)),
        "data_period": draw(st.sampled_from(PERIODS) | st.none()),
    }


NAMES = {
    "hansen": [ref("Practitioner/hansen"), by_authorisation("HB2K7"), by_sor(PSYCH_DEPT)],
    "berg": [by_authorisation("BR5T9"), ref(HOSPITAL)],
    "gp": [ref("Practitioner/gp"), ref("Organization/gp")],
    "ppr": [ref("Organization/ppr"), by_sor("Organization/social"), ref("Practitioner/ppr")],
}
"""Ways each actor can be named (its person, authorisation id, organizations, SOR ids)."""
CALLERS = {"hansen": HANSEN, "berg": BERG, "gp": GP, "ppr": PPR, "teacher": TEACHER}


def _names(caller: str) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly a name of the caller, else any actor's (so provisions also miss)."""
    own = NAMES.get(caller, [])
    anyone = st.sampled_from(ACTORS)
    return st.sampled_from(own) | st.sampled_from(own) | anyone if own else anyone


@st.composite
def provisions(draw: st.DrawFn, type_: str, depth: int, caller: str) -> dict[str, Any]:
    actors = draw(st.just([]) | st.lists(_names(caller), min_size=1, max_size=1))
    nested = ()
    if depth:
        other = "permit" if type_ == "deny" else "deny"
        kinds = st.sampled_from([other, other, type_])
        inner = kinds.flatmap(lambda k: provisions(k, depth - 1, caller))
        nested = tuple(draw(st.lists(inner, max_size=2)))
    return provision(type_, *actors, nested=nested, **_data(draw))


@st.composite
def consents(draw: st.DrawFn, caller: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["block", "treatment-permit", "disclosure-permit"]))
    top = draw(provisions("deny" if kind == "block" else "permit", 2, caller))
    if kind != "block" and "actor" not in top:
        top["actor"] = [draw(_names(caller))]
    top["period"] = {"start": "2026-01-01", "end": "2026-12-31"}
    return consent(kind, top, id_=uuid.uuid4().hex)


@dataclass
class Backend:
    runner: asyncio.Runner
    store: Store

    def write(self, items: list[dict[str, Any]]) -> list[StoredResource]:
        return self.runner.run(self._write(items))

    async def _write(self, items: list[dict[str, Any]]) -> list[StoredResource]:
        out = []
        async with self.store.transaction() as uow:
            for item in items:
                id_ = uuid.uuid4().hex
                stored, _ = await uow.write(
                    item["resourceType"], id_, {**item, "id": id_}, method="PUT"
                )
                out.append(stored)
        return out

    def found(self, type_: str, ids: set[str], restrictions: list[Restriction]) -> set[str]:
        return self.runner.run(self._found(type_, ids, restrictions))

    async def _found(self, type_: str, ids: set[str], restrictions: list[Restriction]) -> set[str]:
        includes = [r.match for r in restrictions if not r.exclude]
        out = set(ids)
        if includes:
            out = set()
            for m in includes:
                out |= await self._matching(type_, ids, m)
        for r in restrictions:
            if r.exclude:
                out -= await self._matching(type_, ids, r.match)
        return out

    async def _matching(self, type_: str, ids: set[str], match: Match) -> set[str]:
        found = await self._search(type_, [("_id", ",".join(sorted(ids))), *match.pairs])
        for exception in match.unless:
            found -= await self._matching(type_, found, exception) if found else set()
        return found

    async def _search(self, type_: str, pairs: list[tuple[str, str]]) -> set[str]:
        async def inner(query: Any) -> list[StoredResource]:
            return list((await self.store.search(query)).items)

        query = await build_query(
            inner, type_, pairs, params=SPECIFICATION, default_count=1000, max_count=1000
        )
        out: set[str] = set()
        while True:
            page = await self.store.search(query)
            out |= {s.id for s in page.items}
            if page.next_cursor is None:
                return out
            query.after_id = page.next_cursor


@pytest.fixture(scope="module", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    with asyncio.Runner() as runner:
        store = make_store(str(request.param), tmp_path_factory.mktemp("consent"))
        runner.run(store.open())
        try:
            yield Backend(runner, store)
        finally:
            runner.run(store.close())


@EXAMPLES
@given(
    data=st.lists(resources(), min_size=3, max_size=10),
    caller=st.sampled_from(sorted(CALLERS)),
    draw=st.data(),
)
def test_filters_find_what_admits_keeps(
    backend: Backend, data: list[dict[str, Any]], caller: str, draw: st.DataObject
) -> None:
    policies = draw.draw(st.lists(consents(caller), max_size=3), label="consents")
    stored = backend.write(data)
    v = view(CALLERS[caller], policies, NOW)
    for type_ in {s.type for s in stored}:
        mine = [s for s in stored if s.type == type_]
        kept = {s.id for s in mine if v.admits(type_, orjson.loads(s.content or b"{}"))}
        assert backend.found(type_, {s.id for s in mine}, v.filters(type_)) == kept, (
            type_,
            v.filters(type_),
        )


def test_an_actor_of_unknown_sector_finds_nothing(backend: Backend) -> None:
    stored = backend.write([{"resourceType": "Patient"}])
    hidden = view(UNPLACED, [], NOW).filters("Patient")
    assert backend.found("Patient", {stored[0].id}, hidden) == set()


def test_undated_data_is_matched_on_last_updated(backend: Backend) -> None:
    """An Observation without effective[x] is "from" the period its meta.lastUpdated is in."""
    undated = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    dated = {**undated, "effectiveDateTime": "2019-05-01"}
    stored = backend.write([undated, dated])
    ids = {s.id for s in stored}
    recent = view(GP, [block(data_period=("2026-01-01", None))], NOW)
    assert backend.found("Observation", ids, recent.filters("Observation")) == {stored[1].id}
    old = view(GP, [block(data_period=(None, "2019-12-31"))], NOW)
    assert backend.found("Observation", ids, old.filters("Observation")) == {stored[0].id}
