"""Content negotiation: which JSON flavour to answer with (406 otherwise), which body we were sent
(415 otherwise). XML is not served."""

from __future__ import annotations

from functools import lru_cache

from fhir_server.errors import NotAcceptable, UnsupportedMediaType
from fhir_server.http.codecs import WireKind

FHIR_JSON = "application/fhir+json"
JSON = "application/json"
_JSON_ALIASES = {FHIR_JSON: FHIR_JSON, JSON: JSON, "application/json+fhir": FHIR_JSON}
_FORMAT_ALIASES = {"json": FHIR_JSON, "text/json": JSON, **_JSON_ALIASES}
_WILDCARDS = {"*/*": FHIR_JSON, "application/*": FHIR_JSON}
_ACCEPT_ALIASES = {**_JSON_ALIASES, "text/json": "text/json"}
"""http.html#mime-type: a generic ``text/json`` in Accept is answered in that type."""


def _mime(value: str) -> tuple[str, float]:
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
                f"_format={format_param} is not supported; this server speaks JSON", ["_format"]
            )
        return chosen
    if not accept:
        return FHIR_JSON
    ranges = sorted((_mime(v) for v in accept.split(",") if v.strip()), key=lambda m: -m[1])
    for mime, q in ranges:
        if q <= 0:
            continue
        chosen = _ACCEPT_ALIASES.get(mime) or _WILDCARDS.get(mime)
        if chosen:
            return chosen
    raise NotAcceptable(f"Cannot answer {accept!r}: this server speaks {FHIR_JSON} and {JSON}")


def request_kind(content_type: str | None, method: str, is_search: bool) -> WireKind:
    """``json``, ``json-patch`` or ``form`` for the body (`codecs` decodes it); anything else
    is a 415."""
    if not content_type:
        return "json"
    mime = _mime(content_type)[0]
    if mime in _JSON_ALIASES:
        return "json"
    if mime == "application/json-patch+json" and method == "PATCH":
        return "json-patch"
    if mime == "application/x-www-form-urlencoded" and is_search:
        return "form"
    raise UnsupportedMediaType(
        f"Content-Type {mime!r} is not accepted here; send {FHIR_JSON}"
        + (" or application/json-patch+json" if method == "PATCH" else ""),
    )
