"""The FHIR REST API as a pure ASGI app: HTTP in, FhirRequest to the router, FhirResult out.

FHIR's URL grammar ([type]/[id]/_history/[vid]) is routed by splitting the path once; no
framework routing, middleware or model parsing sits on the read path (docs/design/http.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, unquote

from fhir_server.access import Authenticator, Grant, Open, Security
from fhir_server.config import Settings
from fhir_server.errors import FhirError, Invalid, TooLarge
from fhir_server.http import codecs
from fhir_server.http.hosts import UNTRUSTED, HostTrust
from fhir_server.http.negotiation import FHIR_JSON, JSON, request_kind, response_type
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
_CONDITIONAL = frozenset({b"if-none-match", b"if-modified-since", b"if-match"})
_PLAIN_ACCEPT: dict[bytes | None, str] = {
    None: FHIR_JSON,
    b"*/*": FHIR_JSON,
    FHIR_JSON.encode(): FHIR_JSON,
    JSON.encode(): JSON,
}
"""Accept headers answered on the plain-read path (`response_type` gives the same)."""

Scope = dict[str, Any]


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


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


@dataclass(frozen=True, slots=True)
class PlainHead:
    """What a plain read needs from the request head, taken in one pass over the headers."""

    type: str
    id: str
    host: str | None
    authorization: str | None
    media: str


def _plain_head(scope: Scope) -> PlainHead | None:
    """``GET [base]/[type]/[id]`` without a query, conditional headers or an unusual Accept
    — the request clients send most — or None: the general branch handles the rest
    (percent-encoding, conditional reads, negotiation), so both always answer alike
    (tests/api/test_plain_read.py)."""
    if scope["method"] != "GET" or scope["query_string"]:
        return None
    raw = scope.get("raw_path")
    if raw is None or b"%" in raw or not raw.startswith(_PREFIX_SLASH):
        return None
    parts = raw[len(_PREFIX_SLASH) :].split(b"/")
    if len(parts) != 2 or not parts[1] or parts[1][:1] in (b"_", b"$"):
        return None  # [type]/_history, [type]/$operation: the router's (no id starts so)
    host = accept = authorization = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
        elif name == b"accept":
            accept = value
        elif name == b"authorization":
            authorization = value
        elif name in _CONDITIONAL:
            return None
    media = _PLAIN_ACCEPT.get(accept)
    type_ = parts[0].decode("latin-1")
    if media is None or type_ not in SERVED_TYPES:
        return None
    return PlainHead(
        type_,
        parts[1].decode("latin-1"),
        host.decode("latin-1") if host is not None else None,
        authorization.decode("latin-1") if authorization is not None else None,
        media,
    )


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

    def base_url(self, scope: Mapping[str, Any], headers: dict[str, str]) -> str:
        """The FHIR base; 400 when it would come from a Host header this server does not trust."""
        base = self.hosts.base(scope, headers.get("host"))
        if base is None:
            raise Invalid(UNTRUSTED)
        return base

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """One pipeline with two branches: a plain read (`_plain_head`) is authenticated and
        read once and answered from the stored bytes; everything else goes through the router.
        Both branches end in `respond` or `respond_error` (`http/respond.py`), so a failed plain
        read is answered once, not tried again on the general branch."""
        plain = _plain_head(scope)
        base = self.hosts.base(scope, plain.host) if plain is not None else None
        media = plain.media if plain is not None and base is not None else FHIR_JSON
        try:
            if plain is not None and base is not None:  # else also an untrusted Host's 400
                req = FhirRequest("GET", [plain.type, plain.id])
                result = await self._plain_read(plain, base, req)
            else:
                headers = _headers(scope)
                base = self.base_url(scope, headers)
                qs = scope["query_string"]
                params = parse_qsl(qs.decode("latin-1"), keep_blank_values=True) if qs else []
                media = response_type(headers.get("accept"), _param(params, "_format"))
                principal = await self._principal(scope, headers, base)
                req = await self._request(scope, receive, headers, params)
                ctx = self._context(principal, base)
                result = await self.services.router.dispatch(ctx, req)
            response = respond(req, result, base, media)
        except Disconnected:
            log.info("client disconnected before the body was complete; nothing was done")
            return
        except FhirError as err:
            response = respond_error(err, media)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            response = respond_crash(media)
        await send_response(send, response)

    async def _plain_read(self, plain: PlainHead, base: str, req: FhirRequest) -> FhirResult:
        """The `read` interaction without the router (header dict, query, negotiation: a third
        of a read's cost in Python); its errors are answered as the general branch's are."""
        principal = await self.authenticator.authenticate(plain.authorization, base)
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

    async def _principal(self, scope: Scope, headers: dict[str, str], base: str) -> Grant:
        """Who calls (before the body is read: a request without a valid token costs nothing);
        the CapabilityStatement is public, as SMART clients discover the server through it."""
        if scope["path"] == f"{PREFIX}/metadata" and self.authenticator.mode != "off":
            return self.authenticator.public
        return await self.authenticator.authenticate(headers.get("authorization"), base)

    async def _request(
        self, scope: Scope, receive: Any, headers: dict[str, str], params: list[tuple[str, str]]
    ) -> FhirRequest:
        method = scope["method"]
        path = _segments(scope)
        kind = decode = None
        if method in _BODY_METHODS:
            raw = await self._body(receive, headers)
            if raw:
                wire = request_kind(
                    headers.get("content-type"), method, bool(path) and path[-1] == "_search"
                )
                kind, decode = codecs.document_kind(wire), partial(codecs.decode, wire, raw)
        return FhirRequest(
            method=method,
            path=path,
            params=params,
            content_type=kind,
            decode=decode,
            if_match=headers.get("if-match"),
            if_none_match=headers.get("if-none-match"),
            if_modified_since=_if_modified_since(headers.get("if-modified-since"))
            if "if-modified-since" in headers
            else None,
            if_none_exist=headers.get("if-none-exist"),
            prefer_return=_prefer(headers.get("prefer"), "return"),
            prefer_handling=_prefer(headers.get("prefer"), "handling"),
        )

    async def _body(self, receive: Any, headers: dict[str, str]) -> bytes:
        """The whole body, or `Disconnected` when the client goes away before sending all of
        it (before the declared Content-Length, or before the last chunk): a truncated
        request is never executed."""
        limit = self.settings.max_body_bytes
        declared = headers.get("content-length")
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


def _segments(scope: Scope) -> list[str]:
    """The path segments after the FHIR base, each percent-decoded exactly once.

    ASGI's ``path`` is already decoded (decoding it again would read ``Patient/%2541`` as
    ``Patient/A``, and ``%2F`` would split a segment), so split ``raw_path`` and decode each
    segment; without a usable ``raw_path``, split the decoded ``path`` as it is.
    """
    raw = scope.get("raw_path")
    if raw is not None and b"%" not in raw:
        return [p for p in raw.decode("latin-1")[len(PREFIX) :].split("/") if p]
    if raw is not None:
        text = raw.decode("latin-1")
        if unquote(text) == scope["path"]:
            return [unquote(p) for p in text[len(PREFIX) :].split("/") if p]
    return [p for p in scope["path"][len(PREFIX) :].split("/") if p]


def _param(params: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in params if k == name), None)
