"""The FHIR REST API as a pure ASGI app: HTTP in, FhirRequest to the router, FhirResult out.

FHIR's URL grammar ([type]/[id]/_history/[vid]) is routed by splitting the path once; no
framework routing, middleware or model parsing sits on the read path (docs/design/http.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote

from fhir_server.access import Authenticator, Grant, Open, Security
from fhir_server.config import Settings
from fhir_server.errors import FhirError, Invalid, TooLarge
from fhir_server.http import binary, codecs
from fhir_server.http.access_log import CLIENT_KEY
from fhir_server.http.compression import chosen_coding
from fhir_server.http.hosts import UNTRUSTED, HostTrust
from fhir_server.http.negotiation import FHIR_JSON, FHIR_XML, JSON, answer_type, request_kind
from fhir_server.http.respond import respond, respond_crash, respond_error, send_response
from fhir_server.interactions.context import Context, FhirRequest, FhirResult
from fhir_server.interactions.read import read
from fhir_server.interactions.router import audited
from fhir_server.numbers import parse_count
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.services import Services, create_services
from fhir_server.store.base import Store

log = logging.getLogger("fhir_server.http")

PREFIX = "/fhir"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_PREFIX_SLASH = (PREFIX + "/").encode()
_PLAIN_ACCEPT: dict[str | None, str] = {
    None: FHIR_JSON,
    "*/*": FHIR_JSON,
    FHIR_JSON: FHIR_JSON,
    JSON: JSON,
    FHIR_XML: FHIR_XML,
}
"""Accept headers answered on the plain-read path (`response_type` gives the same)."""

Scope = dict[str, Any]


class Head(NamedTuple):
    """The request head, read once for both branches: the request line and the headers this
    server uses (each ``None`` when absent; a repeated header's last value). A NamedTuple
    rather than a frozen dataclass: as immutable, and a fraction of the cost to build on the
    plain read, the hot path. Each header field is named after its header (``if_none_match``
    is ``If-None-Match``): `_HEAD_FIELDS` is derived from the names."""

    method: str
    path: str
    """ASGI's ``path`` (percent-decoded)."""
    raw_path: bytes | None
    query: bytes
    host: str | None = None
    accept: str | None = None
    authorization: str | None = None
    content_type: str | None = None
    content_length: str | None = None
    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    if_none_exist: str | None = None
    prefer: str | None = None
    accept_encoding: str | None = None


_HEAD_FIELDS: dict[bytes, int] = {
    name.replace("_", "-").encode(): index
    for index, name in enumerate(Head._fields)
    if index >= Head._fields.index("host")
}
"""Where each header `Head` keeps goes in it, by its ASGI name (ASGI gives header names
lowercased): ``b"if-none-match"`` is the field ``if_none_match``."""
_NO_HEADERS = (None,) * len(_HEAD_FIELDS)
_new_tuple = tuple.__new__


def _head(scope: Scope) -> Head:
    """The request head in one pass over the header list."""
    values = [scope["method"], scope["path"], scope.get("raw_path"), scope["query_string"]]
    values += _NO_HEADERS
    for name, value in scope["headers"]:
        index = _HEAD_FIELDS.get(name)
        if index is not None:
            values[index] = value.decode("latin-1")
    return _new_tuple(Head, values)  # as Head._make, less its length check (every field is here)


def _if_modified_since(raw: str | None) -> int | None:
    if not raw:
        return None
    try:
        return int(parsedate_to_datetime(raw).timestamp() * 1_000_000)
    except (TypeError, ValueError):
        return None  # RFC 9110: an invalid date is ignored


def _prefer(raw: str | None, wanted: str) -> str | None:
    """The value of one preference (``return``, ``handling``) in a Prefer header."""
    if not raw:
        return None
    for token in raw.split(","):
        for part in token.split(";"):
            key, _, value = part.strip().partition("=")
            if key == wanted:
                return value.strip('"')
    return None


class PlainRead(NamedTuple):
    """What the plain-read branch reads and how it answers."""

    type: str
    id: str
    media: str


def _plain_read(head: Head) -> PlainRead | None:
    """``GET [base]/[type]/[id]`` without a query, conditional headers or an unusual Accept
    — the request clients send most — or None: the general branch handles the rest
    (percent-encoding, conditional reads, negotiation), so both always answer alike
    (tests/api/test_plain_read.py)."""
    if head.method != "GET" or head.query:
        return None
    raw = head.raw_path
    if raw is None or b"%" in raw or not raw.startswith(_PREFIX_SLASH):
        return None
    parts = raw[len(_PREFIX_SLASH) :].split(b"/")
    if len(parts) != 2 or not parts[1] or parts[1][:1] in (b"_", b"$"):
        return None  # [type]/_history, [type]/$operation: the router's (no id starts so)
    if head.if_match is not None or head.if_none_match is not None:
        return None
    if head.if_modified_since is not None:
        return None
    media = _PLAIN_ACCEPT.get(head.accept)
    type_ = parts[0].decode("latin-1")
    if media is None or type_ not in SERVED_TYPES:
        return None
    return PlainRead(type_, parts[1].decode("latin-1"), media)


class FhirApp:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        authenticator: Authenticator | None = None,
        security: Security | None = None,
        services: Services | None = None,
    ) -> None:
        """``security``: what the CapabilityStatement declares (the bootstrap passes the
        authorization server's description in; the FHIR API knows nothing of it).
        ``services``: the server's router, search parameters and checks (the bootstrap's)."""
        self.settings = settings
        self.services = services or create_services(settings)
        self.security = security
        self.store = store
        if authenticator is None and settings.auth != "off":  # never silently unprotected
            raise ValueError(f"FHIR_AUTH={settings.auth} needs an authenticator")
        self.authenticator: Authenticator = authenticator or Open()
        self.hosts = HostTrust(settings)

    def base_url(self, scope: Mapping[str, Any], host: str | None) -> str:
        """The FHIR base; 400 when it would come from a Host header this server does not trust."""
        base = self.hosts.base(scope, host)
        if base is None:
            raise Invalid(UNTRUSTED)
        return base

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """One pipeline with two branches: the head is read once (`_head`); a plain read
        (`_plain_read`) is authenticated and read once and answered from the stored bytes;
        everything else goes through the router. Both branches end in `respond` or
        `respond_error` (`http/respond.py`), so a failed plain read is answered once, not tried
        again on the general branch."""
        head = _head(scope)
        is_head = head.method == "HEAD"
        if is_head:  # HEAD is GET without the body (RFC 9110 §9.3.2), on every GET route
            head = head._replace(method="GET")
        plain = _plain_read(head)
        base = self.hosts.base(scope, head.host) if plain is not None else None
        media = plain.media if plain is not None and base is not None else FHIR_JSON
        pretty = False
        try:
            if plain is not None and base is not None:  # else also an untrusted Host's 400
                req = FhirRequest("GET", [plain.type, plain.id])
                result = await self._read(plain, head, base, req, scope)
            else:
                base = self.base_url(scope, head.host)
                qs = head.query
                params = parse_qsl(qs.decode("latin-1"), keep_blank_values=True) if qs else []
                pretty = _param(params, "_pretty") == "true"
                native = head.method == "GET" and binary.native_read(
                    head.method, _segments(head), head.accept, _param(params, "_format")
                )
                media = (
                    FHIR_JSON  # its errors
                    if native
                    else answer_type(head.accept, _param(params, "_format"), head.content_type)
                )
                principal = await self._principal(head, base)
                scope[CLIENT_KEY] = principal.client_id
                req = await self._request(head, receive, params)
                ctx = self._context(principal, base)
                result = await self.services.router.dispatch(ctx, req)
                if native and (raw := binary.native_response(result)) is not None:
                    await send_response(send, raw, chosen_coding(head.accept_encoding), is_head)
                    return
            response = respond(req, result, base, media)
        except Disconnected:
            log.info("client disconnected before the body was complete; nothing was done")
            return
        except FhirError as err:
            response = respond_error(err, media, pretty)
        except Exception:
            log.exception("unhandled error on %s %s", head.method, head.path)
            response = respond_crash(media)
        await send_response(send, response, chosen_coding(head.accept_encoding), is_head)

    async def _read(
        self, plain: PlainRead, head: Head, base: str, req: FhirRequest, scope: Scope
    ) -> FhirResult:
        """The `read` interaction without the router (query, negotiation, request building: a
        third of a read's cost in Python); its errors are answered as the general branch's are."""
        principal = await self.authenticator.authenticate(head.authorization, base)
        scope[CLIENT_KEY] = principal.client_id
        ctx = self._context(principal, base)
        return await audited(ctx, req, "read", read, plain.type, plain.id)

    def _context(self, principal: Grant, base: str) -> Context:
        return Context(
            self.store,
            self.settings,
            principal,
            base,
            security=self.security,
            services=self.services,
        )

    async def _principal(self, head: Head, base: str) -> Grant:
        """Who calls (before the body is read: a request without a valid token costs nothing);
        the CapabilityStatement is public, as SMART clients discover the server through it."""
        if head.path == f"{PREFIX}/metadata" and self.authenticator.mode != "off":
            return self.authenticator.public
        return await self.authenticator.authenticate(head.authorization, base)

    async def _request(
        self, head: Head, receive: Any, params: list[tuple[str, str]]
    ) -> FhirRequest:
        method = head.method
        path = _segments(head)
        kind = decode = None
        if method in _BODY_METHODS:
            raw = await self._body(receive, head.content_length)
            native = binary.native_body(method, path, head.content_type, raw) if raw else None
            if native is not None:  # a Binary sent as its content
                kind, decode = "fhir", native
            elif raw:
                wire = request_kind(head.content_type, method, bool(path) and path[-1] == "_search")
                kind, decode = codecs.document_kind(wire), partial(codecs.decode, wire, raw)
        return FhirRequest(
            method=method,
            path=path,
            params=params,
            content_type=kind,
            decode=decode,
            if_match=head.if_match,
            if_none_match=head.if_none_match,
            if_modified_since=_if_modified_since(head.if_modified_since),
            if_none_exist=head.if_none_exist,
            prefer_return=_prefer(head.prefer, "return"),
            prefer_handling=_prefer(head.prefer, "handling"),
            prefer_async=_prefer(head.prefer, "respond-async") is not None,
        )

    async def _body(self, receive: Any, declared: str | None) -> bytes:
        """The whole body, or `Disconnected` when the client goes away before sending all of
        it (before the declared Content-Length, or before the last chunk): a truncated
        request is never executed."""
        limit = self.settings.max_body_bytes
        expected = None
        if declared is not None:
            expected = parse_count(declared.strip())
            if expected is None:
                raise Invalid("Content-Length is not a number")
            if expected > limit:
                raise TooLarge(f"Request body of {declared} bytes exceeds the limit of {limit}")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message.get("type") == "http.disconnect":
                raise Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"Request body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                if expected is not None and size != expected:
                    raise Disconnected
                return b"".join(chunks)


class Disconnected(Exception):
    """The client went away before the request's body was complete: nothing is done and
    nothing is answered (nobody is there to read it)."""


def _segments(head: Head) -> list[str]:
    """The path segments after the FHIR base, each percent-decoded exactly once.

    ASGI's ``path`` is already decoded (decoding it again would read ``Patient/%2541`` as
    ``Patient/A``, and ``%2F`` would split a segment), so split ``raw_path`` and decode each
    segment; without a usable ``raw_path``, split the decoded ``path`` as it is.
    """
    raw = head.raw_path
    if raw is not None and b"%" not in raw:
        return [p for p in raw.decode("latin-1")[len(PREFIX) :].split("/") if p]
    if raw is not None:
        text = raw.decode("latin-1")
        if unquote(text) == head.path:
            return [unquote(p) for p in text[len(PREFIX) :].split("/") if p]
    return [p for p in head.path[len(PREFIX) :].split("/") if p]


def _param(params: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in params if k == name), None)
