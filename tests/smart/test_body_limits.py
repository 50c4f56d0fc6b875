"""Request bodies on the authorization server are bounded while they stream in: an oversized body
(declared or chunked, without Content-Length) is refused with 413 after at most the limit plus
one chunk is read, and nothing is stored; what a pending authorization keeps is bounded per
parameter; expired records are purged as the server runs, not only at start-up."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from auth.smart.interactive import PENDING
from auth.smart.request import MAX_FORM_BYTES
from tests.smart.conftest import Smart
from tests.smart.support import EHR_SECRET, Authorization, basic, form_value

SCOPE = "launch/patient openid fhirUser patient/*.rs"
CHUNK = 4096
OVERSIZED = 20 * 1024 * 1024


class Chunked:
    """A body without Content-Length that counts how much of it the server pulled."""

    def __init__(self, head: bytes, size: int = OVERSIZED) -> None:
        self.head = head
        self.size = size
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        self.sent += len(self.head)
        while self.sent < self.size:
            yield b"x" * CHUNK
            self.sent += CHUNK


def assert_bounded(body: Chunked) -> None:
    assert body.sent <= MAX_FORM_BYTES + 2 * CHUNK, body.sent  # read while streaming, then stop


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_chunked_oversized_token_request_is_413_and_issues_nothing(smart: Smart) -> None:
    body = Chunked(b"grant_type=client_credentials&client_id=ehr&junk=")
    resp = await smart.client.post("auth/token", content=body, headers=FORM)
    assert "content-length" not in resp.request.headers
    assert resp.status_code == 413
    assert resp.json()["error"] == "invalid_request"
    assert resp.headers["cache-control"] == "no-store"
    assert_bounded(body)
    assert await smart.server.records.all("access") == []


@pytest.mark.parametrize("path", ["auth/introspect", "auth/revoke", "auth/launch"])
async def test_every_oauth_endpoint_refuses_chunked_oversized_bodies(
    smart: Smart, path: str
) -> None:
    body = Chunked(b"token=")
    headers = {**FORM, **basic("ehr", EHR_SECRET)}  # the launch API reads only an EHR's body
    resp = await smart.client.post(path, content=body, headers=headers)
    assert resp.status_code == 413 and resp.json()["error"] == "invalid_request"
    assert_bounded(body)


async def test_declared_oversized_body_is_refused_before_reading(smart: Smart) -> None:
    resp = await smart.client.post("auth/token", content=b"x" * (MAX_FORM_BYTES + 1), headers=FORM)
    assert resp.status_code == 413 and resp.json()["error"] == "invalid_request"


async def test_chunked_oversized_login_is_413_and_changes_nothing(smart: Smart) -> None:
    page = await smart.browser.start(Authorization("public-app", SCOPE))
    request_id = form_value(page.text, "request")
    head = f"request={request_id}&username=citizen&password=wrong&junk=".encode()
    body = Chunked(head)
    resp = await smart.client.post("auth/login", content=body, headers=FORM)
    assert resp.status_code == 413
    assert resp.headers["content-type"].startswith("text/html")
    assert_bounded(body)
    pending = await smart.server.records.get(PENDING, request_id)
    assert pending is not None and pending.doc["failures"] == 0 and "user" not in pending.doc
    done = await smart.browser.login(page, "citizen")  # the request still works
    assert done.status_code == 200 and "scope" in done.text


@pytest.mark.parametrize("path", ["auth/authorize", "auth/patient", "auth/approve"])
async def test_every_page_refuses_chunked_oversized_forms(smart: Smart, path: str) -> None:
    body = Chunked(b"request=x&junk=")
    resp = await smart.client.post(path, content=body, headers=FORM)
    assert resp.status_code == 413 and resp.headers["content-type"].startswith("text/html")
    assert_bounded(body)
    assert await smart.server.records.all(PENDING) == []


async def test_an_overlong_authorize_parameter_is_refused_and_not_stored(smart: Smart) -> None:
    params = Authorization("public-app", SCOPE).params()
    resp = await smart.client.post(
        "auth/authorize", data={**params, "junk": "x" * (MAX_FORM_BYTES - 2048)}
    )
    assert resp.status_code == 400
    assert "invalid_request" in resp.text
    assert await smart.server.records.all(PENDING) == []


async def test_too_many_authorize_parameters_are_refused(smart: Smart) -> None:
    params = list(Authorization("public-app", SCOPE).params().items())
    params += [(f"p{i}", "v") for i in range(200)]
    resp = await smart.client.post("auth/authorize", data=dict(params))
    assert resp.status_code == 400 and "invalid_request" in resp.text
    assert await smart.server.records.all(PENDING) == []


async def test_expired_pending_records_are_purged_while_running(smart: Smart) -> None:
    records = smart.server.records
    await records.put(PENDING, "stale", {"pairs": []}, expires=time.time() - 1)
    page = await smart.browser.start(Authorization("public-app", SCOPE))  # a later request
    assert page.status_code == 200
    assert await records.purge() == 0  # already gone, without a restart
