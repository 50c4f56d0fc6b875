"""Wire formats: a request body decoded, and a document encoded, by the codec of its media type.

The HTTP layer (and a Bundle's Binary entry, which carries a body in a body) is the only place
that parses bytes from a client: interactions get the parsed document (`FhirRequest.document`)
and never know which format it came in. Two formats: JSON (`fhir_json`) and XML (`fhir_xml`),
whose document is the very JSON the JSON codec gives for the same resource; their media types
are in `negotiation`. A response is built as JSON and written in XML here at the end
(`http/respond.py`), so no interaction knows XML either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import parse_qsl

import orjson

from fhir_server import fhir_json, fhir_xml
from fhir_server.errors import Invalid

WireKind = Literal["json", "xml", "json-patch", "form"]
"""How a request body is written (`negotiation.request_kind` reads it from Content-Type)."""

DocumentKind = Literal["fhir", "json-patch", "form"]
"""What a decoded body is, whatever format it came in: a FHIR resource (``fhir``), a JSON Patch
document, or form pairs (``POST _search``); `FhirRequest.content_type` holds it."""


def _form(raw: bytes) -> list[tuple[str, str]]:
    try:
        text = raw.decode()
    except UnicodeDecodeError as err:
        raise Invalid(f"The form body is not UTF-8: {err}") from err
    return parse_qsl(text, keep_blank_values=True)


_DECODERS: dict[str, tuple[DocumentKind, Callable[[bytes], Any]]] = {
    "json": ("fhir", fhir_json.parse_body),
    "xml": ("fhir", fhir_xml.parse),
    "json-patch": ("json-patch", fhir_json.parse_body),
    "form": ("form", _form),
}


def document_kind(kind: WireKind) -> DocumentKind:
    """What a body written as ``kind`` holds once decoded."""
    return _DECODERS[kind][0]


def decode(kind: WireKind, raw: bytes) -> Any:
    """The parsed body (a resource, a JSON Patch document, form pairs), or a 400 naming what is
    wrong with it (`fhir_json.parse_body`: not JSON, a key twice, a control character;
    `fhir_xml.parse`: not well-formed, a DTD, an element R4 does not define there)."""
    return _DECODERS[kind][1](raw)


def _json(doc: Any, pretty: bool) -> bytes:
    return fhir_json.dumps(doc, option=orjson.OPT_INDENT_2 if pretty else 0)


_ENCODERS: dict[str, Callable[[Any, bool], bytes]] = {"json": _json, "xml": fhir_xml.render}


def encode(kind: str, doc: Any, pretty: bool = False) -> bytes:
    """``doc`` written in format ``kind`` (``json``, ``xml``), indented when ``pretty``
    (``_pretty``)."""
    return _ENCODERS[kind](doc, pretty)


def _json_as_is(body: bytes, pretty: bool) -> bytes:
    return _json(fhir_json.loads(body), True) if pretty else body


_FROM_JSON: dict[str, Callable[[bytes, bool], bytes]] = {
    "json": _json_as_is,
    "xml": fhir_xml.render_json,
}


def encode_json(kind: str, body: bytes, pretty: bool = False) -> bytes:
    """A document already written as JSON (what every result holds) in format ``kind``: JSON
    as it is (parsed and indented only for ``_pretty``), XML by `fhir_xml.render_json`."""
    return _FROM_JSON[kind](body, pretty)
