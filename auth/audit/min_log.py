""" "Min log": a citizen's (or a parent's) view of the AuditEvents about them.

A citizen reads their log as ``AuditEvent?patient=<me>``; the SMART scopes already confine a
citizen's token to their own compartment (and a relative's to the patient they act for), which
holds every AuditEvent naming the patient as an entity (or as the user). What FUT marks as
internal is hidden from them here: an AuditEvent labelled ``NotCitizen`` from the citizen, one
labelled ``NotGuardian`` from a relative (``RelatedPerson``). The server writes the label into
``meta.security`` as well as FUT's ``entity.securityLabel``, so the hiding is a search condition
(``_security:not``) pushed into the store query: counts and pages stay exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from auth.audit.events import NOT_CITIZEN, NOT_GUARDIAN, RESTRICTION
from fhir_server.search.terms import Filter, TokenValue
from fhir_server.stored import StoredResource

if TYPE_CHECKING:
    from auth.principal import Principal


def hidden_label(principal: Principal) -> str | None:
    """The restriction level that hides entries from this caller, if any."""
    user = principal.fhir_user or ""
    if user.startswith("Patient/"):
        return NOT_CITIZEN
    if user.startswith("RelatedPerson/"):
        return NOT_GUARDIAN
    return None


def restriction_filter(label: str) -> Filter:
    """Leaves out the AuditEvents carrying ``label``."""
    return Filter("_security", "token", (TokenValue(RESTRICTION, label),), "not")


def hides(principal: Principal, stored: StoredResource) -> bool:
    """Whether this AuditEvent is hidden from the caller by its restriction label."""
    label = hidden_label(principal)
    if label is None or stored.content is None:
        return False
    meta = orjson.loads(stored.content).get("meta") or {}
    return any(
        isinstance(c, dict) and c.get("system") == RESTRICTION and c.get("code") == label
        for c in meta.get("security") or ()
    )
