"""The search index of the server's own AuditEvents, without evaluating what is already known.

Every audited request writes AuditEvents, and extracting an event's index (two dozen search
parameters) was most of what an audited read cost (docs/audit.md, "Cost"). The events of one
caller differ little: the agents (who, role, organization, token, purpose), the source, the
type, subtype, action and outcome repeat from event to event; the time, the patient and the
data accessed change. So the parameters whose expression is a plain path into one of the
repeating elements (``AuditEvent.agent.name``, ``AuditEvent.source.site``, …) are evaluated once
per distinct value of those elements and their rows remembered; the others (``date``,
``entity…``, ``patient`` — a union with a ``resolve()``) are evaluated on every event, by the
store's own evaluators, and their values normalized into rows once per distinct value (a
parameter's rows depend on its values alone: the same patient, the same entity role). The
index is the one the store's indexer gives (the same evaluators and normalizers, the same
rows; the repeating parameters' first), so searches find server-written events exactly as
before; tests/consent/test_audit_index.py compares the two. A custom SearchParameter on
AuditEvent takes part the same way: remembered when its expression is a plain path into a
repeating element, evaluated otherwise.
"""

from __future__ import annotations

import re
import weakref
from typing import Any

import orjson

from fhir_server.search.extract import INDEX_FIELDS, Indexer, Plan, ResourceIndexer, Rows
from fhir_server.search.fhirpath import Evaluator
from fhir_server.search.terms import Index

AUDIT_EVENT = "AuditEvent"
CHANGING = frozenset({"id", "recorded", "entity"})
"""The elements that differ from event to event (everything else repeats per caller)."""
_PLAIN_PATH = re.compile(r"^AuditEvent\.([a-zA-Z]+)(?:\.[a-zA-Z]+)*$")
Entry = tuple[str, Evaluator, Indexer]
_KEPT = 4096
"""Distinct repeating parts remembered at most (then all are forgotten and relearnt)."""


class EventIndexer:
    """The index of an AuditEvent under one store's indexer, its repeating part remembered."""

    def __init__(self) -> None:
        self._plan: object = None
        self._stable: Plan = ()
        self._changing: Plan = ()
        self._known: dict[bytes, tuple[dict[str, list[Any]], list[str]]] = {}
        self._normalized: dict[tuple[str, bytes], Rows] = {}

    def _prepare(self, indexer: ResourceIndexer) -> None:
        plan = indexer.plan(AUDIT_EVENT)
        if plan is not self._plan:  # the parameters changed (or first use): start over
            params = indexer.params.params_for(AUDIT_EVENT)
            stable: list[Entry] = []
            changing: list[Entry] = []
            for entry in plan:
                found = _PLAIN_PATH.match(params[entry[0]].expression or "")
                repeats = found is not None and found.group(1) not in CHANGING
                (stable if repeats else changing).append(entry)
            self._plan, self._stable, self._changing = plan, tuple(stable), tuple(changing)
            self._known, self._normalized = {}, {}

    def __call__(self, indexer: ResourceIndexer, event: dict[str, Any]) -> Index:
        """The index ``indexer`` gives ``event`` (the same rows; the repeating parameters'
        first)."""
        self._prepare(indexer)
        key = orjson.dumps(
            {k: v for k, v in event.items() if k not in CHANGING}, option=orjson.OPT_SORT_KEYS
        )
        known = self._known.get(key)
        if known is None:
            if len(self._known) >= _KEPT:
                self._known.clear()
            known = self._known[key] = _rows(self._stable, event, {f: [] for f in INDEX_FIELDS}, [])
        out, present = _rows(
            self._changing,
            event,
            {f: list(rows) for f, rows in known[0].items()},
            [*known[1]],
            self._normalized,
        )
        return Index(**{field: tuple(rows) for field, rows in out.items()}, present=tuple(present))


def _rows(
    plan: Plan,
    event: dict[str, Any],
    out: dict[str, list[Any]],
    present: list[str],
    normalized: dict[tuple[str, bytes], Rows] | None = None,
) -> tuple[dict[str, list[Any]], list[str]]:
    """``plan``'s rows of ``event`` added to ``out`` (and its parameters with a value to
    ``present``), as `ResourceIndexer` adds them; with ``normalized``, the rows of values met
    before are taken from it (a parameter's rows depend on its values alone)."""
    for name, evaluate, rows_of in plan:
        values = evaluate(event)
        if not values:
            continue
        produced = None
        key = None
        if normalized is not None:
            try:
                key = (name, orjson.dumps(values))
            except TypeError:  # not JSON (a custom expression's FHIRPath value): not kept
                key = None
            else:
                produced = normalized.get(key)
        if produced is None:
            produced = rows_of(name, values)
            if key is not None and normalized is not None:
                if len(normalized) >= _KEPT:
                    normalized.clear()
                normalized[key] = produced
        if any(produced.values()):
            present.append(name)
            for field, rows in produced.items():
                out[field] += rows
    return out, present


_BY_INDEXER: weakref.WeakKeyDictionary[ResourceIndexer, EventIndexer] = weakref.WeakKeyDictionary()


def event_index(indexer: Any, event: dict[str, Any]) -> Index | None:
    """The index of a server-written ``event`` under the store's ``indexer`` (None: let the
    store extract it), its repeating part remembered per indexer."""
    if not isinstance(indexer, ResourceIndexer):
        return None
    found = _BY_INDEXER.get(indexer)
    if found is None:
        found = _BY_INDEXER[indexer] = EventIndexer()
    return found(indexer, event)
