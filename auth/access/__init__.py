"""Authorization as the interaction layer sees it: implementations of `fhir_server.access.Access`.

`scopes` decides by the access token's SMART scopes; `consent` (care relationship and the
citizen's consents) is composed here after the scopes' — both must permit; audit wraps the
composition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.access.consent import ConsentAccess, mode_of
from auth.access.scopes import ScopeAccess
from fhir_server.access import UNRESTRICTED, Access, Reader

if TYPE_CHECKING:
    from auth.principal import Principal


def access_for(principal: Principal, reader: Reader) -> Access:
    """The access a principal has, reading the store through ``reader``."""
    if principal.unrestricted:
        return UNRESTRICTED.bind(reader)
    scopes = ScopeAccess(principal, reader)
    mode = mode_of(principal)
    return scopes if mode is None else ConsentAccess(principal, reader, scopes, mode)
