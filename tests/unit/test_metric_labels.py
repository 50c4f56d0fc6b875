"""The metrics' interaction label: a fixed vocabulary from the method and the path's shape,
never an id, a made-up type or operation name (bounded label values, no personal data)."""

from __future__ import annotations

import pytest

from fhir_server.http.metrics import interaction_of


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/fhir/Patient/0101901234", "read"),
        ("HEAD", "/fhir/Patient/abc", "read"),
        ("PUT", "/fhir/Patient/abc", "update"),
        ("PATCH", "/fhir/Patient/abc", "patch"),
        ("DELETE", "/fhir/Patient/abc", "delete"),
        ("GET", "/fhir/Patient", "search-type"),
        ("POST", "/fhir/Patient/_search", "search-type"),
        ("POST", "/fhir/Patient", "create"),
        ("PUT", "/fhir/Patient", "conditional-update"),
        ("DELETE", "/fhir/Patient", "conditional-delete"),
        ("GET", "/fhir/Patient/abc/_history", "history-instance"),
        ("GET", "/fhir/Patient/abc/_history/2", "vread"),
        ("GET", "/fhir/Patient/_history", "history-type"),
        ("GET", "/fhir/_history", "history-system"),
        ("GET", "/fhir", "search-system"),
        ("GET", "/fhir/", "search-system"),
        ("POST", "/fhir", "batch-transaction"),
        ("GET", "/fhir/metadata", "capabilities"),
        ("POST", "/fhir/ValueSet/$expand", "operation"),
        ("POST", "/fhir/Patient/abc/$everything", "operation"),
        ("POST", "/fhir/$made-up-by-a-client", "operation"),
        ("GET", "/fhir/Spaceship/1", "other"),
        ("GET", "/fhir/Patient/abc/def", "other"),
        ("POST", "/fhir/auth/token", "auth"),
        ("GET", "/fhir/.well-known/smart-configuration", "auth"),
        ("OPTIONS", "/fhir/Patient", "preflight"),
        ("GET", "/health", "service"),
        ("GET", "/fhirish", "service"),
    ],
)
def test_interaction_of(method: str, path: str, expected: str) -> None:
    assert interaction_of(method, path) == expected
