"""Password guessing is throttled per username and per client address, across authorization
requests and server processes (the counts live in the auth store): after
``FHIR_LOGIN_FAILURES_PER_USER`` failures the account is locked for ``FHIR_LOGIN_LOCK_SECONDS``,
the person sees so and until when, and even the right password is refused meanwhile."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.app import ServerApp
from fhir_server.search.extract import index_resource
from fhir_server.store.mongo.store import MongoStore
from tests.smart.conftest import Smart, make_smart
from tests.smart.support import BASE, PASSWORD, Authorization, Browser

SCOPE = "launch/patient openid fhirUser patient/*.rs"
LOCKED = "temporarily locked"
UNTIL = re.compile(r"Try again after (\d\d:\d\d) UTC")


async def attempt(browser: Browser, username: str, password: str) -> httpx.Response:
    """A fresh authorization request (each has its own 5-try limit) and one sign-in."""
    page = await browser.start(Authorization("public-app", SCOPE, extra={"ui_locales": "en"}))
    return await browser.login(page, username, password)


def signed_in(resp: httpx.Response) -> bool:
    """On the approval page, or a clinician's patient picker."""
    return resp.status_code == 200 and ('name="decision"' in resp.text or "radio" in resp.text)


def locked(resp: httpx.Response) -> bool:
    return resp.status_code == 429 and LOCKED in resp.text and UNTIL.search(resp.text) is not None


async def test_six_wrong_passwords_lock_the_account_and_the_right_one_is_refused(
    smart: Smart, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    for i in range(5):
        resp = await attempt(smart.browser, "citizen", f"wrong-guess-{i}")
        assert resp.status_code in (200, 429) and not signed_in(resp)
    assert locked(resp)  # the fifth failure locks, and says so
    sixth = await attempt(smart.browser, "citizen", "wrong-guess-5")
    assert locked(sixth)
    right = await attempt(smart.browser, "citizen", PASSWORD)
    assert locked(right) and not signed_in(right)
    assert 0 < int(right.headers["retry-after"]) <= 900
    danish = await smart.browser.login(
        await smart.browser.start(Authorization("public-app", SCOPE)), "citizen"
    )
    assert danish.status_code == 429 and "midlertidigt spærret" in danish.text
    assert "citizen" not in caplog.text and "wrong-guess" not in caplog.text


async def test_the_lock_is_per_username_until_the_address_limit(
    backend: str, tmp_path: Path
) -> None:
    async for smart in make_smart(backend, tmp_path, login_failures_per_address=8):
        for i in range(5):
            await attempt(smart.browser, "citizen", f"wrong-{i}")
        assert locked(await attempt(smart.browser, "citizen", PASSWORD))
        assert signed_in(await attempt(smart.browser, "mother", PASSWORD))  # same address
        for name in ("guess-a", "guess-b"):  # 7 failures from this address
            assert not locked(await attempt(smart.browser, name, "wrong"))
        assert locked(await attempt(smart.browser, "nobody", "wrong"))  # the 8th locks it
        refused = await attempt(smart.browser, "doctor", PASSWORD)
        assert locked(refused) and "network" in refused.text
        async with other_address(smart.app) as elsewhere:
            assert signed_in(await attempt(elsewhere, "doctor", PASSWORD))
            assert locked(await attempt(elsewhere, "citizen", PASSWORD))  # the user stays locked


async def test_parallel_guesses_get_no_more_tries(smart: Smart) -> None:
    """Each attempt is counted before its password is checked."""
    pages = [
        await smart.browser.start(Authorization("public-app", SCOPE, extra={"ui_locales": "en"}))
        for _ in range(12)
    ]
    answers = await asyncio.gather(
        *(smart.browser.login(page, "citizen", f"wrong-{i}") for i, page in enumerate(pages))
    )
    checked = [a for a in answers if a.status_code == 200 or "Wrong username" in a.text]
    assert len(checked) <= 5
    assert locked(await attempt(smart.browser, "citizen", PASSWORD))


async def test_a_successful_sign_in_clears_the_usernames_failures(smart: Smart) -> None:
    for i in range(4):
        await attempt(smart.browser, "citizen", f"wrong-{i}")
    assert signed_in(await attempt(smart.browser, "citizen", PASSWORD))
    for i in range(4):
        assert not locked(await attempt(smart.browser, "citizen", f"wrong-again-{i}"))
    assert signed_in(await attempt(smart.browser, "citizen", PASSWORD))


async def test_unknown_usernames_are_locked_alike(smart: Smart) -> None:
    """A lock says nothing about whether the account exists."""
    for i in range(5):
        await attempt(smart.browser, "no-such-user", f"wrong-{i}")
    assert locked(await attempt(smart.browser, "no-such-user", "wrong"))


async def test_the_lock_holds_in_another_server_process_on_the_same_store(
    smart: Smart,
) -> None:
    for i in range(5):
        await attempt(smart.browser, "citizen", f"wrong-{i}")
    async with second_server(smart.app) as other:
        assert locked(await attempt(Browser(other), "citizen", PASSWORD))


@asynccontextmanager
async def other_address(app: ServerApp) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=app, client=("10.0.0.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield Browser(client)


class _Unclosed:
    """The first server's MongoDB client, which the second one must not close."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __getitem__(self, name: str) -> Any:
        return self._client[name]

    async def close(self) -> None:
        return None


@asynccontextmanager
async def second_server(app: ServerApp) -> AsyncIterator[httpx.AsyncClient]:
    """Another server on the same database: the SQLite file, or the same MongoDB database."""
    store = None
    if isinstance(app.store, MongoStore):
        shared = _Unclosed(app.store.client)
        store = MongoStore(shared, app.store.database, index_resource)  # type: ignore[arg-type]
    other = ServerApp(app.settings, store=store)
    await other.startup()
    try:
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield client
    finally:
        await other.shutdown()
