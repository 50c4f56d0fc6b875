"""The CapabilityStatement at ``/metadata``, generated from the server's `Router` (its routes'
interaction codes and its operations) and its search parameters, so it cannot claim an
interaction, operation or parameter that is not routed, nor leave one out."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from fhir_server import __version__
from fhir_server.bundled_definitions import supported_profiles
from fhir_server.config import Settings
from fhir_server.interactions.context import Context, FhirRequest, FhirResult
from fhir_server.interactions.router import Router
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search.registry import KnownParameters
from fhir_server.stored import instant, now_us
from fhir_server.subscriptions.spec import PROFILE
from fhir_server.subscriptions.topics import TOPICS

if TYPE_CHECKING:
    from fhir_server.stored_conformance import StoredConformance


REFERENCE_POLICY = ("literal", "logical", "local")
"""What every type accepts (ReferenceHandlingPolicy): literal and logical (identifier only)
references, and local ones (``Type/id``); ``enforced`` is added while referential integrity is
(`fhir_server.interactions.integrity`)."""

TOPIC_CANONICAL = (
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
    "capabilitystatement-subscriptiontopic-canonical"
)


def _resource(
    router: Router,
    params: KnownParameters,
    type_: str,
    multiple_delete: bool,
    stored: Callable[[str], list[str]] | None = None,
    enforced: bool = False,
) -> dict[str, Any]:
    profiles = supported_profiles(type_)
    profiles += [p for p in (stored(type_) if stored else []) if p not in profiles]
    out = {
        "type": type_,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{type_}",
        "interaction": [{"code": code} for code in router.codes("type")],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalRead": "full-support",
        "conditionalUpdate": router.routed("type", "PUT"),
        "conditionalDelete": (
            ("multiple" if multiple_delete else "single")
            if router.routed("type", "DELETE")
            else "not-supported"
        ),
        "referencePolicy": [*REFERENCE_POLICY, *(["enforced"] if enforced else [])],
        "supportedProfile": profiles,
        "operation": [
            {"name": op.name, "definition": dict(op.type_definitions).get(type_, op.definition)}
            for op in sorted(router.operations, key=lambda o: o.name)
            if (op.types is None or type_ in op.types)
            and op.levels & {"type", "instance"}
            and op.declared
        ],
        "searchParam": [
            {
                "name": p.name,
                "definition": p.url,
                "type": "token" if p.type == "id" else p.type,
            }
            for p in params.params_for(type_).values()
        ],
    }
    if type_ == "Subscription":  # the backport IG's declaration of topics on R4
        out["extension"] = [
            {"url": TOPIC_CANONICAL, "valueCanonical": url} for url in sorted(TOPICS)
        ]
        out["supportedProfile"] = [*profiles, PROFILE]
    return {k: v for k, v in out.items() if v != []}  # FHIR JSON has no empty arrays


def _statement(
    router: Router,
    params: KnownParameters,
    stored: Callable[[str], list[str]] | None,
    multiple_delete: bool,
    enforced: bool,
    base_url: str,
    security: bytes | None,
) -> bytes:
    rest: dict[str, Any] = {"mode": "server"}
    if security is not None:  # SMART: discovery of the OAuth endpoints (docs/security.md)
        rest["security"] = orjson.loads(security)
    system_operations = [  # those that run at the system level ([base]/$name)
        {"name": op.name, "definition": op.definition}
        for op in sorted(router.operations, key=lambda o: o.name)
        if "system" in op.levels and op.declared
    ]
    instantiates = sorted({op.instantiates for op in router.operations if op.instantiates})
    if system_operations:
        rest["operation"] = system_operations
    doc = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        **({"instantiates": instantiates} if instantiates else {}),
        "date": instant(now_us())[:10],
        "publisher": "fhir-server",
        "kind": "instance",
        "software": {"name": "fhir-server", "version": __version__},
        "implementation": {
            "description": "FHIR R4 server for Danish cross-sector care",
            "url": base_url,
        },
        "fhirVersion": "4.0.1",
        "format": [
            "application/fhir+json",
            "application/json",
            "application/fhir+xml",
            "application/xml",
        ],
        "patchFormat": [
            "application/json-patch+json",
            "application/fhir+json",
            "application/fhir+xml",
        ],
        "rest": [
            {
                **rest,
                "resource": [
                    _resource(router, params, t, multiple_delete, stored, enforced)
                    for t in sorted(SERVED_TYPES)
                ],
                "interaction": [{"code": code} for code in router.codes("system")],
            }
        ],
    }
    return orjson.dumps(doc)


class CapabilityStatements:
    """One server's CapabilityStatement, kept per (settings, base URL, security) until its
    search parameters change (custom ones are listed too). App-scoped
    (`fhir_server.services`)."""

    def __init__(
        self,
        router: Router,
        params: KnownParameters,
        conformance: StoredConformance | None = None,
    ) -> None:
        self.router = router
        self.params = params
        self.conformance = conformance
        self._kept: dict[tuple[bool, bool, str, bytes | None], bytes] = {}
        params.on_change(self._kept.clear)
        if conformance is not None:  # the stored profiles are supported profiles too
            conformance.on_change(self._kept.clear)

    def statement(
        self, settings: Settings, base_url: str, security: dict[str, Any] | None
    ) -> bytes:
        """The CapabilityStatement (JSON) of a server with these settings at ``base_url`` and
        this ``rest.security``; also the source of the OpenAPI description
        (`fhir_server.http.openapi`)."""
        raw = orjson.dumps(security) if security is not None else None
        key = (settings.allow_multiple_delete, settings.referential_integrity, base_url, raw)
        found = self._kept.get(key)
        if found is None:
            stored = self.conformance.profiles_for if self.conformance is not None else None
            found = self._kept[key] = _statement(self.router, self.params, stored, *key)
        return found


async def capabilities(ctx: Context, req: FhirRequest) -> FhirResult:
    security = ctx.security(ctx.base_url) if ctx.security is not None else None
    body = ctx.services.capabilities.statement(ctx.settings, ctx.base_url, security)
    return FhirResult(200, body=body)
