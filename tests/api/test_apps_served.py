"""The browser apps' files under ``/apps/`` (fhir_server/http/apps.py): this server's own, with
a Content-Security-Policy that allows nothing from elsewhere, no referrer (the SMART callback's
URL holds the code), revalidation by ETag, gzip for a client that asks — and nothing outside the
apps' directory. Real HTTP through the ASGI app."""

from __future__ import annotations

import httpx

from fhir_server.http.apps import CONTENT_SECURITY_POLICY

ROOT = "http://testserver"
CLIENT = f"{ROOT}/apps/vendor/fhir-client.pure.min.js"


async def test_a_vendored_library_is_served_with_the_apps_headers(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.get(CLIENT, headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert resp.headers["content-encoding"] == "gzip" and "FHIR" in resp.text
    assert resp.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert resp.headers["referrer-policy"] == "no-referrer"
    assert resp.headers["cache-control"] == "no-cache"
    assert resp.headers["x-content-type-options"] == "nosniff"
    again = await client.get(CLIENT, headers={"If-None-Match": resp.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


async def test_nothing_outside_the_apps_directory_is_served(client: httpx.AsyncClient) -> None:
    for path in (
        "/apps/../http/apps.py",
        "/apps/%2e%2e/http/apps.py",
        "/apps/..%2fconfig.py",
        "/apps/no-such-app/",
    ):
        resp = await client.get(f"{ROOT}{path}")
        assert resp.status_code == 404, path
