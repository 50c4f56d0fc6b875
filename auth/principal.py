"""Who is calling: the one seam through which identity and permissions enter every interaction.

Today the only mode is ``FHIR_AUTH=off``: every caller is the anonymous, all-permitted principal.
SMART-on-FHIR tokens and the cross-sector consent policy will build richer principals here, and
interactions ask the principal (never HTTP headers) what the caller may do.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    """Stable id of the caller (client id, user) — for audit, never a token or a CPR number."""
    scopes: frozenset[str] = field(default_factory=frozenset)
    unrestricted: bool = False
    """True only when authorization is switched off."""

    def may(self, interaction: str, type_: str | None) -> bool:
        """Whether the caller may perform ``interaction`` (read/create/…) on ``type_``."""
        return self.unrestricted


ANONYMOUS_UNRESTRICTED = Principal(subject="anonymous (FHIR_AUTH=off)", unrestricted=True)


def authenticate(mode: str, authorization: str | None) -> Principal:
    """Build the principal for a request; ``authorization`` is the raw Authorization header."""
    if mode == "off":
        return ANONYMOUS_UNRESTRICTED
    raise NotImplementedError(f"FHIR_AUTH={mode}")
