"""Settings read from the environment (prefix ``FHIR_``) — nothing connects at import time."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DK_CORE = "http://hl7.dk/fhir/core/StructureDefinition"
FF = "http://faellesforloeb.dk/fhir/StructureDefinition"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FHIR_", extra="ignore")

    store_url: str = "sqlite:///./data/fhir.db"
    """``sqlite:///path`` (embedded default) or ``mongodb://…`` (production)."""

    base_url: str | None = None
    """The public FHIR base (e.g. ``https://fhir.example.dk/fhir``) for Location headers, fullUrls
    and paging links; unset, it is taken from each request's Host header."""

    auth: Literal["smart", "resource-server", "off"] = "off"
    """Authorization mode: ``smart`` (the embedded SMART authorization server issues the access
    tokens), ``resource-server`` (tokens of the external issuers in ``auth_issuers``), ``off``
    (no authorization: local experiments only)."""

    auth_issuers: list[dict[str, Any]] = Field(default_factory=list)
    """For ``resource-server``: the trusted issuers, JSON in the environment:
    ``FHIR_AUTH_ISSUERS='[{"issuer": "https://idp.example.dk", "jwks_uri":
    "https://idp.example.dk/jwks", "audience": "https://fhir.example.dk/fhir",
    "claims": {"client_id": "azp", "scope": "scp"}}]'`` (see docs/authorization.md)."""

    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    """Request bodies over this size are refused with 413."""

    default_page_size: int = Field(default=50, ge=1)
    max_page_size: int = Field(default=1000, ge=1)

    allow_multiple_delete: bool = False
    """Conditional delete of several matches (otherwise 412, as the spec allows)."""

    max_conditional_delete: int = Field(default=100, ge=1)

    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    """FULL: an acknowledged write survives power loss; NORMAL: survives a process crash only."""

    mongodb_database: str = "fhir"

    install_conformance: bool = True
    """Install the bundled Danish profiles, terminology and SearchParameters into the store at
    start (only what is missing or changed)."""

    validate_profiles: bool = True
    """Validate every write against the R4 definition of its type (required bindings,
    invariants, …) and the profiles it claims in ``meta.profile``; refused with 422."""

    required_profiles: dict[str, str] = Field(
        default_factory=lambda: {
            "Patient": f"{DK_CORE}/dk-core-patient",
            "ServiceRequest": f"{DK_CORE}/dk-core-person-servicerequest",
            "CarePlan": f"{FF}/ff-careplan",
            "CareTeam": f"{FF}/ff-careteam",
            "MedicationStatement": f"{FF}/ff-medicationstatement",
            "Consent": f"{FF}/ff-consent",
        }
    )
    """Type → the profile every write of that type must conform to (the Danish profiles by
    default); set to ``{}`` to require none. JSON in the environment:
    ``FHIR_REQUIRED_PROFILES='{"Patient": "http://hl7.dk/fhir/core/StructureDefinition/dk-core-patient"}'``."""
