"""Turn a FhirResult into status, headers and body: ETag, Last-Modified, Location, Prefer,
`_summary`, `_elements` and `_pretty`. The stored bytes go out untouched unless a client asked
for a different representation."""

from __future__ import annotations

from typing import Any

import orjson

from fhir_server import fhir_json
from fhir_server.errors import Invalid, Issue, outcome_bytes
from fhir_server.interactions.context import FhirRequest, FhirResult
from fhir_server.representation import SUMMARY_MODES, parse_elements, select_elements, summarize
from fhir_server.stored import http_date

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _subset(req: FhirRequest, content: bytes) -> bytes:
    if not req.params:
        return content
    summary, elements = req.param("_summary"), req.param("_elements")
    if summary is None and elements is None:
        return content
    if summary is not None and summary not in SUMMARY_MODES:
        raise Invalid(
            f"_summary={summary} is not one of {', '.join(sorted(SUMMARY_MODES))}", ["_summary"]
        )
    resource: dict[str, Any] = fhir_json.loads(content)
    if summary is not None and summary != "count":
        resource = summarize(resource, summary)
    if elements is not None:
        resource = select_elements(resource, parse_elements(elements))
    return fhir_json.dumps(resource)


def _write_body(req: FhirRequest, result: FhirResult) -> tuple[int, bytes | None]:
    prefer = req.prefer_return
    if prefer == "OperationOutcome":
        issues = result.issues or [
            Issue("informational", f"{req.method} succeeded", severity="information")
        ]
        return (200 if result.status == 204 else result.status), outcome_bytes(issues)
    if prefer == "minimal" or result.status == 204:
        return result.status, None
    content = result.stored.content if result.stored else None
    return result.status, content


def render(
    req: FhirRequest, result: FhirResult, base_url: str
) -> tuple[int, list[tuple[str, str]], bytes | None]:
    headers: list[tuple[str, str]] = []
    stored = result.stored
    status, body = result.status, result.body
    if stored is not None:
        headers.append(("ETag", stored.etag))
        headers.append(("Last-Modified", http_date(stored.ts)))
        if result.location or req.method in _WRITE_METHODS:
            versioned = f"{base_url}/{stored.type}/{stored.id}/_history/{stored.version}"
            if result.location:
                headers.append(("Location", versioned))
            if req.method in _WRITE_METHODS and not stored.deleted:
                headers.append(("Content-Location", versioned))
        if body is None and req.method in _WRITE_METHODS:
            status, body = _write_body(req, result)
        elif body is None and stored.content is not None:
            body = _subset(req, stored.content)
    elif body is None and req.method in _WRITE_METHODS:
        status, body = _write_body(req, result)
    if status == 304:
        body = None
    if body is not None and req.params and req.param("_pretty") == "true":
        body = fhir_json.dumps(fhir_json.loads(body), option=orjson.OPT_INDENT_2)
    return status, headers, body
