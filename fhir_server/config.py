"""Settings read from the environment (prefix ``FHIR_``) — nothing connects at import time."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FHIR_", extra="ignore")

    store_url: str = "sqlite:///./data/fhir.db"
    """``sqlite:///path`` (embedded default) or ``mongodb://…`` (production)."""

    base_url: str | None = None
    """The public FHIR base (e.g. ``https://fhir.example.dk/fhir``) for Location headers, fullUrls
    and paging links; unset, it is taken from each request's Host header."""

    auth: Literal["off"] = "off"
    """Authorization mode. Only ``off`` exists today; SMART-on-FHIR becomes the default later."""

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
