"""Content-coding of responses (RFC 9110 §8.4, §12.5.3): gzip or deflate when the client's
``Accept-Encoding`` asks for it, so the 75 KB CapabilityStatement and 100 KB search pages do
not cross the network as plain JSON. Done here, at the one way out of the FHIR API
(`respond.send_response`), rather than by Starlette's GZipMiddleware: the FHIR API is a pure
ASGI app with no middleware on its read path (docs/design/http.md), the middleware knows
nothing of ``deflate`` or of ``HEAD``, and a whole response is in hand here anyway (no
streaming to wrap). Small bodies are sent as they are (compressing them costs more CPU than
the bytes it saves); 204 and 304 have no body to code. ETags stay as they are: this server's
are weak (``W/"3"``), which a content-coding does not change (RFC 9110 §8.8.1)."""

from __future__ import annotations

import zlib
from functools import lru_cache

from fhir_server.http.negotiation import weighted

MIN_SIZE = 1024
"""Bodies shorter than this go out uncoded (below about one TCP segment coding saves nothing
the client notices)."""
LEVEL = 1
"""zlib's fastest level (nginx's default too): on a search page it costs about a fifth of the
CPU of zlib's default 6 for ~10-15 % more bytes (bench/gzip_cost.py measures both) — on a
CPU-bound server the better trade."""
VARY = (b"vary", b"Accept-Encoding")
_WBITS = {"gzip": 31, "deflate": 15}
"""zlib's window bits: 16 + 15 writes the gzip format; 15 the zlib format, which is what
HTTP's ``deflate`` means (RFC 9110 §8.4.1.2)."""
_PREFERENCE = ("gzip", "deflate")


@lru_cache(maxsize=256)
def chosen_coding(accept_encoding: str | None) -> str | None:
    """``gzip``, ``deflate`` or None (identity) for an ``Accept-Encoding`` header: the coding
    with the highest q-value above 0 (gzip on a tie); ``*`` stands for any coding not named;
    ``gzip;q=0`` refuses it. Clients send the same few headers over and over: cached."""
    if not accept_encoding:
        return None
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, q = weighted(item)
        if name:
            weights[name] = q
    star = weights.get("*", 0.0)
    best, best_q = None, 0.0
    for coding in _PREFERENCE:
        q = weights.get(coding, star)
        if q > best_q:
            best, best_q = coding, q
    return best


def compressible(status: int, body: bytes) -> bool:
    """Whether a response's body is coded when the client asks (and so varies with
    ``Accept-Encoding``)."""
    return status not in (204, 304) and len(body) >= MIN_SIZE


def encode(coding: str, body: bytes, level: int = LEVEL) -> bytes:
    """``body`` in ``coding`` (``gzip`` or ``deflate``)."""
    coder = zlib.compressobj(level, zlib.DEFLATED, _WBITS[coding])
    return coder.compress(body) + coder.flush()
