"""HTTP conventions FHIR clients expect (issue 15 item 6): content-coding on request (gzip and
deflate, ``Accept-Encoding`` with q-values, never for small bodies, 204 or 304), ``HEAD`` on
every GET, ``_format``/``_pretty`` on operations and errors too, and error messages that say
what to do. Through real HTTP on every store (tests/api/conftest.py)."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import httpx
import orjson
import pytest

GZIP = {"Accept-Encoding": "gzip"}


def _patient(i: int) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": f"p{i}",
        "name": [{"family": f"Family{i}", "given": ["Given", "Names", "Several"]}],
        "gender": "female",
        "birthDate": "1990-01-01",
    }


async def _seed(client: httpx.AsyncClient, n: int = 20) -> None:
    for i in range(n):
        resp = await client.put(f"Patient/p{i}", json=_patient(i))
        assert resp.status_code in (200, 201), resp.text


async def _raw(client: httpx.AsyncClient, method: str, url: str, **headers: str) -> httpx.Response:
    """The response with its body as sent (httpx would decode the content-coding)."""
    async with client.stream(method, url, headers=headers) as resp:
        resp._content = b"".join([c async for c in resp.aiter_raw()])
    return resp


def _decoded(resp: httpx.Response) -> bytes:
    coding = resp.headers.get("content-encoding")
    return gzip.decompress(resp.content) if coding == "gzip" else resp.content


async def test_a_search_page_is_gzipped_when_asked(client: httpx.AsyncClient) -> None:
    await _seed(client)
    plain = await _raw(client, "GET", "Patient?_count=20", **{"Accept-Encoding": "identity"})
    coded = await _raw(client, "GET", "Patient?_count=20", **GZIP)
    assert plain.status_code == coded.status_code == 200
    assert "content-encoding" not in plain.headers
    assert coded.headers["content-encoding"] == "gzip"
    assert coded.headers["vary"] == plain.headers["vary"] == "Accept-Encoding"
    assert int(coded.headers["content-length"]) == len(coded.content) < len(plain.content)
    body = orjson.loads(gzip.decompress(coded.content))
    assert sorted(e["resource"]["id"] for e in body["entry"]) == sorted(
        e["resource"]["id"] for e in orjson.loads(plain.content)["entry"]
    )


async def test_the_capability_statement_is_gzipped(client: httpx.AsyncClient) -> None:
    resp = await client.get("metadata", headers=GZIP)
    assert resp.status_code == 200
    assert resp.headers["content-encoding"] == "gzip"
    assert resp.json()["resourceType"] == "CapabilityStatement"  # httpx decoded it


@pytest.mark.parametrize(
    ("accept_encoding", "coding"),
    [
        ("deflate", "deflate"),
        ("gzip;q=0.5, deflate;q=0.9", "deflate"),
        ("gzip;q=0, deflate", "deflate"),
        ("deflate;q=0.5, gzip", "gzip"),
        ("*", "gzip"),
        ("*;q=0.5, gzip;q=0", "deflate"),
        ("identity", None),
        ("br", None),
        ("gzip;q=0", None),
    ],
)
async def test_accept_encoding_q_values(
    client: httpx.AsyncClient, accept_encoding: str, coding: str | None
) -> None:
    resp = await _raw(client, "GET", "metadata", **{"Accept-Encoding": accept_encoding})
    assert resp.headers.get("content-encoding") == coding
    if coding == "deflate":
        assert orjson.loads(zlib.decompress(resp.content))["resourceType"] == "CapabilityStatement"
    if coding is None:
        assert orjson.loads(resp.content)["resourceType"] == "CapabilityStatement"


async def test_small_bodies_304_and_etags(client: httpx.AsyncClient) -> None:
    await _seed(client, 1)
    small = await _raw(client, "GET", "Patient/p0", **GZIP)
    assert small.status_code == 200 and "content-encoding" not in small.headers
    assert "vary" not in small.headers  # a small body never varies
    etag = small.headers["etag"]
    unchanged = await _raw(client, "GET", "Patient/p0", **GZIP, **{"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert "content-encoding" not in unchanged.headers
    deleted = await _raw(client, "DELETE", "Patient/p0", **GZIP)
    assert deleted.status_code in (200, 204) and "content-encoding" not in deleted.headers
    await _seed(client, 30)
    page = await _raw(client, "GET", "Patient?_count=30", **GZIP)
    again = await _raw(client, "GET", "Patient/p1", **GZIP)
    assert page.headers["content-encoding"] == "gzip" and again.headers["etag"] == 'W/"1"'


@pytest.mark.parametrize(
    "url",
    [
        "Patient/p1",
        "Patient/p1?_format=json",
        "Patient/p1/_history",
        "Patient/p1/_history/1",
        "Patient?family=Family1",
        "metadata",
        "Patient/nope",
        "Patient?birthdate=yesterday",
        "_history",
    ],
)
async def test_head_answers_as_get_without_a_body(client: httpx.AsyncClient, url: str) -> None:
    await _seed(client, 3)
    for headers in ({}, GZIP):
        got = await _raw(client, "GET", url, **headers)
        head = await _raw(client, "HEAD", url, **headers)
        assert head.status_code == got.status_code, url
        assert head.content == b""
        for name in ("content-type", "etag", "content-encoding", "vary"):
            assert head.headers.get(name) == got.headers.get(name), (url, name)
        assert "content-length" in head.headers
        if not got.content or orjson.loads(_decoded(got))["resourceType"] != "Bundle":
            # a Bundle's id and timestamp are new each time, so its length may differ by a byte
            assert head.headers["content-length"] == got.headers["content-length"], url


async def test_pretty_and_format_on_errors_and_operations(client: httpx.AsyncClient) -> None:
    error = await client.get("Patient?birthdate=yesterday&_format=json&_pretty=true")
    assert error.status_code == 400
    assert error.headers["content-type"].startswith("application/fhir+json")
    assert error.text.startswith('{\n  "resourceType": "OperationOutcome"')
    validate = await client.post(
        "Patient/$validate?_format=json&_pretty=true",
        json={"resourceType": "Patient", "gender": "female"},
    )
    assert validate.status_code == 200, validate.text
    assert validate.headers["content-type"].startswith("application/fhir+json")
    assert validate.text.startswith('{\n  "resourceType": "OperationOutcome"')
    capability = await client.get("metadata?_format=json&_pretty=true")
    assert capability.text.startswith('{\n  "resourceType": "CapabilityStatement"')


async def test_an_unknown_date_prefix_names_the_accepted_forms(client: httpx.AsyncClient) -> None:
    resp = await client.get("Patient?birthdate=yesterday")
    assert resp.status_code == 400
    issue = resp.json()["issue"][0]
    assert issue["code"] == "invalid" and issue["expression"] == ["birthdate"]
    said = issue["diagnostics"]
    assert "'ye'" in said and "YYYY-MM-DD" in said and "ge2020-01-01" in said
    assert "eq, ne, gt, lt, ge, le, sa, eb, ap" in said


async def test_put_without_a_body_id_says_what_to_add(client: httpx.AsyncClient) -> None:
    resp = await client.put("Patient/p7", json={"resourceType": "Patient", "gender": "male"})
    assert resp.status_code == 400
    issue = resp.json()["issue"][0]
    assert issue["expression"] == ["Patient.id"]
    said = issue["diagnostics"]
    assert "None" not in said and '"id": "p7"' in said


async def test_lenient_handling_as_documented(client: httpx.AsyncClient) -> None:
    """docs/conformance.md's ``Prefer: handling=lenient`` example answers as it says."""
    await _seed(client, 3)
    url = "Patient?family=Family1&colour=blue"
    strict = await client.get(url)
    assert strict.status_code == 400 and "colour" in strict.text
    resp = await client.get(url, headers={"Prefer": "handling=lenient"})
    assert resp.status_code == 200, resp.text
    bundle = resp.json()
    matches = [e for e in bundle["entry"] if e["search"]["mode"] == "match"]
    assert [e["resource"]["id"] for e in matches] == ["p1"]
    outcome = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome and outcome[0]["issue"][0]["expression"] == ["colour"]
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert "colour" not in self_link
