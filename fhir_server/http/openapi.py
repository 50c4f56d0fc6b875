"""An OpenAPI 3.1 description of the FHIR API, generated from the CapabilityStatement.

Served at ``/openapi.json`` (public metadata, like ``/metadata``) so generic HTTP tooling — API
explorers, client generators, schemathesis (tests/fuzz) — sees every resource type, interaction,
search parameter and operation the server routes, and nothing it does not: the CapabilityStatement
is itself generated from the route table, so both describe the same server.

The request body schemas are "FHIR-shaped", not full FHIR: per type, ``resourceType`` fixed to the
type, the top-level elements with their JSON types (from the R4 definitions, `profiles.elements`)
and the required ones. Errors are described as OperationOutcomes.

Security, when the CapabilityStatement declares it: the SMART authorization server as an OAuth 2
scheme (the authorization code flow with the statement's ``authorize`` and ``token`` URIs, and
client credentials for backend services when the server grants them), and a plain bearer scheme
for a token got elsewhere (``fhir-server token``). The service endpoints outside the FHIR base
(``/health``, ``/metrics`` when on) are described with a server of their own.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import orjson

from profiles.elements import Definitions, Element

FHIR_JSON = "application/fhir+json"
_OUTCOME = {"$ref": "#/components/schemas/OperationOutcome"}
_ID = "[A-Za-z0-9\\-\\.]{1,64}"

_COMMON_SEARCH = ("_count", "_sort", "_summary", "_total", "_elements", "_format")
_INCLUDES = ("_include", "_revinclude", "_include:iterate", "_revinclude:iterate")
_HISTORY = ("_since", "_at", "_count")


OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


@lru_cache(maxsize=8)
def document(
    statement: bytes,
    base_path: str,
    service_path: str = "",
    scopes: tuple[str, ...] = (),
    grant_types: tuple[str, ...] = (),
    metrics: bool = False,
) -> bytes:
    """`describe` as JSON bytes, for a CapabilityStatement as `capabilities.statement` gives it
    (it changes only with custom search parameters or the configured base)."""
    return orjson.dumps(
        describe(orjson.loads(statement), base_path, service_path, scopes, grant_types, metrics)
    )


def describe(
    capabilities: dict[str, Any],
    base_path: str,
    service_path: str = "",
    scopes: tuple[str, ...] = (),
    grant_types: tuple[str, ...] = (),
    metrics: bool = False,
) -> dict[str, Any]:
    """The OpenAPI document for the server that ``capabilities`` (a CapabilityStatement) states,
    with the FHIR base at ``base_path`` (``/fhir``) and the service endpoints (``/health``,
    ``/metrics`` when ``metrics``) under ``service_path`` (the ASGI root path, usually empty).
    ``scopes`` and ``grant_types``: what the authorization server offers (its
    smart-configuration's ``scopes_supported`` and ``grant_types_supported``), for the OAuth 2
    flows of the security scheme."""
    rest = capabilities["rest"][0]
    types = [r["type"] for r in rest.get("resource", [])]
    paths: dict[str, dict[str, Any]] = {}
    for resource in rest.get("resource", []):
        _type_paths(paths, resource)
    _system_paths(paths, rest, types)
    schemas: dict[str, Any] = {
        "OperationOutcome": _outcome_schema(),
        "Bundle": _bundle(types),
        "Resource": {"type": "object", "required": ["resourceType"]},
    }
    for type_ in types:
        schemas[type_] = _resource_schema(type_)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": capabilities.get("software", {}).get("name", "FHIR server"),
            "version": capabilities.get("software", {}).get("version", "0"),
            "description": "FHIR R4 (4.0.1) REST API, generated from the CapabilityStatement "
            f"at {base_path}/metadata.",
        },
        "servers": [{"url": base_path}],
        "paths": paths,
        "components": {"schemas": schemas},
    }
    _service_paths(paths, service_path, metrics)
    _tag(paths, set(types))
    if "security" in rest:
        schemes = _security_schemes(rest["security"], base_path, scopes, grant_types)
        doc["components"]["securitySchemes"] = schemes
        doc["security"] = [{name: []} for name in schemes]  # any one of them
        doc["paths"]["/metadata"]["get"]["security"] = []  # public, as SMART discovery needs
        for path in ("/health", "/metrics"):
            if path in paths:
                paths[path]["get"]["security"] = []
    return doc


def _security_schemes(
    security: dict[str, Any],
    base_path: str,
    scopes: tuple[str, ...],
    grant_types: tuple[str, ...],
) -> dict[str, Any]:
    """``smart`` (OAuth 2, from the statement's ``oauth-uris``) when it names the endpoints,
    and ``bearer`` (a token from anywhere, e.g. ``fhir-server token``)."""
    uris = {
        e["url"]: e.get("valueUri")
        for ext in security.get("extension", [])
        if ext.get("url") == OAUTH_URIS
        for e in ext.get("extension", [])
    }
    schemes: dict[str, Any] = {}
    authorize, token = uris.get("authorize"), uris.get("token")
    if authorize and token:
        flows: dict[str, Any] = {
            "authorizationCode": {
                "authorizationUrl": authorize,
                "tokenUrl": token,
                "refreshUrl": token,
                "scopes": _scope_descriptions(s for s in scopes if not s.startswith("system/")),
            }
        }
        if "client_credentials" in grant_types:
            flows["clientCredentials"] = {
                "tokenUrl": token,
                "scopes": _scope_descriptions(s for s in scopes if s.startswith("system/")),
            }
        schemes["smart"] = {
            "type": "oauth2",
            "description": "SMART App Launch 2.2 (authorization code with PKCE; backend "
            "services: client credentials). Discovery: "
            f"{base_path}/.well-known/smart-configuration",
            "flows": flows,
        }
    schemes["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token got elsewhere (`fhir-server token <client>` prints one).",
    }
    return schemes


def _scope_descriptions(scopes: Any) -> dict[str, str]:
    """OpenAPI wants a description per scope: SMART's grammar says what each one grants."""
    out = {}
    for scope in scopes:
        context, _, rest = scope.partition("/")
        if rest and context in _CONTEXTS:
            type_, _, perms = rest.partition(".")
            what = "every type" if type_ == "*" else type_
            out[scope] = f"{_CONTEXTS[context]}: {_PERMISSIONS.get(perms, perms)} {what}"
        else:
            out[scope] = _SPECIAL_SCOPES.get(scope, scope)
    return out


_CONTEXTS = {
    "patient": "the patient in context",
    "user": "what the signed-in user may see",
    "system": "a backend service",
}
_PERMISSIONS = {
    "cruds": "create, read, update, delete, search",
    "rs": "read and search",
    "*": "read and write",
    "read": "read and search",
    "write": "create, update, delete",
}
_SPECIAL_SCOPES = {
    "openid": "OpenID Connect: an id_token",
    "fhirUser": "the id_token names the user's FHIR resource",
    "profile": "the user's name in the id_token",
    "launch": "EHR launch: the EHR's context",
    "launch/patient": "standalone launch: pick a patient",
    "offline_access": "a refresh token that outlives the session",
    "online_access": "a refresh token while the session lasts",
}


def _tag(paths: dict[str, dict[str, Any]], types: set[str]) -> None:
    """Group the operations as API explorers show them: by resource type, then ``system``
    (whole-server interactions) and ``service`` (outside the FHIR base)."""
    for path, item in paths.items():
        first = path.strip("/").split("/")[0]
        tag = first if first in types else "service" if "servers" in item else "system"
        for key, operation in item.items():
            if key != "servers":
                operation["tags"] = [tag]


def _service_paths(paths: dict[str, dict[str, Any]], service_path: str, metrics: bool) -> None:
    """``/health`` (and ``/metrics``) live beside the FHIR base, not under it."""
    servers = [{"url": service_path or "/"}]
    paths["/health"] = {
        "servers": servers,
        "get": {
            "summary": "Liveness: 200 while the server answers (for load balancers, containers)",
            "responses": {
                "200": {
                    "description": "The server is up",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"status": {"const": "ok"}},
                            }
                        }
                    },
                }
            },
        },
    }
    if metrics:
        paths["/metrics"] = {
            "servers": servers,
            "get": {
                "summary": "Prometheus metrics: requests by interaction and status, latencies, "
                "queue depths (FHIR_METRICS=true)",
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            },
        }


