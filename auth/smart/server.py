"""The embedded SMART-on-FHIR authorization server: authlib's ``AuthorizationServer`` with this
server's grants, client authentication, and storage.

authlib's server is synchronous. Each OAuth request runs it on a worker thread
(``SmartServer.run``); when it needs stored state (a client, a code, a refresh token) it calls
back into the event loop (``SmartServer.wait``), where the async stores live. So the event loop
never blocks, and authlib's request validation is used as it is, with SMART's stricter rules
layered on through its grant classes and hooks (``auth.smart.grants``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Request

from auth.clients import Client, Clients
from auth.identity import Directory
from auth.keys import KeyStore
from auth.smart.request import SmartRequest
from auth.storage import AuthStore
from auth.throttle import LoginThrottle
from auth.tokens import Issuer, Revocations, install
from auth.users import Users
from fhir_server.config import Settings

T = TypeVar("T")

Triple = tuple[int, Any, list[tuple[str, str]]]
"""What ``SmartAuthorizationServer.handle_response`` makes of a response: status, body, headers.
authlib returns it from every ``create_*_response`` and ``handle_error_response``, which
types-Authlib declares as ``object`` (the framework integration chooses the shape)."""

logging.getLogger("authlib").setLevel(logging.INFO)
"""authlib logs issued tokens and client credentials at DEBUG ("Issue token %r"); tokens and
secrets never reach this server's logs, whatever level the root logger is set to."""

_WAIT_SECONDS = 60.0


class SmartAuthorizationServer(AuthorizationServer):
    """authlib's framework hooks, answered for requests already read into ``SmartRequest``."""

    def __init__(self, smart: SmartServer) -> None:
        super().__init__(scopes_supported=None)
        self.smart = smart

    # authlib returns None for an unknown client too; our Client is duck-typed ClientMixin
    def query_client(self, client_id: str) -> Client | None:  # type: ignore[override]
        return self.smart.wait(self.smart.clients.get(client_id))

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Tokens are recorded as they are issued (``auth.tokens.Issuer``)."""

    def create_oauth2_request(self, request: SmartRequest) -> SmartRequest:
        return request

    # every request reaching authlib here was built as a SmartRequest (auth/smart/routes.py)
    def create_json_request(self, request: SmartRequest) -> SmartRequest:  # type: ignore[override]
        return request

    def handle_response(  # type: ignore[override]  # authlib passes the header list it built
        self, status: int, body: Any, headers: list[tuple[str, str]]
    ) -> Triple:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


class SmartServer:
    """Everything the authorization server holds for one database."""

    def __init__(self, settings: Settings, records: AuthStore) -> None:
        self.settings = settings
        self.records = records
        self.keys = KeyStore(records)
        self.clients = Clients(records)
        self.users = Users(records)
        self.issuer = Issuer(records, self.keys)
        self.revocations = Revocations(records)
        self.throttle = LoginThrottle(records, settings)
        self.oauth = SmartAuthorizationServer(self)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="authlib")
        self._store: Any = None
        self._directory: Directory | None = None

    def bind_fhir_store(self, store: Any) -> None:
        """The FHIR store, for the patient picker and launch-context checks."""
        self._store = store
        self._directory = None

    @property
    def directory(self) -> Directory:
        """Who a user is in the FHIR data (whether they may break the glass)."""
        if self._directory is None:
            self._directory = Directory(self._store)
        return self._directory

    @property
    def fhir_store(self) -> Any:
        return self._store

    async def open(self) -> None:
        from auth.smart.grants import register

        self._loop = asyncio.get_running_loop()
        await self.records.open()
        await self.records.purge()
        await self.keys.load()
        await self.revocations.sync()
        install(self.revocations)
        register(self)

    async def close(self) -> None:
        self._executor.shutdown(wait=True)
        await self.records.close()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run authlib (synchronous) on one of this server's worker threads (its own pool, so
        work it waits for on the event loop never queues behind it in the default pool)."""
        self._loop = asyncio.get_running_loop()
        return await self._loop.run_in_executor(self._executor, fn, *args)

    def wait(self, work: Awaitable[T]) -> T:
        """From authlib's worker thread: run ``work`` on the event loop and wait for it."""
        assert self._loop is not None, "SmartServer.open() was not awaited"

        async def run() -> T:
            return await work

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(_WAIT_SECONDS)
