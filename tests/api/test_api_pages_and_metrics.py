"""What a newcomer's browser and a monitoring system find beside the FHIR API (issue 15 item
5): ``/`` links to the API pages; ``/docs`` and ``/redoc`` load every script and stylesheet from
this server (no CDN); ``/openapi.json`` documents every type, interaction, search parameter and
operation the CapabilityStatement states, and ``/health``; ``/metrics`` (``FHIR_METRICS=true``,
off by default) counts requests by interaction and status, times them and reports the queue
depths — with no id or query value in it. Real HTTP through the ASGI app, on both stores."""

from __future__ import annotations

import re

import httpx
import pytest

from medcom.outbox import OUTBOX
from tests.api.conftest import MakeClient

ROOT = "http://testserver"
_PATIENT = {"resourceType": "Patient", "name": [{"family": "Sørensen"}]}


async def test_root_links_a_browser_and_an_api_client_to_the_docs(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get(f"{ROOT}/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'href="/docs"' in page.text and 'href="/openapi.json"' in page.text
    assert 'href="/health"' in page.text
    plain = (await client.get(f"{ROOT}/")).json()
    assert plain["docs"] == "/docs" and plain["openapi"] == "/openapi.json"
    assert plain["fhir_base"] == "/fhir"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_api_pages_load_their_assets_from_this_server(
    client: httpx.AsyncClient, page: str
) -> None:
    resp = await client.get(f"{ROOT}{page}")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", resp.text)
    assets = [u for u in urls if u.endswith((".js", ".css", ".png"))]
    assert assets and not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls
    for url in assets:
        got = await client.get(f"{ROOT}{url}")
        assert got.status_code == 200, url
        assert len(got.content) > 1000, url
    assert "/openapi.json" in resp.text


async def test_the_oauth2_redirect_page_is_served(client: httpx.AsyncClient) -> None:
    resp = await client.get(f"{ROOT}/docs/oauth2-redirect")
    assert resp.status_code == 200 and "oauth2" in resp.text


async def test_openapi_documents_every_search_parameter_operation_and_health(
    client: httpx.AsyncClient,
) -> None:
    statement = (await client.get("metadata")).json()
    doc = (await client.get(f"{ROOT}/openapi.json")).json()
    paths = doc["paths"]
    for resource in statement["rest"][0]["resource"]:
        type_ = resource["type"]
        names = {p["name"] for p in paths[f"/{type_}"]["get"]["parameters"]}
        assert {p["name"] for p in resource.get("searchParam", [])} <= names, type_
        for operation in resource.get("operation", []):
            assert f"/{type_}/${operation['name']}" in paths, (type_, operation["name"])
    health = paths["/health"]
    assert health["servers"] == [{"url": "/"}]  # beside the FHIR base, not under it
    assert health["get"]["responses"]["200"]["content"]["application/json"]
    assert "/metrics" not in paths  # off by default


async def test_metrics_are_off_by_default(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{ROOT}/metrics")).status_code == 404


async def test_metrics_count_interactions_and_queues_without_ids(make_client: MakeClient) -> None:
    client = await make_client(metrics=True)
    created = await client.post("Patient", json=_PATIENT)
    assert created.status_code == 201
    pid = created.json()["id"]
    assert (await client.get(f"Patient/{pid}")).status_code == 200
    assert (await client.get(f"Patient/{pid}")).status_code == 200
    assert (await client.get("Patient/no-such-one")).status_code == 404
    assert (await client.get("Patient", params={"family": "Sørensen"})).status_code == 200
    task = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": OUTBOX, "code": "deliver"}]},
    }
    assert (await client.post("Task", json=task)).status_code == 201

    resp = await client.get(f"{ROOT}/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    assert 'fhir_requests_total{interaction="create",status="201"} 2.0' in text
    assert 'fhir_requests_total{interaction="read",status="200"} 2.0' in text
    assert 'fhir_requests_total{interaction="read",status="404"} 1.0' in text
    assert 'fhir_requests_total{interaction="search-type",status="200"} 1.0' in text
    assert 'fhir_request_duration_seconds_bucket{interaction="read",le="+Inf"} 3.0' in text
    assert 'fhir_request_duration_seconds_count{interaction="search-type"} 1.0' in text
    assert re.search(r'^fhir_queue_depth\{queue="deferred_journal"\} \d+\.0$', text, re.M)
    assert 'fhir_queue_depth{queue="medcom_outbox"} 1.0' in text
    assert pid not in text and "no-such-one" not in text and "rensen" not in text
    doc = (await client.get(f"{ROOT}/openapi.json")).json()
    assert doc["paths"]["/metrics"]["servers"] == [{"url": "/"}]
