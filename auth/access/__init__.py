"""Authorization as the interaction layer sees it: implementations of `fhir_server.access.Access`.

`scopes` decides by the access token's SMART scopes; `consent` (care relationship and the
citizen's consents) is composed here after the scopes' — both must permit — and the audit
(`auth.audit.AuditingAccess`) wraps the composition: it records what was admitted and keeps the
audit trail the server's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.access.consent import ConsentAccess, mode_of
from auth.access.scopes import ScopeAccess
from auth.audit import AuditingAccess, journal_for
from fhir_server.access import UNRESTRICTED, Access, Reader

if TYPE_CHECKING:
    from auth.principal import Principal


def access_for(principal: Principal, reader: Reader) -> Access:
    """The access a principal has, reading the store through ``reader``; audited when the
    settings say so (``FHIR_AUDIT``, on by default with authorization)."""
    audit = reader.settings.audit_enabled
    if principal.unrestricted:
        inner: Access = UNRESTRICTED.bind(reader)
        if not audit:
            return inner
    else:
        inner = ScopeAccess(principal, reader)
        mode = mode_of(principal)
        if mode is not None:
            inner = ConsentAccess(principal, reader, inner, mode)
    return AuditingAccess(inner, principal, reader, journal_for(reader.store) if audit else None)
