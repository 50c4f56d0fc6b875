"""The index of the server's own AuditEvents (`auth.audit.index`) is the one the store's
indexer gives: the same rows, in the same order, whether the repeating part was remembered or
not — so searches (the Min log's ``patient``, an auditor's ``agent``, ``date``, ``subtype``, …)
find server-written events exactly as any other resource. End to end, the audit and Min log
tests search these events through HTTP on both stores."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from auth.audit import events as ev
from auth.audit.index import event_index
from fhir_server.search.extract import ResourceIndexer
from fhir_server.search.registry import SearchParam, SearchParameters
from fhir_server.search.terms import Index

BASE = "http://fhir.example/fhir"
DOCTOR = ev.Actor(
    "doc-login",
    "Practitioner/doc",
    "Dr. Hansen",
    "PractitionerRole/doc-ward",
    "Organization/ward",
    "Ward 7",
    "region",
    "ehr",
    "jti-1",
    "TREATMENT",
)
CITIZEN = ev.Actor("p1-login", "Patient/p1", "Else", sector="citizen", client_id="app")
BTG = ev.Actor("doc-login", "Practitioner/doc", "Dr. Hansen", purpose="EMERGENCY", btg_reason="x")
BACKEND = ev.Actor("svc", client_id="svc")

ACCESSES = [
    ev.Access(ev.READ, "read", "Observation", "p1", data=("Observation/lab1",)),
    ev.Access(ev.READ, "vread", "Observation", "p2", data=("Observation/lab2",)),
    ev.Access(ev.QUERY, "search-type", "Observation", "p1", query="code=1234-5"),
    ev.Access(ev.QUERY, "search-system", None, None, query="_type=Patient"),
    ev.Access(ev.READ, "read", "CarePlan", "p1", ev.REFUSED, data=("CarePlan/c1",)),
    ev.Access(ev.CREATE, "create", "Observation", None, data=("Observation/o9",)),
    ev.Access(ev.OPERATION, "$everything", "Patient", "p1", data=("Patient/p1",)),
    ev.Access(
        ev.QUERY, "search-type", "AuditEvent", None, query="patient=p1", labels=(ev.NOT_CITIZEN,)
    ),
]


def _same(a: Index, b: Index) -> bool:
    """The same rows and parameters present (the stores keep them as sets)."""
    return all(
        sorted(getattr(a, f.name), key=repr) == sorted(getattr(b, f.name), key=repr)
        for f in fields(Index)
    )


def _events() -> list[dict[str, Any]]:
    out = []
    for n, actor in enumerate((DOCTOR, CITIZEN, BTG, BACKEND)):
        for m, access in enumerate(ACCESSES):
            recorded = f"2026-12-0{1 + n}T10:{m:02}:00.000Z"
            out.append(ev.audit_event(actor, access, BASE, recorded))
    return out


def test_the_event_index_is_the_indexers_own() -> None:
    indexer = ResourceIndexer(SearchParameters())
    for _ in range(2):  # the second time, every repeating part is remembered
        for event in _events():
            assert _same(event_index(indexer, event), indexer("AuditEvent", event))


def test_a_custom_audit_event_parameter_is_indexed_too() -> None:
    params = SearchParameters()
    params.set_custom(
        {
            "AuditEvent": {
                "org": SearchParam(
                    "org",
                    "reference",
                    "AuditEvent.agent.extension.value",
                    ("Organization",),
                    "http://example.org/SearchParameter/org",
                ),
                "first-data": SearchParam(
                    "first-data",
                    "reference",
                    "AuditEvent.entity.where(role.code = '4').what",
                    ("Any",),
                    "http://example.org/SearchParameter/first-data",
                ),
            }
        }
    )
    indexer = ResourceIndexer(params)
    events = _events()
    for event in events:
        assert _same(event_index(indexer, event), indexer("AuditEvent", event))
    org = [r for r in indexer("AuditEvent", events[0]).references if r[0] == "org"]
    assert org == [("org", "Organization", "ward", None)]


def test_new_audit_event_ids_increase_in_time() -> None:
    """Increasing ids append to the store's id indexes (a random id dirtied a page of each per
    event); they are still UUIDs (version 7), unique and FHIR ids."""
    import re
    import time
    import uuid

    from auth.audit.journal import ordered_id

    first = [ordered_id() for _ in range(100)]
    time.sleep(0.002)
    later = ordered_id()
    assert len(set(first)) == 100
    assert all(i < later for i in first)
    assert uuid.UUID(later).version == 7
    assert all(re.fullmatch(r"[A-Za-z0-9\-\.]{1,64}", i) for i in first)
