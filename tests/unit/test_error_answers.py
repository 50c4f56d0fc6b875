"""Errors are values (fhir_server/errors.py): each kind is answered from one table, `ANSWERS`
— status, issue code and the headers its values give — by `http/respond.respond_error`, so a
status or header is never chosen where the error is raised. Every kind has a row (a new kind
without one would silently be answered as its base class)."""

from __future__ import annotations

import inspect

import orjson
import pytest

from fhir_server import errors
from fhir_server.errors import (
    ANSWERS,
    FhirError,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
    Unavailable,
)
from fhir_server.http.negotiation import FHIR_JSON
from fhir_server.http.respond import respond_error


def _headers(err: FhirError) -> dict[str, str]:
    response = respond_error(err, FHIR_JSON)
    return {k.decode(): v.decode() for k, v in response.headers}


def test_every_error_kind_has_its_row() -> None:
    kinds = {
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, FhirError) and c.__module__ == errors.__name__
    }
    assert kinds == set(ANSWERS)


@pytest.mark.parametrize(
    ("err", "status", "header", "value"),
    [
        (MethodNotAllowed("no", allowed=("GET", "PUT")), 405, "allow", "GET, PUT"),
        (Unavailable("busy"), 503, "retry-after", "1"),
        (Unauthorized("no token"), 401, "www-authenticate", 'Bearer realm="fhir"'),
        (
            Unauthorized('bad "sig"', token_error="invalid_token"),
            401,
            "www-authenticate",
            'Bearer realm="fhir", error="invalid_token", error_description="bad \'sig\'"',
        ),
    ],
)
def test_headers_come_from_the_error_values(
    err: FhirError, status: int, header: str, value: str
) -> None:
    response = respond_error(err, FHIR_JSON)
    assert response.status == status
    assert _headers(err)[header] == value


def test_an_error_is_an_operation_outcome_with_its_kind_code() -> None:
    response = respond_error(NotFound("Patient/x is not known", ["Patient/x"]), FHIR_JSON)
    assert response.status == 404
    assert "allow" not in _headers(NotFound("x"))
    assert orjson.loads(response.body)["issue"] == [
        {
            "severity": "error",
            "code": "not-found",
            "diagnostics": "Patient/x is not known",
            "expression": ["Patient/x"],
        }
    ]
