"""A browser app on another origin (issue 15 item 1), in a real headless Chromium (Debian's
``chromium``, driven by playwright): served from ``http://127.0.0.1:<app port>``, it does a
SMART standalone launch against a real ``fhir-server serve`` on another port — discovery, the
login and approval pages, the code exchange at the token endpoint, then FHIR reads with the
bearer token (a CORS preflight) — and shows the citizen's care plans and a read's ETag, which a
page can only see when the server answers its origin with CORS."""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.system.processes import Served, cli, newcomer_env
from tests.system.servers import HOST, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip)")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs Chromium (Debian: apt-get install chromium; .ci/run installs it)",
)

_APP = """<!doctype html><meta charset="utf-8"><title>app</title><pre id="out">working</pre>
<script>
const base = "{base}", client = "browser-app", redirect = location.origin + "/callback.html";
const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
const show = (value) => document.getElementById("out").textContent = JSON.stringify(value);
async function discover() {{
  return (await fetch(base + "/.well-known/smart-configuration")).json();
}}
async function launch() {{
  const verifier = b64(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = b64(crypto.getRandomValues(new Uint8Array(8)));
  sessionStorage.setItem("verifier", verifier);
  sessionStorage.setItem("state", state);
  const query = new URLSearchParams({{response_type: "code", client_id: client,
    redirect_uri: redirect, scope: "launch/patient patient/*.rs", state, aud: base,
    code_challenge: challenge, code_challenge_method: "S256"}});
  location.href = (await discover()).authorization_endpoint + "?" + query;
}}
async function callback() {{
  const params = new URLSearchParams(location.search);
  if (params.get("state") !== sessionStorage.getItem("state")) throw new Error("state");
  const exchange = await fetch((await discover()).token_endpoint, {{method: "POST",
    headers: {{"Content-Type": "application/x-www-form-urlencoded"}},
    body: new URLSearchParams({{grant_type: "authorization_code", code: params.get("code"),
      redirect_uri: redirect, client_id: client,
      code_verifier: sessionStorage.getItem("verifier")}})}});
  const token = await exchange.json();
  const headers = {{Authorization: "Bearer " + token.access_token,
                   Accept: "application/fhir+json"}};
  const plans = await fetch(base + "/CarePlan?subject=Patient/" + token.patient, {{headers}});
  const bundle = await plans.json();
  const read = await fetch(base + "/Patient/" + token.patient, {{headers}});
  show({{patient: token.patient, status: plans.status, etag: read.headers.get("ETag"),
        ids: (bundle.entry || []).map((e) => e.resource.id)}});
}}
(location.pathname.endsWith("callback.html") ? callback() : launch())
  .catch((err) => show({{error: String(err)}}));
</script>
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def app_site(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A static web server on its own port: the app's origin."""
    site = tmp_path / "site"
    site.mkdir()
    port = free_port()
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer((HOST, port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site, port
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_origin_launches_and_reads_the_citizens_plans(
    tmp_path: Path, app_site: tuple[Path, int]
) -> None:
    site, app_port = app_site
    origin = f"http://{HOST}:{app_port}"
    env = newcomer_env(tmp_path)
    printed = cli(env, "demo", "--no-progress")
    password = re.search(r"^  else +(\S+) +Patient/demo-s7-citizen ", printed, re.M)
    assert password is not None
    cli(env, "clients", "add", "browser-app", "--type", "public",
        "--redirect-uri", f"{origin}/callback.html")  # fmt: skip
    server = Served(env, tmp_path)
    try:
        page_source = _APP.format(base=server.base)
        (site / "launch.html").write_text(page_source)
        (site / "callback.html").write_text(page_source)
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.goto(f"{origin}/launch.html")
                page.wait_for_selector("#username")  # the server's login page
                page.fill("#username", "else")
                page.fill("#password", password.group(1))
                page.click("button[type=submit]")
                page.click("button[value=approve]")
                page.wait_for_url(f"{origin}/callback.html*")
                page.wait_for_function("!document.getElementById('out').textContent"
                                       ".startsWith('working')")  # fmt: skip
                shown = json.loads(page.text_content("#out") or "{}")
            finally:
                browser.close()
        token = cli(env, "token", "demo-app", "--user", "else").strip()
        expected = httpx.get(
            f"{server.base}/CarePlan",
            params={"subject": "Patient/demo-s7-citizen"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    finally:
        log = server.stop()
    assert "error" not in shown, (shown, log[-3000:])
    assert shown["patient"] == "demo-s7-citizen" and shown["status"] == 200
    assert shown["ids"] == [e["resource"]["id"] for e in expected["entry"]] and shown["ids"]
    assert shown["etag"] == 'W/"1"'  # exposed to the page
