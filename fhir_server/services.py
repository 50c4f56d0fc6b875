"""What one server holds that changes while it runs, or that its settings choose, as members of
one object the bootstrap creates (`fhir_server.app`, `fhir_server.cli`) and every request's
`Context` carries: two servers in one process (tests make many) share none of it.

The search parameters (the specification's and the custom ones loaded from the store), the
indexer that evaluates them on each write, the write checks (profile settings), the router
(routes and operations) and the CapabilityStatement generated from the router.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fhir_server.config import Settings
from fhir_server.export.runner import ExportSlot
from fhir_server.interactions.capabilities import CapabilityStatements
from fhir_server.interactions.router import Route, Router
from fhir_server.interactions.routes import OPERATIONS, ROUTES
from fhir_server.operations import Operation
from fhir_server.search.custom import CustomParameters
from fhir_server.search.extract import ResourceIndexer
from fhir_server.search.registry import SearchParameters
from fhir_server.stored_conformance import StoredConformance
from fhir_server.subscriptions.hub import Hub
from fhir_server.write_checks import WriteChecks


@dataclass(frozen=True, slots=True)
class Services:
    params: SearchParameters
    custom: CustomParameters
    """Loads the store's SearchParameter resources into ``params``."""
    indexer: ResourceIndexer
    """The store's indexer (`Store.indexer`): the index rows of ``params`` for a resource."""
    conformance: StoredConformance
    """The store's profiles, ValueSets and CodeSystems, as the validator the checks use."""
    checks: WriteChecks
    router: Router
    capabilities: CapabilityStatements
    exports: ExportSlot = field(default_factory=ExportSlot)
    """The bulk export worker (`fhir_server.export`), which the bootstrap starts with the store."""
    subscriptions: Hub = field(default_factory=Hub)
    """The subscriptions' worker and websocket bindings of this server (`fhir_server.app`)."""


def create_services(
    settings: Settings,
    routes: tuple[Route, ...] = ROUTES,
    operations: tuple[Operation, ...] = OPERATIONS,
) -> Services:
    """A server's services; ``routes`` and ``operations``: the server's (tests serve fewer)."""
    params = SearchParameters()
    router = Router(routes, operations)
    conformance = StoredConformance()
    return Services(
        params=params,
        custom=CustomParameters(params),
        indexer=ResourceIndexer(params),
        conformance=conformance,
        checks=WriteChecks(settings, params, conformance),
        router=router,
        capabilities=CapabilityStatements(router, params, conformance),
    )
