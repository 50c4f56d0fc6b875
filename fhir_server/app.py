"""The application: the FHIR API under /fhir (pure ASGI) beside a FastAPI app for everything else
(service info today; SMART endpoints later). The lifespan opens and closes the store."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from auth.principal import authenticator_for
from auth.verify import KeySource, Revoked
from fhir_server import __version__, conformance
from fhir_server.checks import configure
from fhir_server.config import Settings
from fhir_server.http.asgi import PREFIX, FhirApp
from fhir_server.search.custom import CUSTOM
from fhir_server.store.base import Store
from fhir_server.store.factory import make_store

log = logging.getLogger("fhir_server")


def _service_api(settings: Settings) -> FastAPI:
    api = FastAPI(title="fhir-server", version=__version__)

    @api.get("/")
    async def info() -> dict[str, Any]:
        return {"service": "fhir-server", "version": __version__, "fhir_base": PREFIX}

    @api.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return api


class ServerApp:
    """ASGI entry point; ``startup``/``shutdown`` are also called directly by tests."""

    def __init__(
        self,
        settings: Settings | None = None,
        store: Store | None = None,
        keys: KeySource | None = None,
        is_revoked: Revoked | None = None,
    ) -> None:
        """``keys`` and ``is_revoked``: the embedded authorization server's key store and
        revocation check, which ``FHIR_AUTH=smart`` verifies access tokens with."""
        self.settings = settings or Settings()
        self.store = store or make_store(self.settings)
        auth = authenticator_for(self.settings, self.store, keys, is_revoked)
        self.fhir = FhirApp(self.settings, self.store, auth)
        self.api = _service_api(self.settings)

    async def startup(self) -> None:
        await self.store.open()
        configure(self.settings)
        if self.settings.install_conformance:
            installed = await conformance.install(self.store)
            if installed:
                log.info("installed %d bundled conformance resources", installed)
        await CUSTOM.sync(self.store)
        if self.settings.auth == "off":
            log.warning(
                "FHIR_AUTH=off: authorization is switched OFF — every caller may read and write"
                " everything. For local experiments only."
            )

    async def shutdown(self) -> None:
        await CUSTOM.close()
        await self.store.close()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path == PREFIX or path.startswith(PREFIX + "/"):
                await self.fhir(scope, receive, send)
                return
            await self.api(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as err:
                    await send({"type": "lifespan.startup.failed", "message": str(err)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app() -> ServerApp:
    """Factory for ``uvicorn --factory fhir_server.app:create_app``."""
    return ServerApp()
