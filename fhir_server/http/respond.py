"""The one way out of the FHIR API: `respond` turns an interaction's `FhirResult` into the HTTP
response (status, ETag, Last-Modified, Location, Prefer, `_summary`, `_elements`, `_pretty`),
`respond_error` an error (status and headers from `errors.ANSWERS`, an OperationOutcome). Both
branches of the pipeline (the plain read and the router) answer through them, so they cannot
answer alike things differently. The stored bytes go out untouched unless a client asked for a
different representation: XML (`codecs`, written from the JSON at the very end, so a result is
one thing whatever the format) or ``_pretty``."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

from fhir_server.errors import FhirError, Issue, error_headers, outcome_bytes
from fhir_server.http import codecs, compression
from fhir_server.http.headers import NOSNIFF
from fhir_server.http.negotiation import FHIR_JSON, JSON, XML_TYPES
from fhir_server.interactions.context import FhirRequest, FhirResult
from fhir_server.representation import WHOLE, Shape, returned
from fhir_server.stored import http_date

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NDJSON = "application/fhir+ndjson"
_CONTENT_TYPES = {
    m: f"{m}; charset=utf-8".encode() for m in (FHIR_JSON, JSON, "text/json", NDJSON, *XML_TYPES)
}
_CHUNK = 256 * 1024
"""How much of a file (a bulk export's) is sent at a time."""
_ETAG, _LAST_MODIFIED = b"etag", b"last-modified"
_CRASH = outcome_bytes([Issue("exception", "Internal server error")])


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP response as ASGI sends it (header names lower case, values latin-1)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    file: str | None = None
    """A file sent as the body, read a chunk at a time (``body`` is then empty)."""


def _response(
    status: int, headers: list[tuple[bytes, bytes]], body: bytes | None, media: str
) -> Response:
    if body is not None:
        headers.append((b"content-type", _CONTENT_TYPES[media]))
    headers.append((b"content-length", str(len(body or b"")).encode()))
    headers.append(NOSNIFF)
    return Response(status, headers, body or b"")


def _written(body: bytes, media: str, pretty: bool) -> bytes:
    """A JSON body as the response writes it: in XML for an XML media type, indented when
    ``_pretty`` asks for it, else as it is."""
    return codecs.encode_json("xml" if media in XML_TYPES else "json", body, pretty)


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def _body(req: FhirRequest, result: FhirResult) -> tuple[int, bytes | None]:
    """What a result without a payload of its own shows: a read the shape its parameters ask
    for; a write what ``Prefer: return=`` asks for (its resource whole: ``_summary`` and
    ``_elements`` shape reads), an OperationOutcome in the body if that is preferred."""
    if req.method not in _WRITE_METHODS:
        shown = result.stored is not None and result.stored.content is not None
        return result.status, returned(result, Shape.of(req.params) if shown else WHOLE, None)
    if req.prefer_return == "OperationOutcome":
        issues = result.issues or [
            Issue("informational", f"{req.method} succeeded", severity="information")
        ]
        return (200 if result.status == 204 else result.status), outcome_bytes(issues)
    return result.status, returned(result, WHOLE, req.prefer_return)


def respond(req: FhirRequest, result: FhirResult, base_url: str, media: str) -> Response:
    """The HTTP response to ``req`` for the interaction's ``result``, in ``media``."""
    headers: list[tuple[bytes, bytes]] = []
    stored = result.stored
    status, body = result.status, result.body
    if stored is not None:
        headers.append((_ETAG, stored.etag.encode()))
        headers.append((_LAST_MODIFIED, http_date(stored.ts).encode()))
        if result.location or req.method in _WRITE_METHODS:
            versioned = f"{base_url}/{stored.type}/{stored.id}/_history/{stored.version}"
            if result.location:
                headers.append((b"location", versioned.encode("latin-1")))
            if req.method in _WRITE_METHODS and not stored.deleted:
                headers.append((b"content-location", versioned.encode("latin-1")))
    headers += _encoded(result.headers)
    if result.file is not None:
        size = os.path.getsize(result.file)
        headers.append((b"content-type", _CONTENT_TYPES[result.media or media]))
        headers += [(b"content-length", str(size).encode()), NOSNIFF]
        return Response(status, headers, b"", result.file)
    if body is None:
        status, body = _body(req, result)
    if status == 304:
        body = None
    if result.media is not None:  # a body of its own format (a bulk export's manifest)
        return _response(status, headers, body, result.media)
    if body is not None:
        body = _written(body, media, bool(req.params) and req.param("_pretty") == "true")
    return _response(status, headers, body, media)


def respond_error(err: FhirError, media: str, pretty: bool = False) -> Response:
    """The HTTP response for an error: its status and headers from `errors.ANSWERS`, its issues
    as an OperationOutcome (indented when the request asked for ``_pretty``)."""
    body = _written(outcome_bytes(err.issues), media, pretty)
    return _response(err.status, _encoded(error_headers(err)), body, media)


def respond_crash(media: str) -> Response:
    """The answer to an unexpected exception (logged by the caller): a 500 that says nothing
    of it."""
    return _response(500, [], _written(_CRASH, media, False), media)


async def send_response(
    send: Any, response: Response, coding: str | None = None, head: bool = False
) -> None:
    """Send ``response``, its body coded in ``coding`` (`compression.chosen_coding` of the
    request's Accept-Encoding) when it is worth it; for ``HEAD`` the headers a GET would get
    (Content-Length included) and no body (RFC 9110 §9.3.2)."""
    headers, body = response.headers, response.body
    if response.file is not None:
        await _send_file(send, response, head)
        return
    if compression.compressible(response.status, body):
        headers.append(compression.VARY)
        if coding is not None:
            body = compression.encode(coding, body)
            headers = [h for h in headers if h[0] != b"content-length"]
            headers.append((b"content-encoding", coding.encode()))
            headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _send_file(send: Any, response: Response, head: bool) -> None:
    """A file as the body, a chunk at a time (never whole in memory), read on a worker thread
    so the event loop goes on meanwhile."""
    await send(
        {"type": "http.response.start", "status": response.status, "headers": response.headers}
    )
    if head or response.file is None:
        await send({"type": "http.response.body", "body": b""})
        return
    with open(response.file, "rb") as source:
        while True:
            chunk = await asyncio.to_thread(source.read, _CHUNK)
            more = len(chunk) == _CHUNK
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
            if not more:
                return
