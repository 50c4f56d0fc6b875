"""The server's routes and operations: the explicit tuples its `Router` is built from
(`fhir_server.services`), each route tagged with the CapabilityStatement interaction codes it
serves. Adding an interaction or an operation is adding it here."""

from __future__ import annotations

from fhir_server.bundles import processor
from fhir_server.export import operation as export
from fhir_server.interactions import (
    capabilities,
    create,
    delete,
    history,
    patch,
    read,
    search,
    update,
)
from fhir_server.interactions.router import Route, operation
from fhir_server.operations import Operation, everything, terminology, validate
from fhir_server.subscriptions import operations as subscriptions

ROUTES: tuple[Route, ...] = (
    Route("instance", "GET", read.read, ("read",)),
    Route("version", "GET", read.vread, ("vread",)),
    Route("instance", "PUT", update.update, ("update",)),
    Route("instance", "PATCH", patch.patch, ("patch",)),
    Route("instance", "DELETE", delete.delete, ("delete",)),
    Route("instance-history", "GET", history.history, ("history-instance",)),
    Route("type-history", "GET", history.history, ("history-type",)),
    Route("type", "POST", create.create, ("create",)),
    Route("type", "GET", search.search, ("search-type",)),
    Route("type-search", "POST", search.search, ("search-type",)),
    Route("type", "PUT", update.conditional_update),  # conditionalUpdate
    Route("type", "DELETE", delete.conditional_delete),  # conditionalDelete
    Route("type", "PATCH", patch.patch),  # conditional patch
    Route("compartment", "GET", search.compartment_search),
    Route("system", "POST", processor.process, ("transaction", "batch")),
    Route("system-history", "GET", history.history, ("history-system",)),
    Route("system", "GET", search.system_search, ("search-system",)),
    Route("metadata", "GET", capabilities.capabilities),
    Route("operation", "GET", operation),
    Route("operation", "POST", operation),
    Route("operation", "DELETE", operation),  # a bulk export's status URL: cancel
)

OPERATIONS: tuple[Operation, ...] = (
    validate.VALIDATE,
    terminology.EXPAND,
    terminology.TRANSLATE,
    terminology.VALIDATE_CODE,
    terminology.LOOKUP,
    everything.PATIENT_EVERYTHING,
    everything.ENCOUNTER_EVERYTHING,
    *export.OPERATIONS,
    *subscriptions.OPERATIONS,
)
