"""The SMART scope grammar: v1 and v2, query-filtered scopes, non-resource scopes."""

from __future__ import annotations

import pytest

from auth.scopes import InvalidScope, ResourceScope, is_valid_scope, parse_scope, parse_scopes

LAB = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"


@pytest.mark.parametrize(
    ("text", "context", "type_", "letters"),
    [
        ("patient/CarePlan.read", "patient", "CarePlan", "rs"),
        ("patient/CarePlan.write", "patient", "CarePlan", "cud"),
        ("patient/CarePlan.*", "patient", "CarePlan", "cruds"),
        ("user/*.read", "user", "*", "rs"),
        ("system/*.*", "system", "*", "cruds"),
        ("patient/CarePlan.cruds", "patient", "CarePlan", "cruds"),
        ("patient/Observation.rs", "patient", "Observation", "rs"),
        ("user/Patient.r", "user", "Patient", "r"),
        ("system/Task.cu", "system", "Task", "cu"),
        ("patient/*.s", "patient", "*", "s"),
        ("user/Encounter.crd", "user", "Encounter", "crd"),
    ],
)
def test_valid_resource_scopes(text: str, context: str, type_: str, letters: str) -> None:
    scope = parse_scope(text)
    assert scope is not None
    assert (scope.context, scope.type, scope.letters) == (context, type_, frozenset(letters))
    assert is_valid_scope(text)


@pytest.mark.parametrize(
    "text",
    [
        "patient/CarePlan.sr",  # out of order
        "patient/CarePlan.rr",  # repeated
        "patient/CarePlan.x",
        "patient/CarePlan.",
        "patient/CarePlan.readwrite",
        "patient/carePlan.read",  # types start upper case
        "patient/CarePlan",
        "patient/.rs",
        "group/CarePlan.rs",
        "patient/CarePlan.read?status=active",  # v1 has no queries
        "patient/Observation.rs?",
        "patient/Observation.rs?category",
        "patient/Observation.rs?=x",
    ],
)
def test_invalid_resource_scopes(text: str) -> None:
    if text.startswith("group/"):
        assert parse_scope(text) is None  # not a SMART context: no resource scope at all
        return
    with pytest.raises(InvalidScope):
        parse_scope(text)
    assert not is_valid_scope(text)


@pytest.mark.parametrize(
    ("v1", "v2"),
    [
        ("patient/CarePlan.read", "patient/CarePlan.rs"),
        ("user/Observation.write", "user/Observation.cud"),
        ("system/*.*", "system/*.cruds"),
    ],
)
def test_v1_and_v2_grant_the_same(v1: str, v2: str) -> None:
    one, two = parse_scope(v1), parse_scope(v2)
    assert one is not None and two is not None
    assert one.v2 == two.v2 == v2
    assert (one.context, one.type, one.letters) == (two.context, two.type, two.letters)
    assert (one.version, two.version) == (1, 2)


def test_query_filtered_scope_keeps_its_query() -> None:
    scope = parse_scope(f"patient/Observation.rs?category={LAB}&status=final")
    assert scope == ResourceScope(
        "patient", "Observation", frozenset("rs"), (("category", LAB), ("status", "final"))
    )
    assert scope.v2 == f"patient/Observation.rs?category={LAB}&status=final"


@pytest.mark.parametrize(
    "text",
    [
        "launch",
        "launch/patient",
        "launch/encounter",
        "openid",
        "fhirUser",
        "profile",
        "offline_access",
        "online_access",
    ],
)
def test_non_resource_scopes_are_flags(text: str) -> None:
    assert parse_scope(text) is None
    assert is_valid_scope(text)
    assert parse_scopes(f"{text} patient/Patient.rs").has(text)


def test_a_token_scope_string() -> None:
    grant = parse_scopes(
        "launch/patient openid fhirUser offline_access patient/Patient.read "
        f"patient/Observation.rs?category={LAB} patient/CarePlan.sr unknown-scope"
    )
    assert grant.flags == frozenset({"launch/patient", "openid", "fhirUser", "offline_access"})
    assert [s.v2 for s in grant.resource] == [
        "patient/Patient.rs",
        f"patient/Observation.rs?category={LAB}",
    ]  # the malformed patient/CarePlan.sr grants nothing; unknown scopes are ignored
    assert [s.v2 for s in grant.for_type("Observation", "s")] == [
        f"patient/Observation.rs?category={LAB}"
    ]
    assert grant.for_type("CarePlan", "r") == ()
    assert [s.v2 for s in parse_scopes("user/*.rs").for_type("Goal", "r")] == ["user/*.rs"]


def test_empty_and_blank_scopes() -> None:
    assert not is_valid_scope("")
    assert parse_scopes("").resource == ()
    assert parse_scopes("   ").raw == ()
