"""The pages a person opens in a browser: ``/`` (where to go), ``/docs`` (Swagger UI) and
``/redoc`` (ReDoc) over ``/openapi.json``.

Their scripts and styles are served by this server from ``/docs/assets`` — the Swagger UI 5 and
ReDoc builds the ``fastapi-offline`` package ships — never from a CDN: the pages work without
internet access and no third party learns who reads them.
"""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path

from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

ASSETS = "/docs/assets"
ASSET_DIRECTORY = Path(str(files("fastapi_offline") / "static"))
"""Swagger UI's bundle and stylesheet, ReDoc's standalone bundle and a favicon."""

TITLE = "fhir-server — FHIR R4 API"


def swagger_ui(root: str) -> HTMLResponse:
    """Swagger UI over ``openapi.json``; its Authorize button runs SMART's authorization code
    flow with PKCE (a public client registered with the redirect URI
    ``<server>/docs/oauth2-redirect``) or takes a bearer token (``fhir-server token``)."""
    return get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title=TITLE,
        swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
        oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
        init_oauth={"usePkceWithAuthorizationCodeGrant": True},
        swagger_ui_parameters={"docExpansion": "none", "tryItOutEnabled": False},
    )


def redoc(root: str) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=f"{root}/openapi.json",
        title=TITLE,
        redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
        with_google_fonts=False,
    )


def links(root: str, fhir_base: str, metrics: bool) -> dict[str, str]:
    """Where a newcomer goes from ``/``: the API pages, the descriptions, the health check."""
    out = {
        "docs": f"{root}/docs",
        "redoc": f"{root}/redoc",
        "openapi": f"{root}/openapi.json",
        "capabilities": f"{root}{fhir_base}/metadata",
        "smart_configuration": f"{root}{fhir_base}/.well-known/smart-configuration",
        "health": f"{root}/health",
    }
    if metrics:
        out["metrics"] = f"{root}/metrics"
    return out


def wants_html(accept: str | None) -> bool:
    """A browser's navigation (``Accept: text/html,…``), not an API client's."""
    return accept is not None and "text/html" in accept


_LABELS = {
    "docs": "API explorer (Swagger UI): every type, interaction, search parameter, operation",
    "redoc": "API reference (ReDoc)",
    "openapi": "OpenAPI 3.1 description (generated from the CapabilityStatement)",
    "capabilities": "CapabilityStatement",
    "smart_configuration": "SMART configuration (authorization endpoints)",
    "health": "Health check",
    "metrics": "Prometheus metrics",
}


def index_html(version: str, links: dict[str, str]) -> str:
    items = "\n".join(
        f'<li><a href="{html.escape(url)}">{html.escape(_LABELS[name])}</a>'
        f" <code>{html.escape(url)}</code></li>"
        for name, url in links.items()
    )
    return (
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        f"<title>{TITLE}</title><h1>fhir-server {html.escape(version)}</h1>"
        f"<p>A FHIR R4 server.</p><ul>\n{items}\n</ul></html>"
    )