def _op(summary: str, ok: str, params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An operation object answering ``ok`` (a schema name) or an OperationOutcome."""
    out: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "2XX": _json_response("Success", {"$ref": f"#/components/schemas/{ok}"}),
            "4XX": _json_response("Refused", _OUTCOME),
            "5XX": _json_response("Server error", _OUTCOME),
        },
    }
    if params:
        out["parameters"] = params
    return out


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {FHIR_JSON: {"schema": schema}}}


def _body(schema: dict[str, Any], *media: str) -> dict[str, Any]:
    return {"required": True, "content": {m: {"schema": schema} for m in media or (FHIR_JSON,)}}


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}


def _header(name: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "schema": {"type": "string"}}


def _type_paths(paths: dict[str, dict[str, Any]], resource: dict[str, Any]) -> None:
    type_ = resource["type"]
    ref = {"$ref": f"#/components/schemas/{type_}"}
    codes = {i["code"] for i in resource.get("interaction", [])}
    id_ = [_path_param("id")]
    type_path: dict[str, Any] = {}
    instance: dict[str, Any] = {}
    if "search-type" in codes:
        names = [p["name"] for p in resource.get("searchParam", [])]
        search = [_query(n) for n in (*names, *_COMMON_SEARCH, *_INCLUDES)]
        type_path["get"] = _op(f"Search {type_}", "Bundle", search)
        paths[f"/{type_}/_search"] = {
            "post": {
                **_op(f"Search {type_} (form)", "Bundle"),
                "requestBody": _body(
                    {"type": "object", "additionalProperties": {"type": "string"}},
                    "application/x-www-form-urlencoded",
                ),
            }
        }
    if "create" in codes:
        type_path["post"] = {
            **_op(f"Create a {type_}", type_, [_header("If-None-Exist"), _header("Prefer")]),
            "requestBody": _body(ref),
        }
    if "read" in codes:
        conditional = [_header("If-None-Match"), _header("If-Modified-Since")]
        instance["get"] = _op(f"Read a {type_}", type_, id_ + conditional)
    if "update" in codes:
        instance["put"] = {
            **_op(f"Update (or create) a {type_}", type_, [*id_, _header("If-Match")]),
            "requestBody": _body(ref),
        }
    if "patch" in codes:
        instance["patch"] = {
            **_op(f"Patch a {type_}", type_, [*id_, _header("If-Match")]),
            "requestBody": _body(
                {"type": "array", "items": _json_patch_op()}, "application/json-patch+json"
            ),
        }
    if "delete" in codes:
        instance["delete"] = _op(f"Delete a {type_}", "OperationOutcome", id_)
    if type_path:
        paths[f"/{type_}"] = type_path
    if instance:
        paths[f"/{type_}/{{id}}"] = instance
    history = [_query(n) for n in _HISTORY]
    if "history-instance" in codes:
        paths[f"/{type_}/{{id}}/_history"] = {
            "get": _op(f"History of a {type_}", "Bundle", id_ + history)
        }
    if "vread" in codes:
        paths[f"/{type_}/{{id}}/_history/{{vid}}"] = {
            "get": _op(f"A version of a {type_}", type_, [*id_, _path_param("vid")])
        }
    if "history-type" in codes:
        paths[f"/{type_}/_history"] = {"get": _op(f"History of all {type_}", "Bundle", history)}
    for operation in resource.get("operation", []):
        name = operation["name"]
        body = _body({"oneOf": [ref, _parameters()]})
        paths[f"/{type_}/${name}"] = {
            "post": {**_op(f"${name} on {type_}", "Resource"), "requestBody": body}
        }
        paths[f"/{type_}/{{id}}/${name}"] = {
            "post": {**_op(f"${name} on a {type_}", "Resource", id_), "requestBody": body}
        }


def _system_paths(paths: dict[str, dict[str, Any]], rest: dict[str, Any], types: list[str]) -> None:
    codes = {i["code"] for i in rest.get("interaction", [])}
    paths["/metadata"] = {"get": _op("The CapabilityStatement", "Resource")}
    root: dict[str, Any] = {}
    if "batch" in codes or "transaction" in codes:
        root["post"] = {
            **_op("Process a batch or transaction Bundle", "Bundle", [_header("Prefer")]),
            "requestBody": _body({"$ref": "#/components/schemas/Bundle"}),
        }
    if "search-system" in codes:
        root["get"] = _op(
            "Search across types", "Bundle", [_query(n) for n in ("_type", "_id", "_lastUpdated")]
        )
    if root:
        paths["/"] = root
    if "history-system" in codes:
        paths["/_history"] = {
            "get": _op("History of all resources", "Bundle", [_query(n) for n in _HISTORY])
        }


def _outcome_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["resourceType", "issue"],
        "properties": {
            "resourceType": {"const": "OperationOutcome"},
            "issue": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["severity", "code"],
                    "properties": {
                        "severity": {"enum": ["fatal", "error", "warning", "information"]},
                        "code": {"type": "string"},
                        "diagnostics": {"type": "string"},
                        "expression": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    }


def _bundle(types: list[str]) -> dict[str, Any]:
    entry = {
        "type": "object",
        "properties": {
            "fullUrl": {"type": "string"},
            "resource": {"oneOf": [{"$ref": f"#/components/schemas/{t}"} for t in types]},
            "request": {
                "type": "object",
                "required": ["method", "url"],
                "properties": {
                    "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
                    "url": {"type": "string"},
                    "ifMatch": {"type": "string"},
                    "ifNoneExist": {"type": "string"},
                },
            },
        },
    }
    return {
        "type": "object",
        "required": ["resourceType"],
        "properties": {
            "resourceType": {"const": "Bundle"},
            "type": {"enum": ["batch", "transaction", "searchset", "history", "collection"]},
            "entry": {"type": "array", "items": entry},
        },
    }


def _parameters() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["resourceType"],
        "properties": {
            "resourceType": {"const": "Parameters"},
            "parameter": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}, "valueString": {"type": "string"}},
                },
            },
        },
    }


def _json_patch_op() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["op", "path"],
        "properties": {
            "op": {"enum": ["add", "remove", "replace", "move", "copy", "test"]},
            "path": {"type": "string"},
            "from": {"type": "string"},
            "value": {},
        },
    }


@cache
def _resource_schema(type_: str) -> dict[str, Any]:
    """``type_`` as JSON Schema: its top-level elements with their JSON types."""
    properties: dict[str, Any] = {
        "resourceType": {"const": type_},
        "id": {"type": "string", "pattern": f"^{_ID}$"},
        "meta": {"type": "object"},
    }
    definitions = Definitions.default()
    for key, element in definitions.elements(type_).items():
        if key not in properties:
            properties[key] = _element_schema(element, definitions)
    required = sorted(k for k in definitions.required_elements(type_) if k in properties)
    return {
        "type": "object",
        "required": ["resourceType", *required],
        "properties": properties,
        "additionalProperties": False,  # FHIR JSON has no other properties (but _element ones)
    }


_JSON_TYPES: dict[str, dict[str, Any]] = {
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "positiveInt": {"type": "integer"},
    "unsignedInt": {"type": "integer"},
    "decimal": {"type": "number"},
}


def _element_schema(element: Element, definitions: Definitions) -> dict[str, Any]:
    """The JSON type of an element from its R4 definition: arrays of what it repeats, JSON
    booleans and numbers for FHIR's, strings for the other primitives, objects otherwise."""
    code = element.types[0] if len(element.types) == 1 else ""
    if code in _JSON_TYPES:
        schema = dict(_JSON_TYPES[code])
    elif definitions.is_primitive(code):
        schema = {"type": "string"}
    else:
        schema = {"type": "object"}
    return {"type": "array", "items": schema, "minItems": 1} if element.repeats else schema
