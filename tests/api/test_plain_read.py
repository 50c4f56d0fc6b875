"""``GET [base]/[type]/[id]`` without a query is answered on a short path (FhirApp._plain_read);
a query string sends the same read down the general one. Both must answer byte for byte alike,
and everything the short path does not handle (errors, conditional headers, other media types)
must still be answered as the specification says."""

from __future__ import annotations

import httpx
import pytest

from fhir_server.interactions.context import Context, FhirRequest, FhirResult
from tests.api.support import BASE, app_of

PATIENT = {"resourceType": "Patient", "id": "pr1", "name": [{"family": "Sørensen"}]}
SAME = ("etag", "last-modified", "content-type", "content-length")


@pytest.fixture
async def stored(client: httpx.AsyncClient) -> httpx.Response:
    resp = await client.put("Patient/pr1", json=PATIENT)
    assert resp.status_code == 201
    return resp


def _same(short: httpx.Response, general: httpx.Response) -> None:
    assert short.status_code == general.status_code == 200
    assert [short.headers[h] for h in SAME] == [general.headers[h] for h in SAME]
    assert short.content == general.content


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, "application/fhir+json"),
        ("*/*", "application/fhir+json"),
        ("application/fhir+json", "application/fhir+json"),
        ("application/json", "application/json"),
    ],
)
async def test_answers_like_the_general_path(
    client: httpx.AsyncClient, stored: httpx.Response, accept: str | None, media: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    short = await client.get("Patient/pr1", headers=headers)
    general = await client.get("Patient/pr1?_pretty=false", headers=headers)
    _same(short, general)
    assert short.headers["content-type"] == f"{media}; charset=utf-8"
    assert short.headers["etag"] == 'W/"1"'
    assert short.json()["name"] == [{"family": "Sørensen"}]


async def test_the_current_version_after_an_update(
    client: httpx.AsyncClient, stored: httpx.Response
) -> None:
    changed = {**PATIENT, "active": True}
    assert (await client.put("Patient/pr1", json=changed)).status_code == 200
    resp = await client.get("Patient/pr1")
    assert resp.headers["etag"] == 'W/"2"'
    assert resp.json()["active"] is True


async def test_errors_are_answered_as_the_general_path_answers_them(
    client: httpx.AsyncClient, stored: httpx.Response
) -> None:
    missing = await client.get("Patient/nobody")
    assert missing.status_code == 404
    assert missing.json()["issue"][0]["code"] == "not-found"
    unknown = await client.get("Spaceship/pr1")
    assert unknown.status_code == 404
    assert unknown.json()["issue"][0]["expression"] == ["Spaceship"]
    bad_id = await client.get("Patient/" + "x" * 65)
    assert bad_id.status_code == 400
    assert bad_id.json()["issue"][0]["expression"] == ["id"]
    assert (await client.delete("Patient/pr1")).status_code in (200, 204)
    gone = await client.get("Patient/pr1")
    assert gone.status_code == 410


@pytest.mark.parametrize("accept", [None, "application/json"])
async def test_errors_are_byte_for_byte_those_of_the_general_path(
    client: httpx.AsyncClient, stored: httpx.Response, accept: str | None
) -> None:
    """The short path answers its own errors (no second try), through the same renderer."""
    headers = {"Accept": accept} if accept else {}
    assert (await client.delete("Patient/pr1")).status_code in (200, 204)
    for url, status in (
        ("Patient/nobody", 404),
        ("Patient/" + "x" * 65, 400),
        ("Patient/pr1", 410),
    ):
        short = await client.get(url, headers=headers)
        general = await client.get(url + "?_pretty=false", headers=headers)
        assert short.status_code == general.status_code == status
        assert short.headers.multi_items() == general.headers.multi_items()
        assert short.content == general.content


async def test_conditional_headers_and_other_media(
    client: httpx.AsyncClient, stored: httpx.Response
) -> None:
    etag = stored.headers["etag"]
    assert (await client.get("Patient/pr1", headers={"If-None-Match": etag})).status_code == 304
    since = stored.headers["last-modified"]
    modified = await client.get("Patient/pr1", headers={"If-Modified-Since": since})
    assert modified.status_code == 304
    xml = await client.get("Patient/pr1", headers={"Accept": "application/fhir+xml"})
    assert xml.status_code == 200
    assert xml.headers["content-type"] == "application/fhir+xml; charset=utf-8"
    assert xml.content.startswith(b'<Patient xmlns="http://hl7.org/fhir"><id value="pr1"/>')
    assert (await client.get("Patient/pr1", headers={"Accept": "text/html"})).status_code == 406
    weighted = await client.get(
        "Patient/pr1", headers={"Accept": "application/xml;q=0.5, application/json"}
    )
    assert weighted.status_code == 200
    assert weighted.headers["content-type"] == "application/json; charset=utf-8"


async def test_a_percent_encoded_id_is_decoded_once(
    client: httpx.AsyncClient, stored: httpx.Response
) -> None:
    assert (await client.get(f"{BASE}/Patient/pr%31")).status_code == 200
    assert (await client.get(f"{BASE}/Patient/pr%2531")).status_code == 400


async def test_a_store_failure_is_a_logged_500_outcome(
    client: httpx.AsyncClient, stored: httpx.Response, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing escapes the short path: an unexpected failure is the general path's 500."""
    from fhir_server import access

    async def broken(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(access._Unrestricted, "admit", broken)  # the read's access check
    resp = await client.get("Patient/pr1")
    assert resp.status_code == 500
    assert resp.json()["issue"][0]["code"] == "exception"
    assert "disk on fire" not in resp.text


async def test_a_plain_read_is_answered_without_the_router(
    client: httpx.AsyncClient, stored: httpx.Response, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The short path is really taken: a plain read of a resource that is there reaches no
    router dispatch (the answers are alike, so only counting tells the paths apart), nor does
    its error; a query string or a conditional header goes through the router once."""
    router = app_of(client).services.router
    dispatched: list[str] = []

    async def counting(ctx: Context, req: FhirRequest) -> FhirResult:
        dispatched.append("/".join(req.path))
        return await routed(ctx, req)

    routed = router.dispatch
    monkeypatch.setattr(router, "dispatch", counting)
    for accept in (None, "*/*", "application/fhir+json", "application/json"):
        resp = await client.get("Patient/pr1", headers={"Accept": accept} if accept else {})
        assert resp.status_code == 200
    assert dispatched == []
    assert (await client.get("Patient/pr1?_pretty=false")).status_code == 200
    assert (await client.get("Patient/nobody")).status_code == 404
    etag = stored.headers["etag"]
    assert (await client.get("Patient/pr1", headers={"If-None-Match": etag})).status_code == 304
    assert dispatched == ["Patient/pr1", "Patient/pr1"]
