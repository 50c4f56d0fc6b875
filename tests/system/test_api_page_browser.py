"""The API page in a real headless Chromium (issue 15 item 5): ``/docs`` of a real ``fhir-server
serve`` renders the generated description — a section per resource type, the SMART OAuth 2 and
bearer schemes behind Authorize — loading nothing from any other origin, and "Try it out" on
``/health`` (beside the FHIR base) reaches the server."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.system.processes import Served, newcomer_env

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip)")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs Chromium (Debian: apt-get install chromium; .ci/run installs it)",
)


def test_the_api_page_renders_from_this_server_alone(tmp_path: Path) -> None:
    server = Served(newcomer_env(tmp_path), tmp_path)
    origin = f"http://{urlsplit(server.base).netloc}"
    requested: list[str] = []
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.on("request", lambda request: requested.append(request.url))
                page.goto(f"{origin}/")
                page.click("a[href='/docs']")
                page.wait_for_selector("#operations-tag-Patient")
                tags = page.eval_on_selector_all(
                    ".opblock-tag", "els => els.map(e => e.getAttribute('data-tag'))"
                )
                page.click("button.authorize")
                page.wait_for_selector(".auth-container")
                schemes = page.text_content(".modal-ux") or ""
                page.click("button.close-modal")
                page.click("#operations-tag-service")
                page.click(".opblock-summary-path[data-path='/health']")
                page.click("button.try-out__btn")
                page.click("button.execute")
                answered = ".live-responses-table tr.response .response-col_status"
                page.wait_for_selector(answered)
                status = page.text_content(answered) or ""
                url = page.text_content(".request-url pre") or ""
            finally:
                browser.close()
    finally:
        log = server.stop()
    assert {"Patient", "CarePlan", "system", "service"} <= set(tags), log[-2000:]
    assert "smart (OAuth2, authorizationCode with PKCE)" in schemes, schemes
    assert f"Authorization URL: {server.base}/auth/authorize" in schemes
    assert "smart (OAuth2, clientCredentials)" in schemes and "system/*.rs" in schemes
    assert "bearer\xa0 (http, Bearer)" in schemes
    assert status.strip().startswith("200"), status
    assert url.strip() == f"{origin}/health"  # the service endpoint's own server, not /fhir
    elsewhere = [u for u in requested if not u.startswith((origin, "data:", "blob:"))]
    assert requested and not elsewhere, elsewhere
