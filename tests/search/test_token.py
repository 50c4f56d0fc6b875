"""Token search (search.html#token): code, system|code, |code, system|, :not, :text, :of-type,
booleans, OR with commas (and ``\\,`` as a literal comma), AND by repetition."""

from __future__ import annotations

import pytest

from tests.search.fixtures import ATC, CPR, SCT, SOR, TAG, V2_0203
from tests.search.support import Searcher

GENDERS = "http://hl7.org/fhir/ValueSet/administrative-gender"
DK_PRIORITIES = "http://hl7.dk/fhir/core/ValueSet/dk-core-priority-codes"

CASES = [
    # identifier: code alone (any system), system|code, |code (no system), system| (any code)
    ("Patient", "identifier=1503501234", ["p1"]),
    ("Patient", f"identifier={CPR}|1503501234", ["p1"]),
    ("Patient", f"identifier={SOR}|1503501234", []),
    ("Patient", "identifier=|1603501234", ["p4"]),
    ("Patient", "identifier=|1503501234", []),
    ("Patient", f"identifier={CPR}|", ["p1", "p2", "p3", "p5"]),
    ("Patient", "identifier=150350123", []),  # tokens match whole codes, never prefixes
    ("Organization", f"identifier={SOR}|6621000016003", ["o2"]),
    ("Practitioner", "identifier=https://autregweb.sst.dk|ABC12", ["pr1"]),
    # codes are case-sensitive
    ("MedicationStatement", f"code={ATC}|N02BE01", ["ms1"]),
    ("MedicationStatement", f"code={ATC}|n02be01", []),
    ("MedicationStatement", f"code={ATC}|", ["ms1", "ms2", "ms3"]),
    ("MedicationStatement", "code=C09AA05", ["ms3"]),
    # CodeableConcept with several codings; Coding (Encounter.class); code (status, gender)
    ("CarePlan", f"category={SCT}|736271009", ["cp1", "cp3"]),
    ("CarePlan", f"category={SCT}|736368003", ["cp2", "cp3"]),
    ("Encounter", "class=AMB", ["enc1"]),
    ("Encounter", "class=http://terminology.hl7.org/CodeSystem/v3-ActCode|IMP", ["enc2"]),
    ("Patient", "gender=male", ["p1", "p3", "p4"]),
    ("Patient", "gender=female", ["p2", "p5"]),
    ("Observation", "code=http://loinc.org|15074-8", ["obs1", "obs2", "obs3", "obs8"]),
    ("Observation", "component-code=8480-6", ["obs4"]),
    ("Observation", "combo-code=8480-6", ["obs4"]),
    ("Observation", "combo-code=29463-7", ["obs5"]),
    ("Observation", f"value-concept={SCT}|260385009", ["obs7"]),
    ("Organization", "type=22232009", ["o2"]),
    ("ServiceRequest", "priority=asap", ["sr2"]),
    # :in / :not-in a ValueSet of the server's terminology (R4 required bindings, Danish sets)
    ("Patient", f"gender:in={GENDERS}", ["p1", "p2", "p3", "p4", "p5"]),
    ("ServiceRequest", f"priority:in={DK_PRIORITIES}", ["sr1", "sr2"]),
    ("ServiceRequest", f"priority:not-in={DK_PRIORITIES}", ["sr3"]),
    ("ServiceRequest", f"priority:in={DK_PRIORITIES}&status=active", ["sr1", "sr2"]),
    ("Task", "status=requested", ["t1"]),
    # meta.tag
    ("Patient", f"_tag={TAG}|test", ["p2"]),
    # ContactPoint: email / phone / telecom
    ("Patient", "email=soren@example.dk", ["p1"]),
    ("Patient", "phone=+4512345678", ["p1"]),
    ("Patient", "phone=soren@example.dk", []),
    ("Patient", "telecom=+4587654321", ["p3"]),
    ("Practitioner", "email=ida@example.dk", ["pr2"]),
    # booleans
    ("Patient", "active=true", ["p1", "p2"]),
    ("Patient", "active=false", ["p3"]),
    ("Organization", "active=false", ["o3"]),
    ("Patient", "deceased=true", ["p2", "p4"]),  # deceasedDateTime counts as deceased
    # OR: commas; AND: repetition
    ("Patient", "gender=male,female", ["p1", "p2", "p3", "p4", "p5"]),
    ("Patient", f"identifier={CPR}|1503501234,{CPR}|0107621234", ["p1", "p2"]),
    ("ServiceRequest", "priority=routine,asap", ["sr1", "sr2"]),
    ("MedicationStatement", "code=N02BE01,C09AA05", ["ms1", "ms3"]),
    ("CarePlan", "status=active&intent=plan", ["cp1"]),
    ("CarePlan", "status=active&status=completed", []),
    ("CarePlan", f"category={SCT}|736271009&category={SCT}|736368003", ["cp3"]),
    ("Patient", "gender=male&active=true", ["p1"]),
    # an escaped comma is part of the value
    ("Organization", "identifier=LH\\,ØST", ["o3"]),
    ("Organization", "identifier=http://example.dk/lokal|LH\\,ØST", ["o3"]),
    ("Organization", "identifier=LH,ØST", []),
    # :not — resources without any matching value, including those without a value at all
    ("Patient", "gender:not=male", ["p2", "p5", "p6"]),
    ("Patient", "gender:not=male,female", ["p6"]),
    ("Patient", "active:not=true", ["p3", "p4", "p5", "p6"]),
    ("Patient", f"identifier:not={CPR}|1503501234", ["p2", "p3", "p4", "p5", "p6"]),
    ("ServiceRequest", "priority:not=asap", ["sr1", "sr3"]),
    ("CarePlan", f"category:not={SCT}|736271009", ["cp2", "cp4", "cp5"]),
    ("CarePlan", "status:not=active&intent=plan", ["cp4", "cp5"]),
    # :text — Coding.display, CodeableConcept.text, Identifier.type.text; starts-with, folded
    ("CarePlan", "category:text=ambulant", ["cp1"]),
    ("CarePlan", "category:text=OUTPATIENT", ["cp1", "cp3"]),
    ("CarePlan", "category:text=home care", ["cp2", "cp3"]),
    ("CarePlan", "category:text=care", []),  # starts-with, not contains
    ("MedicationStatement", "code:text=hjertemagnyl", ["ms2"]),
    ("MedicationStatement", "code:text=acetyl", ["ms2"]),
    ("MedicationStatement", "code:text=ukendt", ["ms4"]),
    ("MedicationStatement", "code:text=paracetamol,ramipril", ["ms1", "ms3"]),
    ("Observation", "value-concept:text=neg", ["obs7"]),
    ("Observation", "code:text=notat", ["obs6"]),
    ("Patient", "_tag:text=testdata", ["p2"]),
    ("Patient", "identifier:text=journal", ["p3"]),
    ("Task", "business-status:text=afslut", ["t2"]),
    # :of-type — Identifier.type system|code, then the value
    ("Patient", f"identifier:of-type={V2_0203}|MR|4711", ["p3"]),
    ("Patient", f"identifier:of-type={V2_0203}|MR|1503501234", []),
    ("Patient", f"identifier:of-type={V2_0203}|PRN|4711", []),
    ("Patient", "identifier:of-type=http://other.example|MR|4711", []),
]


