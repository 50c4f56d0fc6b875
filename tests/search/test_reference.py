"""Reference search (search.html#reference): ``Type/id``, a bare ``id`` (any target type, or the
one target type), ``:Type``, absolute URLs on this server, another server's URLs (matched as
written only), versioned references, ``:identifier`` (Reference.identifier), and modifiers that
name no target type."""

from __future__ import annotations

import pytest

from tests.search.fixtures import AUTH, CPR
from tests.search.support import Searcher

BASE = "http://testserver/fhir"

CASES = [
    # CarePlan.subject: cp1 → Patient/p1, cp2 → Patient/p2, cp3 → Patient/p1, cp4 → Patient/p3,
    # cp5 → Group/g1 (a type this server does not serve)
    ("CarePlan", "subject=Patient/p1", ["cp1", "cp3"]),
    ("CarePlan", "subject=p1", ["cp1", "cp3"]),
    ("CarePlan", "subject:Patient=p1", ["cp1", "cp3"]),
    ("CarePlan", "subject:Patient=Patient/p1", ["cp1", "cp3"]),
    ("CarePlan", "patient=p1", ["cp1", "cp3"]),  # the only target type is Patient
    ("CarePlan", "patient=Patient/p1", ["cp1", "cp3"]),
    ("CarePlan", f"subject={BASE}/Patient/p1", ["cp1", "cp3"]),
    ("CarePlan", f"patient={BASE}/Patient/p1", ["cp1", "cp3"]),
    ("CarePlan", "subject=Patient/p1/_history/1", ["cp1", "cp3"]),
    ("CarePlan", "subject=http://other.example/fhir/Patient/p1", []),
    ("CarePlan", "subject=Patient/p1,Patient/p2", ["cp1", "cp2", "cp3"]),
    ("CarePlan", "subject=p1,p3", ["cp1", "cp3", "cp4"]),
    ("CarePlan", "subject=Patient/nope", []),
    ("CarePlan", "subject=Patient/p1&status=active", ["cp1", "cp3"]),
    ("CarePlan", "subject=Patient/p1&subject=Patient/p2", []),
    ("CarePlan", "subject=Group/g1", ["cp5"]),
    ("CarePlan", "subject:Group=g1", ["cp5"]),
    ("CarePlan", "subject=g1", ["cp5"]),
    ("CarePlan", "patient=Group/g1", []),  # patient only indexes Patient subjects
    ("CarePlan", "subject:Patient=g1", []),
    # the same id under another type is not the same resource
    ("CarePlan", "subject=Group/p1", []),
    # ServiceRequest.requester / performer
    ("ServiceRequest", "requester=PractitionerRole/prr1", ["sr1"]),
    ("ServiceRequest", "requester=Practitioner/pr2", ["sr2"]),
    ("ServiceRequest", "requester:Practitioner=pr2", ["sr2"]),
    ("ServiceRequest", "requester=pr2", ["sr2"]),
    ("ServiceRequest", "requester:PractitionerRole=pr2", []),
    ("ServiceRequest", "performer=Organization/o1", ["sr1", "sr3"]),  # sr3's is absolute
    ("ServiceRequest", "performer:Organization=o1", ["sr1", "sr3"]),
    ("ServiceRequest", f"performer={BASE}/Organization/o1", ["sr1", "sr3"]),
    ("ServiceRequest", "performer=Practitioner/pr1", ["sr2"]),
    ("ServiceRequest", "performer=Organization/o2,Organization/o1", ["sr1", "sr2", "sr3"]),
    ("ServiceRequest", "subject=Patient/p3", ["sr3"]),
    # :identifier — the identifier written in the Reference, not the target's
    ("ServiceRequest", f"requester:identifier={AUTH}|XYZ99", ["sr3"]),
    ("ServiceRequest", "requester:identifier=XYZ99", ["sr3"]),
    ("ServiceRequest", f"requester:identifier={AUTH}|ABC12", []),  # pr1's own identifier
    ("CarePlan", f"subject:identifier={CPR}|1503501234", []),
    # other resource types
    ("Patient", "general-practitioner=Practitioner/pr1", ["p1"]),
    ("Patient", "general-practitioner:Organization=o3", ["p3"]),
    ("Patient", "general-practitioner=o3", ["p3"]),
    ("Patient", "organization=o1", ["p1"]),
    ("Patient", "organization=Organization/o2", ["p2"]),
    ("Observation", "subject=p1", ["obs1", "obs2", "obs6"]),
    ("Observation", "patient=p1", ["obs1", "obs2", "obs6"]),
    ("Observation", "subject:Patient=p2", ["obs3", "obs4"]),
    ("MedicationStatement", "patient=p1", ["ms1", "ms3"]),
    ("MedicationStatement", "subject=Patient/p3", ["ms4"]),
    ("Encounter", "practitioner=pr1", ["enc1"]),
    ("Encounter", "participant=Practitioner/pr1", ["enc1"]),
    ("Encounter", "service-provider=o2", ["enc2"]),
    ("Encounter", "patient=p2", ["enc2"]),
    ("Task", "patient=p1", ["t1"]),
    ("Task", "subject=Patient/p2", ["t2"]),
    ("Task", "focus=ServiceRequest/sr1", ["t1"]),
    ("Task", "owner:Practitioner=pr1", ["t2"]),
    ("Task", "owner=Organization/o1", ["t1"]),
    ("PractitionerRole", "practitioner=pr1", ["prr1"]),
    ("PractitionerRole", "organization=Organization/o1", ["prr1"]),
]


@pytest.mark.parametrize(("type_", "query", "expected"), CASES)
async def test_reference(search: Searcher, type_: str, query: str, expected: list[str]) -> None:
    assert await search.ids(type_, query) == expected


ERRORS = [
    # a modifier that is not one of the parameter's target types
    ("CarePlan", "subject:Organization=o1", "subject:Organization"),
    ("CarePlan", "patient:Group=g1", "patient:Group"),
    ("ServiceRequest", "performer:Observation=x", "performer:Observation"),
    ("CarePlan", "subject:exact=p1", "subject:exact"),
    ("CarePlan", "subject:below=Patient/p1", "subject:below"),
    ("CarePlan", "subject:missing=1", "subject:missing"),
    # a :Type modifier and a value of another type
    ("CarePlan", "subject:Patient=Group/g1", "subject:Patient"),
    ("ServiceRequest", "requester:Practitioner=PractitionerRole/prr1", "requester:Practitioner"),
]


@pytest.mark.parametrize(("type_", "query", "expression"), ERRORS)
async def test_reference_errors(search: Searcher, type_: str, query: str, expression: str) -> None:
    await search.error(type_, query, [expression])
