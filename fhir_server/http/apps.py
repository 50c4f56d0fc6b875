"""The browser apps this server ships, served as static files under ``/apps/``.

Each directory of ``fhir_server/apps/`` holding an ``index.html`` is one app, reached at
``/apps/<directory>/``; ``/apps/vendor/`` holds the few libraries they share, copied out of npm
by scripts/vendor_js.py (the SMART client, the charting library). The apps are ordinary SMART
on FHIR clients: registered like any third-party app (``fhir-server demo`` registers them) and
talking to the FHIR API only — nothing here gives them a private way in. Serving them from this
server spares a build step and a second web server, nothing more.

Every response carries headers a page holding health data needs:
- a Content-Security-Policy allowing only this origin's scripts, styles and connections — no
  inline script, no CDN, no framing (clickjacking), no ``<base>`` or form elsewhere;
- ``Referrer-Policy: no-referrer``: the SMART callback's URL carries the authorization code;
- ``Cache-Control: no-cache``: revalidated by ETag each time, so a fixed app reaches users at
  once, and a repeat visit on a slow connection costs one 304 per file;
and files are gzip-coded for a client that accepts it (the charting library is 200 KB).
"""

from __future__ import annotations

from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from fhir_server.http.headers import adding

APPS_DIRECTORY = Path(__file__).resolve().parent.parent / "apps"
MOUNT = "/apps"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-cache"),
    (b"x-frame-options", b"DENY"),
]


class AppFiles:
    """The static files with the headers above; ``/apps/<name>`` redirects to
    ``/apps/<name>/`` (Starlette's ``html`` mode), so relative links in each app resolve."""

    def __init__(self) -> None:
        self.files = GZipMiddleware(StaticFiles(directory=APPS_DIRECTORY, html=True))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.files(scope, receive, adding(send, HEADERS))