@pytest.mark.parametrize(("type_", "query", "expected"), CASES)
async def test_token(search: Searcher, type_: str, query: str, expected: list[str]) -> None:
    assert await search.ids(type_, query) == expected


async def test_other_types_with_the_same_code_do_not_leak(search: Searcher) -> None:
    # status=active exists on CarePlan, ServiceRequest and MedicationStatement
    assert await search.ids("CarePlan", "status=active") == ["cp1", "cp3"]
    assert await search.ids("ServiceRequest", "status=active") == ["sr1", "sr2"]
    assert await search.ids("MedicationStatement", "status=active") == ["ms1", "ms3"]


ERRORS = [
    ("Patient", "gender:exact=male", "gender:exact"),
    ("Patient", "gender:contains=male", "gender:contains"),
    ("Patient", "gender:below=male", "gender:below"),
    ("Patient", "gender:in=http://example.org/ValueSet/x", "gender:in"),
    ("Patient", "identifier:of-type=MR|4711", "identifier:of-type"),
    ("Patient", f"identifier:of-type={V2_0203}||4711", "identifier:of-type"),
    ("Patient", f"identifier:of-type={V2_0203}|MR|", "identifier:of-type"),
]


@pytest.mark.parametrize(("type_", "query", "expression"), ERRORS)
async def test_token_errors(search: Searcher, type_: str, query: str, expression: str) -> None:
    await search.error(type_, query, [expression])
