"""Which requested SMART scopes a client may be granted: its registered scopes cover them.

A registered ``patient/*.cruds`` covers ``patient/Observation.rs``, ``patient/CarePlan.read``
(v1) and ``patient/Observation.rs?category=laboratory``; a registered query-filtered scope covers
only the same filter. Anything that is not a well-formed SMART scope is never granted. This is
the grant-time policy of the authorization server; what a granted scope then permits on each
interaction is decided where the FHIR API enforces scopes (``auth.scopes``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

CONTEXT_SCOPES = frozenset(
    {
        "openid",
        "fhirUser",
        "profile",
        "launch",
        "launch/patient",
        "launch/encounter",
        "offline_access",
        "online_access",
    }
)
"""Scopes that are not resource permissions; granted only when registered literally."""

_RESOURCE = re.compile(
    r"^(?P<context>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]+)"
    r"\.(?P<perms>read|write|\*|c?r?u?d?s?)(?:\?(?P<query>.+))?$"
)
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}


@dataclass(frozen=True, slots=True)
class ResourceScope:
    context: str
    type: str
    perms: frozenset[str]
    query: str | None


@lru_cache(maxsize=1024)
def resource_scope(scope: str) -> ResourceScope | None:
    """The parts of a ``patient|user|system/Type.perms[?query]`` scope, or None."""
    m = _RESOURCE.match(scope)
    if m is None or m["perms"] == "":
        return None
    perms = _V1.get(m["perms"], m["perms"])
    return ResourceScope(m["context"], m["type"], frozenset(perms), m["query"])


def is_valid(scope: str) -> bool:
    return scope in CONTEXT_SCOPES or resource_scope(scope) is not None


def covers(registered: str, requested: str) -> bool:
    if requested in CONTEXT_SCOPES or registered in CONTEXT_SCOPES:
        return registered == requested
    have, want = resource_scope(registered), resource_scope(requested)
    if have is None or want is None:
        return False
    return (
        have.context == want.context
        and have.type in ("*", want.type)
        and want.perms <= have.perms
        and have.query in (None, want.query)
    )


def grantable(registered: tuple[str, ...], requested: list[str]) -> list[str]:
    """The requested scopes (in request order, without repeats) that some registered scope
    covers."""
    out: list[str] = []
    for scope in requested:
        if scope not in out and any(covers(r, scope) for r in registered):
            out.append(scope)
    return out


def patient_scopes(scopes: list[str]) -> bool:
    """Whether any granted scope is a ``patient/`` resource scope (needs a patient context)."""
    return any((s := resource_scope(x)) is not None and s.context == "patient" for x in scopes)
