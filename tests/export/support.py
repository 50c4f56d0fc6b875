"""A bulk export as a client runs it over HTTP: backend-services tokens (a signed JWT
assertion, or a client secret), the kick-off, polling the status URL, reading the manifest and
downloading the ndjson files."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson

from profiles.validation import Validator
from tests.smart.conftest import Smart
from tests.smart.support import BASE, basic

VALIDATOR = Validator.default()
ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


async def backend_token(smart: Smart, scope: str = "system/*.rs") -> str:
    """A token of ``backend-rs`` (private_key_jwt: an RS384 client assertion)."""
    form = {
        "grant_type": "client_credentials",
        "scope": scope,
        **smart.backend_rs.form("backend-rs"),
    }
    resp = await smart.token(form)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


async def secret_token(smart: Smart, client_id: str, secret: str, scope: str) -> str:
    """A token of a backend service that authenticates with its client secret."""
    form = {"grant_type": "client_credentials", "scope": scope}
    resp = await smart.token(form, **basic(client_id, secret))
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


def relative(url: str) -> str:
    assert url.startswith(BASE + "/"), url
    return url.removeprefix(BASE + "/")


async def kick_off(client: httpx.AsyncClient, token: str, path: str) -> str:
    """Start an export; the status URL (relative to the base)."""
    resp = await client.get(path, headers=bearer(token, **ASYNC))
    assert resp.status_code == 202, resp.text
    return relative(resp.headers["content-location"])


async def manifest(client: httpx.AsyncClient, token: str, status_url: str) -> dict[str, Any]:
    """Poll until the export is done (202 with ``X-Progress`` and ``Retry-After`` meanwhile)."""
    for _ in range(600):
        resp = await client.get(status_url, headers=bearer(token, Accept="application/json"))
        if resp.status_code == 200:
            assert resp.headers["content-type"].startswith("application/json")
            assert "expires" in resp.headers
            body: dict[str, Any] = resp.json()
            return body
        assert resp.status_code == 202, resp.text
        assert resp.headers["retry-after"].isdigit() and resp.headers["x-progress"]
        await asyncio.sleep(0.02)
    raise AssertionError("the export did not finish")


async def download(client: httpx.AsyncClient, token: str, url: str) -> list[dict[str, Any]]:
    """Every line of one file, each parsed as JSON."""
    resp = await client.get(relative(url), headers=bearer(token, Accept="application/fhir+ndjson"))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/fhir+ndjson")
    lines = resp.content.split(b"\n")
    assert lines[-1] == b""  # every line ends with a newline
    resources = [orjson.loads(line) for line in lines[:-1]]
    for resource in resources:  # each line a valid R4 resource
        errors = [i for i in VALIDATOR.validate(resource, claimed=False) if i.severity == "error"]
        assert not errors, (resource["resourceType"], resource.get("id"), errors)
    return resources


async def exported(
    client: httpx.AsyncClient, token: str, path: str
) -> tuple[dict[str, Any], dict[str, set[str]]]:
    """Run an export to its end: the manifest, and per type the ids its files hold (each line
    checked to be a resource of the file's type, each id once)."""
    body = await manifest(client, token, await kick_off(client, token, path))
    ids: dict[str, set[str]] = {}
    for output in body["output"]:
        resources = await download(client, token, output["url"])
        assert {r["resourceType"] for r in resources} == {output["type"]}
        assert len(resources) == output["count"]
        found = [r["id"] for r in resources]
        assert len(found) == len(set(found)), found
        ids.setdefault(output["type"], set()).update(found)
    return body, ids
