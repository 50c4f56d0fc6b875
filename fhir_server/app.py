"""The application: the FHIR API under /fhir (pure ASGI), the SMART authorization server under
/fhir/auth and /fhir/.well-known (auth/smart), and a FastAPI app for everything else (service
info). The lifespan opens and closes the store and the authorization server's state."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from functools import partial
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from auth.principal import authenticator_for
from auth.smart.cors import AppOrigins, public_cors
from auth.smart.discovery import capability_security, smart_configuration
from auth.smart.routes import AuthRoutes
from auth.smart.server import SmartServer
from auth.storage import auth_store_for
from auth.verify import KeySource, Revoked
from fhir_server import __version__, bundled_definitions
from fhir_server.config import Settings
from fhir_server.export.runner import Exporter
from fhir_server.http import api_pages, openapi
from fhir_server.http.access_log import AccessLog
from fhir_server.http.api_pages import ASSETS
from fhir_server.http.apps import MOUNT as APPS
from fhir_server.http.apps import AppFiles
from fhir_server.http.asgi import PREFIX, FhirApp
from fhir_server.http.cors import cors
from fhir_server.http.headers import NOSNIFF, adding
from fhir_server.http.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from fhir_server.http.metrics import Depth, Metrics
from fhir_server.interactions.routes import OPERATIONS
from fhir_server.services import Services, create_services
from fhir_server.store.base import Store, StoreUnusable
from fhir_server.store.deferred import index_all, keep_indexing
from fhir_server.store.factory import make_store
from fhir_server.subscriptions import websocket
from fhir_server.subscriptions.hub import WEBSOCKET_PATH
from fhir_server.subscriptions.worker import SubscriptionWorker
from medcom import OPERATIONS as MEDCOM_OPERATIONS
from medcom import outbox
from medcom.delivery import DeliveryWorker

log = logging.getLogger("fhir_server")

_AUTH_PATHS = (f"{PREFIX}/auth/", f"{PREFIX}/.well-known/")
_METADATA = f"{PREFIX}/metadata"
_TOKEN_ENDPOINTS = frozenset(f"{PREFIX}/auth/{name}" for name in ("token", "introspect", "revoke"))
ANNOUNCED = "FHIR_SERVE_ANNOUNCED"
"""Set by ``fhir-server serve``, which prints the start-up notices once for all its workers."""
OFF_WARNING = (
    "\n" + "!" * 78 + "\n"
    "!!  FHIR_AUTH=off: AUTHORIZATION IS SWITCHED OFF. Every caller may read and write\n"
    "!!  everything, without a token. For local experiments only — never with real data.\n"
    "!!  Unset FHIR_AUTH (SMART on FHIR is the default) for anything else.\n" + "!" * 78
)


def _service_api(
    settings: Settings, services: Services, fhir: FhirApp, metrics: Metrics | None
) -> FastAPI:
    # FastAPI's own description would list only these service routes: /openapi.json describes
    # the FHIR API instead (the pages below show it)
    api = FastAPI(
        title="fhir-server", version=__version__, openapi_url=None, docs_url=None, redoc_url=None
    )
    api.mount(ASSETS, StaticFiles(directory=api_pages.ASSET_DIRECTORY), name="assets")
    api.mount(APPS, AppFiles(), name="apps")

    @api.get("/")
    async def info(request: Request) -> Response:
        """What this server is and where to go next: a page of links for a browser, JSON for
        everyone else."""
        root = request.scope.get("root_path", "")
        links = api_pages.links(root, PREFIX, metrics is not None)
        if api_pages.wants_html(request.headers.get("accept")):
            return HTMLResponse(api_pages.index_html(__version__, links))
        body = {"service": "fhir-server", "version": __version__, "fhir_base": PREFIX, **links}
        return JSONResponse(body)

    @api.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/openapi.json", include_in_schema=False)
    async def openapi_json(request: Request) -> Response:
        """The FHIR API as OpenAPI 3.1, generated from the CapabilityStatement: public metadata
        like ``/metadata`` (no token needed; it tells no more than the CapabilityStatement)."""
        base = fhir.base_url(request.scope, request.headers.get("host"))
        root = request.scope.get("root_path", "")
        security = capability_security(settings, base)
        smart = smart_configuration(settings, base) or {}
        body = openapi.document(
            services.capabilities.statement(settings, base, security),
            root + PREFIX,
            root,
            tuple(smart.get("scopes_supported", ())),
            tuple(smart.get("grant_types_supported", ())),
            metrics is not None,
        )
        return Response(body, media_type="application/json")

    @api.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> Response:
        return api_pages.swagger_ui(request.scope.get("root_path", ""))

    @api.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_redirect() -> Response:
        return get_swagger_ui_oauth2_redirect_html()

    @api.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> Response:
        return api_pages.redoc(request.scope.get("root_path", ""))

    if metrics is not None:

        @api.get("/metrics", include_in_schema=False)
        async def prometheus() -> Response:
            return Response(await metrics.exposition(), media_type=METRICS_CONTENT_TYPE)

    return api


class ServerApp:
    """ASGI entry point; ``startup``/``shutdown`` are also called directly by tests."""

    def __init__(
        self,
        settings: Settings | None = None,
        store: Store | None = None,
        keys: KeySource | None = None,
        is_revoked: Revoked | None = None,
        services: Services | None = None,
    ) -> None:
        """``keys`` and ``is_revoked``: the embedded authorization server's key store and
        revocation check, which ``FHIR_AUTH=smart`` verifies access tokens with.
        ``services``: made from the settings unless given (a test serving fewer routes); the
        server's operations and MedCom's (`medcom.OPERATIONS`: ``$process-message``,
        ``$medcom-carecommunication``, ``$medcom-hospitalnotification``)."""
        self.settings = settings or Settings()
        self.services = services or create_services(
            self.settings, operations=OPERATIONS + MEDCOM_OPERATIONS
        )
        """This server's router, search parameters and checks: its own, never another's."""
        self.store = store or make_store(self.settings, self.services.indexer)
        self.store.indexer = self.services.indexer  # a store made by the caller (tests) too
        self.smart: SmartServer | None = None
        if self.settings.auth == "smart":
            self.smart = SmartServer(self.settings, auth_store_for(self.store))
            self.smart.bind_fhir_store(self.store)
        auth = authenticator_for(
            self.settings,
            self.store,
            keys=keys or (self.smart.keys if self.smart else None),
            is_revoked=is_revoked or (self.smart.revocations.is_revoked if self.smart else None),
        )
        self.fhir = FhirApp(
            self.settings,
            self.store,
            auth,
            security=partial(capability_security, self.settings),
            services=self.services,
        )
        self.metrics = Metrics(self._route, self._queues()) if self.settings.metrics else None
        """Prometheus metrics (``FHIR_METRICS``): counts and times every request; None when
        off, and then nothing wraps the requests."""
        self.exporter = Exporter(self.store, self.settings, self.services, auth)
        """Bulk ``$export`` jobs (fhir_server/export): run, resumed and expired here."""
        self.services.exports.exporter = self.exporter
        self.api = _service_api(self.settings, self.services, self.fhir, self.metrics)
        self.auth = AuthRoutes(self.settings, self.smart) if self.settings.auth != "off" else None
        self.origins = AppOrigins(
            self.settings.cors_origins, self.smart.clients if self.smart else None
        )
        """Browser origins answered with CORS (registered apps', ``FHIR_CORS_ORIGINS``)."""
        routed = self.metrics or self._route
        self.http = routed if self.settings.access_log == "off" else AccessLog(routed)
        """Every HTTP request: routed, measured when metrics are on, and logged unless the
        access log is off."""
        self.delivery = (
            DeliveryWorker(self.store, self.settings, self.services)
            if self.settings.medcom_sender
            else None
        )
        """The MedCom outbox's delivery worker (medcom/delivery.py), when this server sends."""
        self.subscriptions = (
            SubscriptionWorker(self.store, self.settings, self.services, auth)
            if self.settings.subscriptions
            else None
        )
        """Turns the journal of changes into subscriptions' events and delivers them."""
        if self.subscriptions is not None:
            hub = self.services.subscriptions
            hub.worker = self.subscriptions
            self.subscriptions.channels["websocket"] = hub.send
            self.subscriptions.ready["websocket"] = hub.bound

    def _queues(self) -> dict[str, Depth]:
        """The queues whose depth ``/metrics`` reports; a further queue (subscription
        notifications) adds itself to ``self.metrics.queues`` under its own name."""
        store, settings, services = self.store, self.settings, self.services
        return {
            "deferred_journal": store.deferred_depth,
            "medcom_outbox": partial(outbox.depth, store, settings, services),
        }

    async def startup(self) -> None:
        await self.store.open()
        if self.settings.install_conformance:
            installed = await bundled_definitions.install(self.store, self.services.checks)
            if installed:
                log.info("installed %d bundled conformance resources", installed)
        await self.services.custom.sync(self.store)
        await self.services.conformance.sync(self.store)
        if self.smart is not None:
            await self.smart.open()
        if self.settings.auth == "off" and not os.environ.get(ANNOUNCED):
            log.warning(OFF_WARNING)
        self.fhir.hosts.announce()
        _settle_garbage_collector()
        self._indexer = asyncio.ensure_future(keep_indexing(self.store))
        if self.delivery is not None:
            self.delivery.start()
        await self.exporter.open()
        if self.subscriptions is not None:
            self.subscriptions.start()

    _indexer: asyncio.Future[None] | None = None
    """The background indexer of the store's deferred journal (the reads' AuditEvents)."""

    async def shutdown(self) -> None:
        await self.exporter.close()
        if self.delivery is not None:
            await self.delivery.stop()
        if self.subscriptions is not None:
            await self.subscriptions.stop()
        if self._indexer is not None:
            self._indexer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._indexer
            self._indexer = None
            try:  # what is left waits in the journal for the next start otherwise
                await index_all(self.store)
            except Exception:
                log.exception("indexing the deferred journal at shutdown failed")
        await self.services.custom.close()
        if self.smart is not None:
            await self.smart.close()
        await self.store.close()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket" and scope["path"] == PREFIX + WEBSOCKET_PATH:
            await websocket.serve(self.services.subscriptions, scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    async def _route(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        if self.auth is not None and path.startswith(_AUTH_PATHS):
            if path in _TOKEN_ENDPOINTS:
                await cors(self.auth, self.origins, scope, receive, send)
            else:
                await self.auth(scope, receive, send)
            return
        if path == _METADATA:
            await public_cors(self.fhir, scope, receive, send)
            return
        if path == PREFIX or path.startswith(PREFIX + "/"):
            await cors(self.fhir, self.origins, scope, receive, send)
            return
        await self.api(scope, receive, adding(send, [NOSNIFF]))

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except StoreUnusable as err:  # what to do, not a traceback
                    log.error("start-up failed: %s", err)
                    await send({"type": "lifespan.startup.failed", "message": str(err)})
                    return
                except Exception as err:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(err)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _settle_garbage_collector() -> None:
    """Compile the validator's rules now, then freeze everything alive after start-up out of
    the cyclic garbage collector's reach and let it run less often: a 100-entry transaction
    allocates some 20,000 containers, and each collection otherwise walks the long-lived
    definitions, rules and modules again (measured: 13 % of a transaction's CPU was spent
    under ``orjson.loads``, where those collections happened to trigger). Once per process."""
    from profiles.validation import Validator

    if gc.get_threshold() == _GC_THRESHOLDS:
        return
    Validator.default().compile_all()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)


_GC_THRESHOLDS = (20_000, 20, 20)


def create_app() -> ServerApp:
    """Factory for ``uvicorn --factory fhir_server.app:create_app``."""
    return ServerApp()
