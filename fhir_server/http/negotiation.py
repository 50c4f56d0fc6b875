"""Content negotiation: which format and media type to answer with, FHIR JSON or FHIR XML (406
otherwise), which body we were sent (415 otherwise). A generic type (``application/json``,
``application/xml``, ``text/xml``, ``text/json``) is answered in that type, a FHIR one or a
``_format`` keyword in the FHIR type."""

from __future__ import annotations

from functools import lru_cache

from fhir_server.errors import NotAcceptable, UnsupportedMediaType
from fhir_server.http.codecs import WireKind

FHIR_JSON = "application/fhir+json"
JSON = "application/json"
FHIR_XML = "application/fhir+xml"
XML = "application/xml"
_JSON_ALIASES = {FHIR_JSON: FHIR_JSON, JSON: JSON, "application/json+fhir": FHIR_JSON}
_XML_ALIASES = {FHIR_XML: FHIR_XML, XML: XML, "application/xml+fhir": FHIR_XML}
_FORMAT_ALIASES = {
    "json": FHIR_JSON,
    "text/json": JSON,
    **_JSON_ALIASES,
    "xml": FHIR_XML,
    "text/xml": XML,
    **_XML_ALIASES,
}
_WILDCARDS = {"*/*": FHIR_JSON, "application/*": FHIR_JSON}
_ACCEPT_ALIASES = {
    **_JSON_ALIASES,
    "text/json": "text/json",
    **_XML_ALIASES,
    "text/xml": "text/xml",
    "application/fhir+ndjson": FHIR_JSON,
    "application/ndjson": FHIR_JSON,
}
"""http.html#mime-type: a generic ``text/json`` or ``text/xml`` in Accept is answered in that
type. ndjson — a bulk export's files (`FhirResult.media`) — is FHIR JSON wherever else it is
asked for (an error downloading a file is an OperationOutcome)."""
XML_TYPES = frozenset({FHIR_XML, XML, "text/xml"})
"""The media types answered in XML (`codecs.encode` ``xml``)."""


def weighted(value: str) -> tuple[str, float]:
    """One item of an ``Accept``-style header (``Accept``, ``Accept-Encoding``): its name in
    lower case and its q-value (1 when absent, 0 when not a number)."""
    parts = [p.strip() for p in value.split(";")]
    q = 1.0
    for param in parts[1:]:
        key, _, val = param.partition("=")
        if key.strip().lower() == "q":
            try:
                q = float(val)
            except ValueError:
                q = 0.0
    return parts[0].lower(), q


@lru_cache(maxsize=256)
def response_type(accept: str | None, format_param: str | None) -> str:
    """The media type to answer with; `_format` overrides Accept. Clients send the same few
    Accept headers over and over, so the answer is cached (errors are not cached)."""
    if format_param is not None:
        chosen = _FORMAT_ALIASES.get(format_param.strip().lower())
        if chosen is None:
            raise NotAcceptable(
                f"_format={format_param} is not supported; this server speaks JSON and XML",
                ["_format"],
            )
        return chosen
    if not accept:
        return FHIR_JSON
    ranges = sorted((weighted(v) for v in accept.split(",") if v.strip()), key=lambda m: -m[1])
    for mime, q in ranges:
        if q <= 0:
            continue
        chosen = _ACCEPT_ALIASES.get(mime) or _WILDCARDS.get(mime)
        if chosen:
            return chosen
    raise NotAcceptable(
        f"Cannot answer {accept!r}: this server speaks {FHIR_JSON}, {JSON}, {FHIR_XML} and {XML}"
    )


def answer_type(accept: str | None, format_param: str | None, content_type: str | None) -> str:
    """`response_type`, except that a request with an XML body and no preference of its own
    (no ``_format``, no Accept or ``*/*``) is answered in XML: the format it spoke."""
    if (
        format_param is None
        and accept in (None, "*/*")
        and content_type is not None
        and weighted(content_type)[0] in _XML_REQUEST
    ):
        return FHIR_XML
    return response_type(accept, format_param)


_XML_REQUEST = frozenset({*_XML_ALIASES, "text/xml"})


def request_kind(content_type: str | None, method: str, is_search: bool) -> WireKind:
    """``json``, ``xml``, ``json-patch`` or ``form`` for the body (`codecs` decodes it);
    anything else is a 415."""
    if not content_type:
        return "json"
    mime = weighted(content_type)[0]
    if mime in _JSON_ALIASES:
        return "json"
    if mime in _XML_REQUEST:
        return "xml"
    if mime == "application/json-patch+json" and method == "PATCH":
        return "json-patch"
    if mime == "application/x-www-form-urlencoded" and is_search:
        return "form"
    raise UnsupportedMediaType(
        f"Content-Type {mime!r} is not accepted here; send {FHIR_JSON} or {FHIR_XML}"
        + (" or application/json-patch+json" if method == "PATCH" else ""),
    )
