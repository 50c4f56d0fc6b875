"""What the server tells SMART apps about itself: ``.well-known/smart-configuration``, the OpenID
configuration, and the CapabilityStatement's ``rest.security``.

All endpoints sit under the FHIR base (``{base}/auth/…``, ``{base}/.well-known/…``), so one
public URL (``FHIR_BASE_URL``, or the request's Host) places everything.
"""

from __future__ import annotations

from typing import Any

from fhir_server.config import Settings

CAPABILITIES = [
    "launch-ehr",
    "launch-standalone",
    "authorize-post",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-ehr-patient",
    "context-ehr-encounter",
    "context-standalone-patient",
    "context-banner",
    "context-style",
    "permission-offline",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
]
SCOPES = [
    "openid",
    "fhirUser",
    "profile",
    "launch",
    "launch/patient",
    "offline_access",
    "online_access",
    *(
        f"{context}/*.{perms}"
        for context in ("patient", "user", "system")
        for perms in ("cruds", "rs", "*", "read", "write")
    ),
]
GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"]
AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]
ASSERTION_ALGS = ["RS384", "ES384"]
SECURITY_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def endpoints(base: str) -> dict[str, str]:
    return {
        "authorization_endpoint": f"{base}/auth/authorize",
        "token_endpoint": f"{base}/auth/token",
        "introspection_endpoint": f"{base}/auth/introspect",
        "revocation_endpoint": f"{base}/auth/revoke",
    }


def smart_configuration(settings: Settings, base: str) -> dict[str, Any] | None:
    if settings.auth == "resource-server":
        return _external_configuration(settings)
    if settings.auth != "smart":
        return None
    return {
        "issuer": base,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        **endpoints(base),
        "grant_types_supported": GRANT_TYPES,
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": CAPABILITIES,
    }


def _external_configuration(settings: Settings) -> dict[str, Any] | None:
    """Resource-server mode: the first configured issuer's endpoints, when it names them."""
    for issuer in settings.auth_issuers:
        if issuer.authorization_endpoint and issuer.token_endpoint:
            return {
                "issuer": issuer.issuer,
                "jwks_uri": issuer.jwks_uri,
                "authorization_endpoint": issuer.authorization_endpoint,
                "token_endpoint": issuer.token_endpoint,
                "grant_types_supported": ["authorization_code"],
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "capabilities": ["launch-standalone", "permission-v1", "permission-v2"],
            }
    return None


def openid_configuration(base: str) -> dict[str, Any]:
    ends = endpoints(base)
    return {
        "issuer": base,
        "authorization_endpoint": ends["authorization_endpoint"],
        "token_endpoint": ends["token_endpoint"],
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "introspection_endpoint": ends["introspection_endpoint"],
        "revocation_endpoint": ends["revocation_endpoint"],
        "response_types_supported": ["code"],
        "grant_types_supported": GRANT_TYPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "scopes_supported": ["openid", "fhirUser", "profile", "offline_access", "online_access"],
        "claims_supported": [
            *("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash"),
            *("fhirUser", "name"),
        ],
        "code_challenge_methods_supported": ["S256"],
        "ui_locales_supported": ["da", "en"],
    }


def capability_security(settings: Settings, base: str) -> dict[str, Any] | None:
    """``CapabilityStatement.rest.security``: the SMART-on-FHIR service and the legacy
    ``oauth-uris`` extension (which clients such as the Python ``fhirclient`` read)."""
    config = smart_configuration(settings, base)
    if config is None:
        return None
    uris = [
        {"url": name, "valueUri": config[field]}
        for name, field in (
            ("authorize", "authorization_endpoint"),
            ("token", "token_endpoint"),
            ("introspect", "introspection_endpoint"),
            ("revoke", "revocation_endpoint"),
        )
        if field in config
    ]
    return {
        "extension": [{"url": OAUTH_URIS, "extension": uris}],
        "cors": settings.auth == "smart" or bool(settings.cors_origins),
        "service": [
            {
                "coding": [{"system": SECURITY_SERVICE, "code": "SMART-on-FHIR"}],
                "text": "OAuth2 using the SMART App Launch profile",
            }
        ],
        "description": f"SMART App Launch 2.2: see {base}/.well-known/smart-configuration",
    }
