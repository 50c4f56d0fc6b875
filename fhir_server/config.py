"""Settings read from the environment (prefix ``FHIR_``) — nothing connects at import time."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DK_CORE = "http://hl7.dk/fhir/core/StructureDefinition"
FF = "http://faellesforloeb.dk/fhir/StructureDefinition"


class ClaimMapping(BaseModel):
    """Which claim of an external issuer's access token carries what the principal needs (resource
    server mode); each names a top-level claim. ``scope`` may hold a space-separated string or a
    list of strings. The national attributes (OIO IDWS Healthcare, docs/authorization.md):
    ``purpose_of_use`` (TREATMENT, EMERGENCY, REQUEST), ``btg_reason`` (the stated reason an
    EMERGENCY needs), ``is_over_15``, ``children_in_custody`` (CPR numbers) and
    ``organization_id`` (the SOR code, ``system|value`` or ``Organization/id`` the user acts
    for). An unknown key is refused at start: a misspelt mapping would silently map nothing."""

    model_config = ConfigDict(extra="forbid")

    subject: str = "sub"
    client_id: str = "client_id"
    scope: str = "scope"
    patient: str = "patient"
    encounter: str = "encounter"
    fhir_user: str = "fhirUser"
    purpose_of_use: str = "purpose_of_use"
    btg_reason: str = "btg_reason"
    is_over_15: str = "is_over_15"
    children_in_custody: str = "children_in_custody"
    organization_id: str = "organization_id"

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(k) for k in data if k not in cls.model_fields)
            if unknown:
                raise ValueError(
                    f"FHIR_AUTH_ISSUERS claims: unknown key(s) {', '.join(unknown)};"
                    f" the keys are {', '.join(cls.model_fields)} (our name → the issuer's claim)"
                )
        return data


class ExternalIssuer(BaseModel):
    """An identity provider whose access tokens the FHIR API accepts
    (``FHIR_AUTH=resource-server``)."""

    issuer: str
    """Must equal the token's ``iss`` exactly."""
    jwks_uri: str
    """Where the issuer publishes its signing keys (fetched and cached; refetched for an unknown
    ``kid``)."""
    audience: str | None = None
    """The ``aud`` the tokens must carry; unset, the FHIR base URL."""
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "RS384", "ES256", "ES384"])
    claims: ClaimMapping = Field(default_factory=ClaimMapping)
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    """Published in this server's smart-configuration so apps find the issuer's endpoints."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FHIR_", extra="ignore")

    store_url: str = "sqlite:///./data/fhir.db"
    """``sqlite:///path`` (embedded default) or ``mongodb://…`` (production)."""

    base_url: str | None = None
    """The public FHIR base (e.g. ``https://fhir.example.dk/fhir``) for Location headers, fullUrls
    and paging links; unset, it is taken from each request's Host header when that Host is
    trusted (``fhir_server.http.hosts``), else the request is refused with 400."""

    allowed_hosts: list[str] = Field(default_factory=list)
    """With ``base_url`` unset: Host header values (``host`` or ``host:port``) trusted besides the
    address the server listens on, as JSON (``FHIR_ALLOWED_HOSTS='["fhir.internal:8080"]'``)."""

    auth: Literal["smart", "resource-server", "off"] = "smart"
    """Authorization mode (docs/security.md). ``smart``: the embedded SMART-on-FHIR authorization
    server issues the tokens the FHIR API requires. ``resource-server``: tokens from the
    ``auth_issuers`` are accepted, no embedded login. ``off``: anyone may do anything — for local
    experiments only, announced loudly at start."""

    auth_issuers: list[ExternalIssuer] = Field(default_factory=list)
    """``FHIR_AUTH=resource-server``: the trusted issuers, as JSON in the environment
    (``FHIR_AUTH_ISSUERS='[{"issuer": "https://idp.example.dk", "jwks_uri": "…"}]'``)."""

    access_token_seconds: int = Field(default=3600, ge=60, le=3600)
    """Lifetime of access tokens from the authorization code and refresh grants (at most 1 h)."""

    backend_token_seconds: int = Field(default=300, ge=30, le=300)
    """Lifetime of access tokens from ``client_credentials`` (backend services; at most 5 min)."""

    btg_seconds: int = Field(default=4 * 3600, ge=60, le=24 * 3600)
    """How long a break-the-glass (purpose of use EMERGENCY) lasts from when it was granted —
    across refreshes of its grant — and never beyond the access token it is in."""

    refresh_token_days: int = Field(default=30, ge=1, le=365)
    """Lifetime of refresh tokens issued for ``offline_access``."""

    online_refresh_hours: int = Field(default=12, ge=1, le=24)
    """Lifetime of refresh tokens issued for ``online_access``."""

    auth_frame_ancestors: list[str] = Field(default_factory=list)
    """Origins (``https://ehr.example.dk``) that may show the login and approval pages in a
    frame — an EHR that opens apps inside itself; by default no site may frame them."""

    login_failures_per_user: int = Field(default=5, ge=1)
    """Failed sign-ins for one username (across requests and server processes) that lock it
    for ``login_lock_seconds``; counted over the same period."""

    login_failures_per_address: int = Field(default=20, ge=1)
    """Failed sign-ins from one client address (an IPv6 /64) that lock sign-in from it."""

    login_lock_seconds: int = Field(default=900, ge=60, le=86400)
    """How long failures are counted, and how long a lock lasts."""

    launch_seconds: int = Field(default=3600, ge=60, le=86400)
    """How long an EHR launch context (``launch`` parameter) stays usable."""

    cors_origins: list[str] = Field(default_factory=list)
    """Browser origins (``https://app.example.dk``) the FHIR API and the token endpoints answer
    with CORS, besides those of the registered apps' redirect and launch URIs; JSON list
    (``FHIR_CORS_ORIGINS='["https://app.example.dk"]'``)."""

    access_log: Literal["json", "off"] = "json"
    """``json``: one line per request on standard error — method, path, status, duration,
    client id; never query values, bodies or tokens (``fhir_server.http.access_log``).
    ``off``: none (``fhir-server serve --no-access-log``)."""

    metrics: bool = False
    """Prometheus metrics at ``/metrics`` (``fhir_server.http.metrics``): requests by FHIR
    interaction and status, latency histograms, queue depths; no ids or other personal data in
    any label. Off by default: they cost a little on every request, and ``/metrics`` needs no
    token — expose it to your monitoring only (docs/operations.md)."""

    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    """Request bodies over this size are refused with 413."""

    default_page_size: int = Field(default=50, ge=1)
    max_page_size: int = Field(default=1000, ge=1)

    allow_multiple_delete: bool = False
    """Conditional delete of several matches (otherwise 412, as the spec allows)."""

    max_conditional_delete: int = Field(default=100, ge=1)

    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    """FULL: an acknowledged write survives power loss; NORMAL: survives a process crash only."""
    sqlite_read_cache: int = Field(default=10_000, ge=0)
    """Current versions each server process keeps for reads by id; all are dropped whenever
    any process commits a change other than new AuditEvents (``PRAGMA data_version``, then
    ``data_change.n``). 0: every read queries the file."""

    mongodb_database: str = "fhir"

    audit: bool | None = None
    """Record an AuditEvent for every access to a citizen's data (docs/audit.md): unset, on
    whenever ``auth`` is not ``off``. While on, clients may not write AuditEvents."""

    @property
    def audit_enabled(self) -> bool:
        """Whether accesses are audited (``audit``, or by default whenever auth is on)."""
        return self.audit if self.audit is not None else self.auth != "off"

    install_conformance: bool = True
    """Install the bundled Danish profiles, terminology and SearchParameters into the store at
    start (only what is missing or changed)."""

    validate_profiles: bool = True
    """Validate every write against the profiles it claims in ``meta.profile`` and the one
    ``required_profiles`` names for its type; a failure is refused with 422. Off, neither is
    checked (``required_profiles`` is then not enforced). The R4 definition of its type
    (cardinality, types, required bindings, invariants) is checked either way: 400."""

    referential_integrity: bool = True
    """Refuse a write that references a local resource (``Type/id``, or an absolute URL under
    this server's base) that does not exist, is deleted or that the writer may not read (400
    naming the element), and a delete of a resource that current versions of others still
    reference (409 naming them), as HAPI does by default. Checked once per unit of work, before
    its commit, so a transaction's entries may reference each other in any order.
    ``fhir-server load`` does not check by default (a bulk load's files reference each other in
    any order; ``--referential-integrity`` checks its transaction Bundles).
    docs/conformance.md#referential-integrity."""

    unknown_profiles: Literal["accept", "refuse"] = "accept"
    """A profile in ``meta.profile`` this server has no definition of (a profile of another
    system, e.g. MedCom's): ``accept`` stores the resource (checked against its R4 type and the
    profiles the server has) and answers a warning naming ``meta.profile[n]``, as HAPI does;
    ``refuse`` answers 422. Post the StructureDefinition (or install its package) to have it
    checked."""

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

    # --- Bulk Data $export (fhir_server/export; docs/bulk-export.md) ---

    export_dir: str | None = None
    """Where bulk export files are written (a directory per job); unset, ``exports`` beside the
    SQLite file (``./data/exports`` with MongoDB). Several server processes must share it."""

    export_expire_seconds: int = Field(default=3600, ge=1)
    """How long a finished export's files stay downloadable; then the job and its files go."""

    export_lease_seconds: float = Field(default=30.0, gt=0)
    """How long a running export stays with its server process without news from it: after a
    crash, another process (or the restarted one) takes the job over after this long."""

    export_page_size: int = Field(default=1000, ge=1, le=10_000)
    """Resources an export reads per store query (and per saved step of its progress)."""

    # --- MedCom outbound messaging (medcom/outbox.py, medcom/delivery.py; docs/medcom.md) ---

    medcom_sender: str | None = None
    """The id of the Organization (in this server's store, with a SOR and an EAN/GLN identifier)
    that sends this deployment's MedCom messages; unset, no message can be built or sent."""

    medcom_endpoints: dict[str, str] = Field(default_factory=dict)
    """Receiving organization → where its messages go, keyed by the receiver's SOR code (or
    EAN/GLN): an ``http(s)://…/$process-message`` URL, or ``file:///dir`` for a VANS gateway's
    file drop directory. JSON in the environment:
    ``FHIR_MEDCOM_ENDPOINTS='{"330461000016004": "https://kommune.example.dk/fhir/$process-message"}'``."""

    medcom_endpoint_tokens: dict[str, str] = Field(default_factory=dict)
    """Optional bearer token per key of ``medcom_endpoints`` (an HTTP receiver that requires a
    backend-service token); never logged."""

    medcom_resend_seconds: float = Field(default=1800.0, gt=0)
    """Silence (no Acknowledgement) after which a message is sent again with a new Bundle.id
    (MedCom reliable messaging: 30 minutes)."""

    medcom_max_resends: int = Field(default=2, ge=0, le=2)
    """How many times a message is resent at most (MedCom: never more than twice); after the
    last one's silence it is ``failed``."""

    medcom_poll_seconds: float = Field(default=5.0, gt=0)
    """How often the delivery worker looks at the outbox."""

    medcom_delivery_timeout_seconds: float = Field(default=30.0, gt=0)
    """One delivery's HTTP timeout; also how long an attempt another worker claimed is left to
    it before this one takes it over (a crashed worker's attempt is delivered again, with the
    same Bundle.id, so the receiver sees a redelivery, never a second message)."""

    # --- Subscriptions (fhir_server/subscriptions; docs/subscriptions.md) ---

    subscriptions: bool = True
    """Whether the server journals changes of the topics' types and delivers notifications."""

    subscription_poll_seconds: float = Field(default=0.05, gt=0)
    """How often the delivery worker looks for journalled changes and undelivered events."""

    subscription_retry_seconds: float = Field(default=1.0, gt=0)
    """The first retry's delay after a failed delivery; doubled per failure up to
    ``subscription_retry_max_seconds``."""

    subscription_retry_max_seconds: float = Field(default=300.0, gt=0)

    subscription_keep_events: int = Field(default=1000, ge=1)
    """Delivered events kept per subscription for ``$events``."""


def console_base(settings: Settings) -> str:
    """The FHIR base the command line prints commands for and issues tokens for: ``base_url``
    (``FHIR_BASE_URL``), else the local server on ``PORT`` (what ``fhir-server serve`` and
    ``make serve`` listen on)."""
    if settings.base_url:
        return settings.base_url.rstrip("/")
    return f"http://127.0.0.1:{os.environ.get('PORT', '8080')}/fhir"
