"""Request bodies are decoded by the HTTP layer's codecs (fhir_server/http/codecs.py) when the
interaction first uses them: a request refused before its body matters is answered as such —
an unknown type 404, a method not allowed 405, a missing permission 403 — and not as a body
that does not parse (400), which it would be if the body were decoded up front."""

from __future__ import annotations

import pytest

from tests.auth.conftest import Server, bearer, issue, mint

BROKEN = b'{"resourceType": "Patient", '
FHIR = {"Content-Type": "application/fhir+json"}


@pytest.mark.parametrize(
    ("method", "url", "scope", "status", "code"),
    [
        ("POST", "Patient", "system/*.cruds", 400, "invalid"),
        ("POST", "Patient", "system/Observation.c", 403, "forbidden"),
        ("PUT", "Patient/p1", "system/Patient.r", 403, "forbidden"),
        ("POST", "NoSuchType", "system/*.cruds", 404, "not-supported"),
        ("POST", "Patient/p1", "system/*.cruds", 405, "not-supported"),
    ],
)
async def test_a_refused_request_is_refused_before_its_body_is_parsed(
    server: Server, method: str, url: str, scope: str, status: int, code: str
) -> None:
    headers = {**bearer(mint(scope)), **FHIR}
    resp = await server.client.request(method, url, content=BROKEN, headers=headers)
    assert resp.status_code == status, resp.text
    assert issue(resp)["code"] == code


async def test_a_body_that_does_not_parse_is_one_400_naming_it(server: Server) -> None:
    """The codec's error, through the interaction that asked for the document."""
    headers = {**bearer(mint("system/*.cruds")), **FHIR}
    resp = await server.client.post("Patient", content=BROKEN, headers=headers)
    assert resp.status_code == 400
    assert "not valid JSON" in issue(resp)["diagnostics"]
