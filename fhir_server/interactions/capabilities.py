"""The CapabilityStatement at ``/metadata``, generated from the route table and the search registry,
so it cannot claim an interaction or parameter that is not routed."""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

from fhir_server import __version__
from fhir_server.bundled_definitions import supported_profiles
from fhir_server.config import Settings
from fhir_server.interactions.context import Context, FhirRequest, FhirResult
from fhir_server.operations import OPERATIONS
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search.registry import on_change, params_for
from fhir_server.stored import instant, now_us

_TYPE_INTERACTIONS = {
    ("instance", "GET"): "read",
    ("version", "GET"): "vread",
    ("instance", "PUT"): "update",
    ("instance", "PATCH"): "patch",
    ("instance", "DELETE"): "delete",
    ("instance-history", "GET"): "history-instance",
    ("type-history", "GET"): "history-type",
    ("type", "POST"): "create",
    ("type", "GET"): "search-type",
}
_SYSTEM_INTERACTIONS = {
    ("system-history", "GET"): "history-system",
    ("system", "GET"): "search-system",
}


def _routed(table: dict[tuple[str, str], str]) -> list[dict[str, str]]:
    from fhir_server.interactions.router import ROUTES

    return [{"code": code} for (shape, method), code in table.items() if method in ROUTES[shape]]


def _resource(type_: str, multiple_delete: bool) -> dict[str, Any]:
    out = {
        "type": type_,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{type_}",
        "interaction": _routed(_TYPE_INTERACTIONS),
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalRead": "full-support",
        "conditionalUpdate": True,
        "conditionalDelete": "multiple" if multiple_delete else "single",
        "supportedProfile": supported_profiles(type_),
        "operation": [
            {"name": op.name, "definition": op.definition}
            for op in sorted(OPERATIONS.values(), key=lambda o: o.name)
            if op.types is None or type_ in op.types
        ],
        "searchParam": [
            {
                "name": p.name,
                "definition": p.url,
                "type": "token" if p.type == "id" else p.type,
            }
            for p in params_for(type_).values()
        ],
    }
    return {k: v for k, v in out.items() if v != []}  # FHIR JSON has no empty arrays


@cache
def _statement(multiple_delete: bool, base_url: str, security: bytes | None) -> bytes:
    from fhir_server.interactions.router import ROUTES

    system = _routed(_SYSTEM_INTERACTIONS)
    rest: dict[str, Any] = {"mode": "server"}
    if security is not None:  # SMART: discovery of the OAuth endpoints (docs/security.md)
        rest["security"] = orjson.loads(security)
    if "POST" in ROUTES["system"]:
        system = [{"code": "transaction"}, {"code": "batch"}, *system]
    doc = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(now_us())[:10],
        "publisher": "fhir-server",
        "kind": "instance",
        "software": {"name": "fhir-server", "version": __version__},
        "implementation": {
            "description": "FHIR R4 server for Danish cross-sector care",
            "url": base_url,
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "application/json"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "rest": [
            {
                **rest,
                "resource": [_resource(t, multiple_delete) for t in sorted(SERVED_TYPES)],
                "interaction": system,
            }
        ],
    }
    return orjson.dumps(doc)


on_change(_statement.cache_clear)  # custom search parameters are listed too


def statement(settings: Settings, base_url: str, security: dict[str, Any] | None) -> bytes:
    """The CapabilityStatement (JSON) of a server with these settings at ``base_url`` and this
    ``rest.security``; also the source of the OpenAPI description (`fhir_server.http.openapi`)."""
    return _statement(
        settings.allow_multiple_delete,
        base_url,
        orjson.dumps(security) if security is not None else None,
    )


async def capabilities(ctx: Context, req: FhirRequest) -> FhirResult:
    security = ctx.security(ctx.base_url) if ctx.security is not None else None
    return FhirResult(200, body=statement(ctx.settings, ctx.base_url, security))
