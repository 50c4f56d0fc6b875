"""Binary in its native form (R4 binary.html#rest): a Binary is stored and searched as any
resource, and also read and written as the bytes it holds.

- Read: ``GET [base]/Binary/[id]`` (or its ``_history/[vid]``) whose Accept prefers no FHIR
  format — a PDF viewer's ``application/pdf``, an ``<img>``'s ``image/*`` — is answered with the
  decoded ``data`` and the resource's own ``contentType`` (whatever the Accept named: the content
  is what it is). An Accept naming FHIR JSON or XML, a wildcard, no Accept or ``_format`` gets the
  Binary resource. ETag and Last-Modified as for any read; errors as OperationOutcomes in JSON.
- Write: ``POST [base]/Binary`` and ``PUT [base]/Binary/[id]`` with a body in any non-FHIR media
  type store a Binary whose ``contentType`` is that type and whose ``data`` is the body. A Binary
  with a ``securityContext`` is written as FHIR JSON or XML.

Only the HTTP layer knows this: the interactions see a Binary resource either way.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import orjson

from fhir_server.errors import Invalid
from fhir_server.http.headers import NOSNIFF
from fhir_server.http.negotiation import weighted
from fhir_server.http.respond import Response
from fhir_server.interactions.context import FhirResult
from fhir_server.stored import http_date

_FHIR_MEDIA = frozenset(
    {
        "application/fhir+json",
        "application/json",
        "application/json+fhir",
        "text/json",
        "application/fhir+xml",
        "application/xml",
        "application/xml+fhir",
        "text/xml",
        "application/json-patch+json",
        "application/x-www-form-urlencoded",
    }
)
"""Media types a FHIR request or answer is written in (`negotiation`): everything else sent to
or asked of a Binary is its content."""


_SANDBOX = (b"content-security-policy", b"default-src 'none'; sandbox")


def _is_binary_path(path: list[str]) -> bool:
    return bool(path) and path[0] == "Binary"


def native_read(method: str, path: list[str], accept: str | None, format_: str | None) -> bool:
    """Whether a request reads a Binary's content rather than the resource: a read or vread of
    one whose Accept's first choice is a concrete non-FHIR media type."""
    if method != "GET" or format_ is not None or accept is None or not _is_binary_path(path):
        return False
    if not (len(path) == 2 or (len(path) == 4 and path[2] == "_history")):
        return False
    if path[1].startswith(("_", "$")):
        return False
    ranges = sorted((weighted(v) for v in accept.split(",") if v.strip()), key=lambda m: -m[1])
    first = next((mime for mime, q in ranges if q > 0), None)
    return first is not None and first not in _FHIR_MEDIA and not first.endswith("/*")


def native_response(result: FhirResult) -> Response | None:
    """The content of the Binary a successful read found, as itself; None when the result is
    not one (an error is answered as a FHIR error)."""
    stored = result.stored
    if result.status != 200 or stored is None or stored.content is None:
        return None
    resource = orjson.loads(stored.content)
    content_type = resource.get("contentType") or "application/octet-stream"
    try:
        body = base64.b64decode(resource.get("data") or "", validate=True)
    except (binascii.Error, ValueError):
        body = b""
    headers = [
        (b"etag", stored.etag.encode()),
        (b"last-modified", http_date(stored.ts).encode()),
        (b"content-type", str(content_type).encode("latin-1", "replace")),
        (b"content-length", str(len(body)).encode()),
        NOSNIFF,
        _SANDBOX,  # stored HTML or SVG runs no script on this origin
    ]
    return Response(200, headers, body)


def native_body(
    method: str, path: list[str], content_type: str | None, raw: bytes
) -> Callable[[], Any] | None:
    """For a create or update of a Binary sent as its content (a non-FHIR Content-Type), the
    decoder of the Binary resource it stands for; None for any other request."""
    if method not in ("POST", "PUT") or not _is_binary_path(path) or not content_type:
        return None
    if len(path) not in (1, 2) or (len(path) == 2 and path[1].startswith(("_", "$"))):
        return None
    mime = weighted(content_type)[0]
    if mime in _FHIR_MEDIA:
        return None
    if "/" not in mime:
        raise Invalid(f"Content-Type {content_type!r} is no media type", ["Binary.contentType"])

    def decode() -> dict[str, Any]:
        resource: dict[str, Any] = {"resourceType": "Binary"}
        if len(path) == 2:
            resource["id"] = path[1]
        resource["contentType"] = content_type.strip()
        resource["data"] = base64.b64encode(raw).decode("ascii")
        return resource

    return decode
