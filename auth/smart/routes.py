"""The authorization server's HTTP endpoints, under the FHIR base:

======================================  =================================================
``GET  .well-known/smart-configuration``  SMART discovery (any Accept; CORS for any origin)
``GET  .well-known/openid-configuration`` OpenID Connect discovery
``GET  .well-known/jwks.json``            the signing keys
``GET|POST auth/authorize``               authorization request → login page
``GET|POST auth/login``                   login (GET: switch language)
``POST auth/patient``                     patient picker (clinicians, standalone launch)
``POST auth/approve``                     approval → redirect with the code
``POST auth/token``                       token endpoint (code, refresh, client credentials)
``POST auth/introspect``                  RFC 7662
``POST auth/revoke``                      RFC 7009
``POST auth/launch``                      EHR launch contexts (for the EHR)
``GET  auth/smart-style.json``            the default ``smart_style_url``
======================================  =================================================

OAuth responses carry ``Cache-Control: no-store`` and ``Pragma: no-cache``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson
from authlib.oauth2.rfc6749 import InsecureTransportError
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from auth.smart import pages
from auth.smart.cors import public_cors
from auth.smart.discovery import openid_configuration, smart_configuration
from auth.smart.interactive import INSECURE, Flow, form_pairs, page_headers
from auth.smart.launch import LaunchError, caller, create_launch
from auth.smart.request import BodyTooLarge, SmartRequest, read_body
from auth.smart.server import SmartServer
from fhir_server.config import Settings
from fhir_server.http.headers import NOSNIFF, adding
from fhir_server.http.hosts import UNTRUSTED, HostTrust

log = logging.getLogger("auth.smart")
_CODE = re.compile(r"[A-Za-z0-9_\-]{16,128}")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_TOO_LARGE = "Request body too large"
_PAGES = frozenset(f"/fhir/auth/{page}" for page in ("authorize", "login", "patient", "approve"))
STYLE = {
    "color_background": "#f4f6f8",
    "color_error": "#a40000",
    "color_highlight": "#00598a",
    "color_modal_backdrop": "",
    "color_success": "#2e7d32",
    "color_text": "#1d2b36",
    "dim_border_radius": "4px",
    "dim_font_size": "14px",
    "dim_spacing_size": "16px",
    "font_family_body": "system-ui, sans-serif",
    "font_family_heading": "system-ui, sans-serif",
}


def json_response(body: Any, status: int = 200, headers: Any = None) -> Response:
    return Response(
        orjson.dumps(body), status, headers=dict(headers or {}), media_type="application/json"
    )


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json_response({"error": error, "error_description": description}, status, _NO_STORE)


class AuthRoutes:
    def __init__(self, settings: Settings, smart: SmartServer | None) -> None:
        self.settings = settings
        self.smart = smart
        routes = [Route("/fhir/.well-known/smart-configuration", self.smart_configuration)]
        if smart is not None:
            routes += [
                Route("/fhir/.well-known/openid-configuration", self.openid_configuration),
                Route("/fhir/.well-known/jwks.json", self.jwks),
                Route("/fhir/auth/authorize", self.authorize, methods=["GET", "POST"]),
                Route("/fhir/auth/login", self.login, methods=["GET", "POST"]),
                Route("/fhir/auth/patient", self.patient, methods=["POST"]),
                Route("/fhir/auth/approve", self.approve, methods=["POST"]),
                Route("/fhir/auth/token", self.token, methods=["POST"]),
                Route("/fhir/auth/introspect", self.introspect, methods=["POST"]),
                Route("/fhir/auth/revoke", self.revoke, methods=["POST"]),
                Route("/fhir/auth/launch", self.launch, methods=["POST"]),
                Route("/fhir/auth/smart-style.json", self.style),
                Route("/fhir/auth/code", self.code),
            ]
        self.app = Starlette(routes=routes, exception_handlers={ClientDisconnect: _gone})
        self.hosts = HostTrust(settings)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        send = adding(send, [NOSNIFF])
        if self.hosts.base(scope, Headers(scope=scope).get("host")) is None:
            await self.untrusted_host(scope)(scope, receive, send)
        elif scope["path"].startswith("/fhir/.well-known/"):
            await public_cors(self.app, scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def untrusted_host(self, scope: dict[str, Any]) -> Response:
        """400: a page for the browser's pages, an OAuth error for the rest."""
        if scope["path"] in _PAGES:
            lang = pages.pick_language(None, Headers(scope=scope).get("accept-language"))
            body = pages.error(lang, UNTRUSTED, "invalid_request")
            return HTMLResponse(body, 400, headers=page_headers([], None))
        return _oauth_error("invalid_request", UNTRUSTED)

    def base(self, request: Request) -> str:
        """The request's FHIR base (its Host was found trusted in ``__call__``)."""
        base = self.hosts.base(request.scope, request.headers.get("host"))
        assert base is not None
        return base

    def flow(self, request: Request) -> Flow:
        assert self.smart is not None
        return Flow(self.smart, self.base(request))

    # discovery
    async def smart_configuration(self, request: Request) -> Response:
        config = smart_configuration(self.settings, self.base(request))
        if config is None:
            return json_response({"error": "not_found"}, 404)
        return json_response(config)

    async def openid_configuration(self, request: Request) -> Response:
        return json_response(openid_configuration(self.base(request)))

    async def jwks(self, request: Request) -> Response:
        assert self.smart is not None
        return json_response(self.smart.keys.public_jwks())

    async def style(self, request: Request) -> Response:
        return json_response(STYLE)

    # the browser flow
    async def _page(self, request: Request, step: Any) -> Response:
        flow = self.flow(request)
        try:
            response: Response = await step(flow, request)
        except BodyTooLarge:
            lang = pages.pick_language(None, request.headers.get("accept-language"))
            return flow.page(pages.error(lang, pages.TEXT[lang]["too_large"]), 413)
        return response

    async def authorize(self, request: Request) -> Response:
        return await self._page(request, Flow.authorize)

    async def login(self, request: Request) -> Response:
        return await self._page(request, Flow.login)

    async def patient(self, request: Request) -> Response:
        return await self._page(request, Flow.pick)

    async def approve(self, request: Request) -> Response:
        return await self._page(request, Flow.approve)

    # OAuth endpoints
    async def _oauth_request(self, request: Request) -> SmartRequest | Response:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            return _oauth_error("invalid_request", "Send application/x-www-form-urlencoded")
        base = self.base(request)
        url = f"{base}{request.url.path.removeprefix('/fhir')}"
        try:
            return SmartRequest("POST", url, request.headers, await form_pairs(request), base)
        except BodyTooLarge:
            return _oauth_error("invalid_request", _TOO_LARGE, 413)
        except InsecureTransportError:
            return _oauth_error("insecure_transport", INSECURE)

    async def _endpoint(
        self, request: Request, run: Any, *args: Any
    ) -> tuple[SmartRequest | None, Response]:
        """Run an authlib endpoint on the request's form; its JSON answer, never cached."""
        assert self.smart is not None
        req = await self._oauth_request(request)
        if isinstance(req, Response):
            return None, req
        status, body, headers = await self.smart.run(run, *args, req)
        response = json_response(body, status, headers)
        response.headers.update(_NO_STORE)
        return req, response

    async def token(self, request: Request) -> Response:
        assert self.smart is not None
        req, response = await self._endpoint(request, self.smart.oauth.create_token_response)
        origin = request.headers.get("origin")
        client = req.client if req is not None else None
        if origin and client is not None and client.public and origin in client.origins():
            response.headers["Access-Control-Allow-Origin"] = origin  # SMART: registered origins
            response.headers["Vary"] = "Origin"
        return response

    async def introspect(self, request: Request) -> Response:
        assert self.smart is not None
        run = self.smart.oauth.create_endpoint_response
        return (await self._endpoint(request, run, "introspection"))[1]

    async def revoke(self, request: Request) -> Response:
        assert self.smart is not None
        run = self.smart.oauth.create_endpoint_response
        return (await self._endpoint(request, run, "revocation"))[1]

    async def launch(self, request: Request) -> Response:
        assert self.smart is not None
        base = self.base(request)
        try:
            ehr = await caller(self.smart, request.headers)
            try:
                body = orjson.loads(await read_body(request))
            except BodyTooLarge as err:
                raise LaunchError(413, "invalid_request", _TOO_LARGE) from err
            except orjson.JSONDecodeError as err:
                raise LaunchError(400, "invalid_request", "The body must be JSON") from err
            created = await create_launch(self.smart, ehr, body, base)
        except LaunchError as err:
            return _oauth_error(err.error, err.description, err.status)
        return json_response(created, 201, _NO_STORE)

    async def code(self, request: Request) -> Response:
        """A redirect URI for a person rather than an app (the demo's standalone launch):
        shows the code and the ``curl`` that exchanges it. Register it as
        ``<FHIR base>/auth/code``; the code is worth nothing without the PKCE verifier."""
        base = self.base(request)
        found = request.query_params
        code = found.get("code", "")
        if not _CODE.fullmatch(code):  # only what this server issues goes into a command
            error = found.get("error_description") or found.get("error") or "no code"
            return HTMLResponse(
                pages.error("en", error),
                400,
                headers=page_headers(self.settings.auth_frame_ancestors, None),
            )
        exchange = (
            f"curl -s -d grant_type=authorization_code -d client_id=<your client id>"
            f" -d 'redirect_uri={base}/auth/code' -d code={code}"
            f" -d code_verifier=<the PKCE verifier> {base}/auth/token"
        )
        body = pages.code(code, found.get("state", ""), exchange)
        return HTMLResponse(body, headers=page_headers(self.settings.auth_frame_ancestors, None))


async def _gone(request: Request, exc: Exception) -> Response:
    """A client that went away before its request body was complete: nothing was done and
    nobody is left to answer (499, as nginx logs it) — not an error with a traceback."""
    log.info("client disconnected before the body was complete; nothing was done")
    return Response(status_code=499)
